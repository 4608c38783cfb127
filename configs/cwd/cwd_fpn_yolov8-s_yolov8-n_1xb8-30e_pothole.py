# Channel-wise distillation on a new dataset (road potholes): the pattern to copy. Student and
# teacher are the dataset's own configs; everything else is the demo recipe.
# 1. Train the teacher: python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_pothole.py
# 2. Distil: python tools/train.py configs/cwd/cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_pothole.py
_base_ = ['../yolov8/yolov8_n_fast_1xb8-30e_pothole.py', './_base_/cwd_yolo_neck.py']

student_channels = [64, 128, 256]  # YOLOv8-N neck outputs
teacher_channels = [128, 256, 512]  # YOLOv8-S neck outputs

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_n_fast_1xb8-30e_pothole.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_s_fast_1xb8-30e_pothole.py'),
    teacher_ckpt='work_dirs/yolov8_s_fast_1xb8-30e_pothole/epoch_30.pth',
    distill_share=_base_.cwd_yolov8_distill_share,  # see _base_/cwd_yolo_neck.py
    distiller=dict(
        connectors={
            f's{i}': dict(type='KDChannelProjector', student_channels=s, teacher_channels=t)
            for i, (s, t) in enumerate(zip(student_channels, teacher_channels))
        },
        **_base_.cwd_distiller))

# EMA of the student and connectors only (the frozen teacher is shared, not copied/averaged).
_base_.custom_hooks[0].ema_type = 'KDExpMomentumEMA'
find_unused_parameters = True
