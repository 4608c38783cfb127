# LD + classification KD on the YOLOv8 head (demo data, CPU-sized): YOLOv8-S teacher -> YOLOv8-N
# student. ld_yolov8-s_yolov8-n_1xb8-30e_demo.py (LD of the box-edge distributions) with Huang et
# al.'s classification KD beside it, as the YOLOv5 LD configs have: gamma * KD + (1 - gamma) *
# CE(labels) in the key regions (the student's positives); the label part is the student head's
# own loss_cls, whose weight the algorithm multiplies by 1 - gamma (logged). gamma 0.5 and
# T = 1 are the YOLOv5 LD configs' values (configs/ld/_base_/ld_yolov5_head.py); KDDenseClsKDLoss
# says which normalisers it chose for YOLOv8. distill_share=0.3 (from the LD config) keeps LD and
# the classification KD together at 0.3 of the loss. On the potholes (3 paired seeds) above the
# student alone at every seed, below CWD+attention from the same teacher at every seed: opt-in
# (docs/ld.md, "YOLOv8 LD + classification KD on the potholes").
# 1. Train the teacher: python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/ld/ld-clskd_yolov8-s_yolov8-n_1xb8-30e_demo.py
_base_ = './ld_yolov8-s_yolov8-n_1xb8-30e_demo.py'

model = dict(
    distiller=dict(  # merged into the LD distiller: the recorders are already there
        distill_losses=dict(
            loss_cls_kd=dict(type='KDDenseClsKDLoss', gamma=0.5, temperature=1.0,
                             scale_student_label_loss=True)),
        loss_forward_mappings=dict(
            loss_cls_kd=dict(
                preds_S=dict(from_student=True, recorder='head', data_idx=0),
                preds_T=dict(from_student=False, recorder='head', data_idx=0),
                assigned=dict(from_student=True, recorder='assign_out')))))
