# Localization distillation for YOLOv5 on a new dataset (road potholes): the demo recipe with
# the dataset's own LD-head configs.
# 1. Teacher: python tools/train.py configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_pothole.py
# 2. Distil:  python tools/train.py configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_pothole.py
_base_ = ['../yolov5/yolov5_n-ld-v61_fast_1xb8-30e_pothole.py', './_base_/ld_yolov5_head.py',
          './_base_/pr_metric.py']

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(
        cfg_path='{{fileDirname}}/../yolov5/yolov5_n-ld-v61_fast_1xb8-30e_pothole.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov5/yolov5_s-ld-v61_fast_1xb8-30e_pothole.py'),
    teacher_ckpt='work_dirs/yolov5_s-ld-v61_fast_1xb8-30e_pothole/epoch_30.pth',
    teacher_runs='head',
    distiller=_base_.ld_yolov5_distiller,
    distill_share=_base_.ld_distill_share)

val_evaluator = [_base_.val_evaluator, _base_.ld_pr_metric]
test_evaluator = val_evaluator

_base_.custom_hooks[0].ema_type = 'KDExpMomentumEMA'
