# Localization distillation on the demo data (CPU-sized): YOLOv8-S teacher -> YOLOv8-N student.
# YOLOv8's head predicts each box edge as a 16-bin distribution (DFL); LD distils the teacher's
# distributions into the student's in the key regions (the student's positives) and the
# expandable regions around the ground truth (docs/ld.md). Distiller: ./_base_/ld_yolov8_head.py.
# 1. Train the teacher: python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/ld/ld_yolov8-s_yolov8-n_1xb8-30e_demo.py
_base_ = ['../yolov8/yolov8_n_fast_1xb8-30e_demo.py', './_base_/ld_yolov8_head.py',
          './_base_/pr_metric.py']

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_n_fast_1xb8-30e_demo.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_s_fast_1xb8-30e_demo.py'),
    teacher_ckpt='work_dirs/yolov8_s_fast_1xb8-30e_demo/epoch_30.pth',
    teacher_runs='head',  # the teacher's edge distributions come from its head
    distiller=_base_.ld_distiller,
    distill_share=_base_.ld_distill_share)

val_evaluator = [_base_.val_evaluator, _base_.ld_pr_metric]
test_evaluator = val_evaluator

# EMA of the student only (the frozen teacher is shared, not copied/averaged).
_base_.custom_hooks[0].ema_type = 'KDExpMomentumEMA'
