# LD + CWD with attention in one student (YOLOv8, demo data, CPU-sized): YOLOv8-S teacher ->
# YOLOv8-N student, distilled at the head (LD of the box-edge distributions:
# ld_yolov8-s_yolov8-n_1xb8-30e_demo.py) and at the neck (CWD + attention:
# ../cwd/cwd-att_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py) at once, as PP-YOLOE's distillation
# combines logit and feature terms. Both parts keep their own weights; the combination's weights
# are not tuned (docs/ld.md, "LD + CWD in one student").
# 1. Train the teacher: python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/ld/ld-cwd-att_yolov8-s_yolov8-n_1xb8-30e_demo.py
_base_ = ['./ld_yolov8-s_yolov8-n_1xb8-30e_demo.py', '../cwd/_base_/cwd_yolo_neck.py']

student_channels = [64, 128, 256]  # YOLOv8-N neck outputs (widen 0.25)
teacher_channels = [128, 256, 512]  # YOLOv8-S neck outputs (widen 0.5)

model = dict(
    distiller=dict(  # merged into the LD distiller: its recorders, losses and mappings stay
        connectors={
            f's{i}': [  # MMRazor applies a list of connectors in order
                dict(type='KDChannelProjector', student_channels=s, teacher_channels=t),
                dict(type='KDChannelAttention', channels=t),
                dict(type='KDSpatialAttention', kernel_size=7),
            ]
            for i, (s, t) in enumerate(zip(student_channels, teacher_channels))
        },
        student_recorders=_base_.cwd_distiller.student_recorders,
        teacher_recorders=_base_.cwd_distiller.teacher_recorders,
        distill_losses=_base_.cwd_distiller.distill_losses,
        loss_forward_mappings=_base_.cwd_distiller.loss_forward_mappings))

find_unused_parameters = True
