# Localization distillation on COCO: YOLOv8-L teacher (MMYOLO's released COCO weights) ->
# YOLOv8-N student with MMYOLO's YOLOv8-N recipe (8 GPUs x 16 images, 500 epochs).
#   bash tools/dist_train.sh configs/ld/ld_yolov8-l_yolov8-n_8xb16-500e_coco.py 8
# Temperature sweep: tools/analysis/ld_sweep.py (docs/ld.md).
_base_ = ['../yolov8/yolov8_n_syncbn_fast_8xb16-500e_coco.py', './_base_/ld_yolov8_head.py',
          './_base_/pr_metric.py']

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_n_syncbn_fast_8xb16-500e_coco.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_l_syncbn_fast_8xb16-500e_coco.py'),
    teacher_ckpt='https://download.openmmlab.com/mmyolo/v0/yolov8/yolov8_l_syncbn_fast_8xb16-500e_coco/yolov8_l_syncbn_fast_8xb16-500e_coco_20230217_182526-189611b6.pth',  # noqa
    teacher_runs='head',
    distiller=_base_.ld_distiller)

val_evaluator = [_base_.val_evaluator, _base_.ld_pr_metric]
test_evaluator = val_evaluator

_base_.custom_hooks[0].ema_type = 'KDExpMomentumEMA'
