# LD + CWD with attention in one student, each part kept at its own share of the total loss
# (YOLOv5, demo data, CPU-sized). ld-cwd-att_yolov5-s_yolov5-n_1xb8-30e_demo.py keeps the whole
# distillation at LD's 0.3; there CWD's three neck terms took most of it (LD's term 12-21 % of
# the distillation on potholes, docs/ld.md). Here the head part (LD, classification and
# objectness KD) keeps LD's own share, as in ld_yolov5-s_yolov5-n_1xb8-30e_demo.py, and the neck
# part (CWD + attention) is added beside it at a smaller one (KDYOLOTeacherDistill's
# distill_share per part; the 0.1 is the project's choice, neither paper combines the two).
# 1. Train the teacher: python tools/train.py configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/ld/ld-cwd-att-parts_yolov5-s_yolov5-n_1xb8-30e_demo.py
_base_ = ['./ld-cwd-att_yolov5-s_yolov5-n_1xb8-30e_demo.py']

cwd_part_share = 0.1
model = dict(
    distill_share=dict(
        _delete_=True,  # (replaces the base's one share)
        head=dict(share=_base_.ld_distill_share,
                  losses=['loss_ld', 'loss_cls_kd', 'loss_obj_kd']),
        neck=dict(share=cwd_part_share, losses=['loss_cwd'])))
