# Channel-wise distillation on COCO for YOLOv5: YOLOv5-L teacher (MMYOLO's released COCO weights)
# -> YOLOv5-S student, CWD on the three YOLOv5PAFPN outputs with Wang et al.'s settings (tau 0.5,
# weight 1, Adam lr 0.001, beta1 0.9) and MMYOLO's YOLOv5-S schedule (300 epochs, 8x16).
#   bash tools/dist_train.sh configs/cwd/cwd_fpn_yolov5-l_yolov5-s_8xb16-300e_coco.py 8
_base_ = ['../yolov5/yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py', './_base_/cwd_yolo_neck.py']

student_channels = [128, 256, 512]  # YOLOv5-S neck outputs (widen 0.5)
teacher_channels = [256, 512, 1024]  # YOLOv5-L neck outputs (widen 1.0)

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(
        cfg_path='{{fileDirname}}/../yolov5/yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov5/yolov5_l-v61_syncbn_fast_8xb16-300e_coco.py'),
    teacher_ckpt='https://download.openmmlab.com/mmyolo/v0/yolov5/yolov5_l-v61_syncbn_fast_8xb16-300e_coco/yolov5_l-v61_syncbn_fast_8xb16-300e_coco_20220917_031007-096ef0eb.pth',  # noqa
    distiller=dict(
        connectors={
            f's{i}': dict(type='KDChannelProjector', student_channels=s, teacher_channels=t)
            for i, (s, t) in enumerate(zip(student_channels, teacher_channels))
        },
        **_base_.cwd_distiller))

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
