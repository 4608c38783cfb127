# LD for YOLOv5 with the student's own classification loss kept at its full weight (demo data,
# CPU-sized). G. Huang et al.'s classification loss is gamma * KD + (1 - gamma) * CE(labels): with
# gamma 0.5, ld_yolov5-s_yolov5-n_1xb8-30e_demo.py halves the student head's own loss_cls. Here
# the label part keeps its full weight and the KD term is added beside it, as LD's other terms
# are (scale_student_label_loss=False; project's choice, not the paper's reading): on the
# 4-class hard hats LD started slowly with half the labels' weight (docs/ld.md). With one
# class YOLOv5's loss_cls is zero and this config trains as the ld one does.
# 1. Train the teacher: python tools/train.py configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/ld/ld-full-labels_yolov5-s_yolov5-n_1xb8-30e_demo.py
_base_ = ['./ld_yolov5-s_yolov5-n_1xb8-30e_demo.py']

model = dict(
    distiller=dict(distill_losses=dict(loss_cls_kd=dict(scale_student_label_loss=False))))
