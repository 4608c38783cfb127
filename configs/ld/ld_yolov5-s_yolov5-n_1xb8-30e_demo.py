# Localization distillation for YOLOv5 on the demo data (CPU-sized): YOLOv5-S teacher ->
# YOLOv5-N student, both with the LD head (KDYOLOv5LDHead: each box edge a 16-bin distribution).
# Losses (./_base_/ld_yolov5_head.py, docs/ld.md): LD in KDR + ELR (temperature T), classification
# KD in the KDR (gamma, T = 1), objectness KD (epsilon).
# 1. Train the teacher: python tools/train.py configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py
# Temperature sweep (Table 2 of G. Huang et al., arXiv:2410.12259): tools/analysis/ld_sweep.py,
# see docs/ld.md.
_base_ = ['../yolov5/yolov5_n-ld-v61_fast_1xb8-30e_demo.py', './_base_/ld_yolov5_head.py',
          './_base_/pr_metric.py']

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(cfg_path='{{fileDirname}}/../yolov5/yolov5_n-ld-v61_fast_1xb8-30e_demo.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py'),
    teacher_ckpt='work_dirs/yolov5_s-ld-v61_fast_1xb8-30e_demo/epoch_30.pth',
    teacher_runs='head',  # edge distributions, class and objectness logits of the teacher
    distiller=_base_.ld_yolov5_distiller,
    distill_share=_base_.ld_distill_share)

val_evaluator = [_base_.val_evaluator, _base_.ld_pr_metric]
test_evaluator = val_evaluator

# EMA of the student only (the frozen teacher is shared, not copied/averaged).
_base_.custom_hooks[0].ema_type = 'KDExpMomentumEMA'
