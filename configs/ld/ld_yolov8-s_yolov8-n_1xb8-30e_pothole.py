# Localization distillation on a new dataset (road potholes): the pattern to copy. Student and
# teacher are the dataset's own configs; everything else is the demo recipe.
# 1. Train the teacher: python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_pothole.py
# 2. Distil: python tools/train.py configs/ld/ld_yolov8-s_yolov8-n_1xb8-30e_pothole.py
_base_ = ['../yolov8/yolov8_n_fast_1xb8-30e_pothole.py', './_base_/ld_yolov8_head.py',
          './_base_/pr_metric.py']

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_n_fast_1xb8-30e_pothole.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_s_fast_1xb8-30e_pothole.py'),
    teacher_ckpt='work_dirs/yolov8_s_fast_1xb8-30e_pothole/epoch_30.pth',
    teacher_runs='head',
    distiller=_base_.ld_distiller,
    distill_share=_base_.ld_distill_share)

val_evaluator = [_base_.val_evaluator, _base_.ld_pr_metric]
test_evaluator = val_evaluator

_base_.custom_hooks[0].ema_type = 'KDExpMomentumEMA'
