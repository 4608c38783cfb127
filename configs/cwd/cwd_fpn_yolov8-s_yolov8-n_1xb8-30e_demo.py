# Channel-wise distillation on the demo data (CPU-sized): YOLOv8-S teacher -> YOLOv8-N student,
# CWD on the three neck outputs, student maps projected to the teacher's width (1x1 conv + BN).
# 1. Train the teacher:  python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py
# 2. Distil:             python tools/train.py configs/cwd/cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py
_base_ = '../yolov8/yolov8_n_fast_1xb8-30e_demo.py'  # student: data, schedule, hooks

# ========================Frequently modified parameters======================
student_cfg = '{{fileDirname}}/../yolov8/yolov8_n_fast_1xb8-30e_demo.py'
teacher_cfg = '{{fileDirname}}/../yolov8/yolov8_s_fast_1xb8-30e_demo.py'
teacher_ckpt = 'work_dirs/yolov8_s_fast_1xb8-30e_demo/epoch_30.pth'
student_channels = [64, 128, 256]  # YOLOv8-N neck outputs (widen 0.25)
teacher_channels = [128, 256, 512]  # YOLOv8-S neck outputs (widen 0.5)
tau = 0.5  # the paper's temperature
distill_weight = 1.0
normalize = 'tau'  # or 'sqrt_hw' (the paper's Eq. 1), see KDChannelWiseDivergence
# ============================================================================

levels = range(len(student_channels))
connectors = {
    f's{i}': dict(type='KDChannelProjector', student_channels=student_channels[i],
                  teacher_channels=teacher_channels[i])
    for i in levels
}

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(cfg_path=student_cfg),
    teacher=dict(cfg_path=teacher_cfg),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='KDConfigurableDistiller',
        student_recorders={
            f'neck{i}': dict(type='ModuleOutputs', source=f'neck.out_layers.{i}')
            for i in levels
        },
        teacher_recorders={
            f'neck{i}': dict(type='ModuleOutputs', source=f'neck.out_layers.{i}')
            for i in levels
        },
        connectors=connectors,
        distill_losses={
            f'loss_cwd{i}': dict(type='KDChannelWiseDivergence', tau=tau,
                                 loss_weight=distill_weight, normalize=normalize)
            for i in levels
        },
        loss_forward_mappings={
            f'loss_cwd{i}': dict(
                preds_S=dict(from_student=True, recorder=f'neck{i}', connector=f's{i}'),
                preds_T=dict(from_student=False, recorder=f'neck{i}'))
            for i in levels
        }))

find_unused_parameters = True
