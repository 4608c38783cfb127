# Channel-wise distillation on COCO (this project's extension: Wang et al., "Enhanced Knowledge
# Distillation for YOLO via Attention Mechanisms in Smart City Applications", train on
# smart-city data, not COCO) with their models and settings: YOLOv8-L teacher (fine-tuned 50
# epochs, configs/yolov8/yolov8_l_syncbn_fast_8xb16-50e_coco-finetune.py) -> YOLOv8-N student,
# CWD on the three neck outputs with tau 0.5 and weight 1, Adam (lr 0.001, beta1 0.9). Wang et al.
# do not give the student's schedule; this keeps MMYOLO's YOLOv8-N recipe (500 epochs, 8x16).
#   bash tools/dist_train.sh configs/cwd/cwd_fpn_yolov8-l_yolov8-n_8xb16-500e_coco.py 8
_base_ = ['../yolov8/yolov8_n_syncbn_fast_8xb16-500e_coco.py', './_base_/cwd_yolo_neck.py']

student_channels = [64, 128, 256]  # YOLOv8-N neck outputs (widen 0.25)
teacher_channels = [256, 512, 512]  # YOLOv8-L neck outputs (widen 1.0, last stage 512)

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_n_syncbn_fast_8xb16-500e_coco.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_l_syncbn_fast_8xb16-500e_coco.py'),
    teacher_ckpt='work_dirs/yolov8_l_syncbn_fast_8xb16-50e_coco-finetune/epoch_50.pth',
    distiller=dict(
        connectors={
            f's{i}': dict(type='KDChannelProjector', student_channels=s, teacher_channels=t)
            for i, (s, t) in enumerate(zip(student_channels, teacher_channels))
        },
        **_base_.cwd_distiller))

# Wang et al.'s optimiser. YOLOv5OptimizerConstructor keeps MMYOLO's parameter groups (no weight
# decay on norms and biases, decay scaled to the total batch size).
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='Adam',
        lr=0.001,
        betas=(0.9, 0.999),
        weight_decay=0.0005,
        batch_size_per_gpu=_base_.train_batch_size_per_gpu))

# EMA of the student and connectors only (the frozen teacher is shared, not copied/averaged).
_base_.custom_hooks[0].ema_type = 'KDExpMomentumEMA'
find_unused_parameters = True
