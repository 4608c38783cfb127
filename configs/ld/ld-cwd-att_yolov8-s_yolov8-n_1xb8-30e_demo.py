# LD + CWD with attention in one student (YOLOv8, demo data, CPU-sized): YOLOv8-S teacher ->
# YOLOv8-N student, distilled at the head (LD of the box-edge distributions:
# ld_yolov8-s_yolov8-n_1xb8-30e_demo.py) and at the neck (CWD + attention:
# ../cwd/cwd-att_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py) at once, as PP-YOLOE's distillation
# combines logit and feature terms. Both parts keep their own weights; the combination's weights
# are not tuned; distill_share=0.3 (from the LD config) keeps their sum at 0.3 of the loss.
# On the potholes (3 paired seeds) above the student alone at every seed, below CWD+attention
# alone from the same teacher at every seed: opt-in (docs/ld.md, "LD + CWD in one student").
# 1. Train the teacher: python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/ld/ld-cwd-att_yolov8-s_yolov8-n_1xb8-30e_demo.py
_base_ = ['./ld_yolov8-s_yolov8-n_1xb8-30e_demo.py', './_base_/cwd_att_neck_s_n.py']

# merged into the LD distiller: its recorders, losses and mappings stay
model = dict(distiller=_base_.cwd_att_neck)

find_unused_parameters = True
