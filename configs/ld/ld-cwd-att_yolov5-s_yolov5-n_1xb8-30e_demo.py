# LD + CWD with attention in one student (YOLOv5, demo data, CPU-sized): the LD-head YOLOv5-S
# teacher -> an LD-head YOLOv5-N student, distilled at the head (LD, classification and
# objectness KD: ld_yolov5-s_yolov5-n_1xb8-30e_demo.py) and at the neck (CWD + attention:
# ../cwd/cwd-att_fpn_yolov5-s-ld_yolov5-n-ld_1xb8-30e_demo.py) at once, as PP-YOLOE's
# distillation combines logit and feature terms. Both parts keep their own weights; the
# combination's weights are not tuned (docs/ld.md, "LD + CWD in one student").
# 1. Train the teacher: python tools/train.py configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/ld/ld-cwd-att_yolov5-s_yolov5-n_1xb8-30e_demo.py
_base_ = ['./ld_yolov5-s_yolov5-n_1xb8-30e_demo.py', './_base_/cwd_att_neck_s_n.py']

# merged into the LD distiller: its recorders, losses and mappings stay
model = dict(distiller=_base_.cwd_att_neck)

find_unused_parameters = True
