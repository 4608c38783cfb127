# Localization distillation as in G. Huang et al., "Optimizing YOLOv5s Object Detection through
# Knowledge Distillation algorithm" (arXiv:2410.12259): YOLOv5-L teacher -> YOLOv5-S student, both
# with the LD head, on the COCO 6000-image subset (8:1:1), 300 epochs, warm-up + cosine, best
# val-mAP checkpoint, no early stopping (the student's schedule:
# configs/yolov5/yolov5_s-v61_syncbn_fast_8xb16-300e_coco6k.py, which also makes the subset). One
# config per temperature of Huang et al.'s Table 2:
# ./ld_yolov5-l_yolov5-s_8xb16-300e_coco6k_T{25,30,35,40,45}.py; the baseline row is the plain
# YOLOv5-S config above (and the LD-head YOLOv5-S alone, for the head's own effect).
# 1. Teacher:
#      bash tools/dist_train.sh configs/yolov5/yolov5_l-ld-v61_syncbn_fast_8xb16-300e_coco6k.py 8
#    then link its best checkpoint as teacher.pth in its work dir (or pass
#    --cfg-options model.teacher_ckpt=<path>):
#      cd work_dirs/yolov5_l-ld-v61_syncbn_fast_8xb16-300e_coco6k
#      ln -s best_coco_bbox_mAP_epoch_<N>.pth teacher.pth
# 2. Distil:  bash tools/dist_train.sh configs/ld/ld_yolov5-l_yolov5-s_8xb16-300e_coco6k_T25.py 8
# The temperature (both LD and the classification KD) is set by the T configs.
_base_ = ['../yolov5/yolov5_s-ld-v61_syncbn_fast_8xb16-300e_coco6k.py',
          './_base_/ld_yolov5_head.py', './_base_/pr_metric.py']

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(
        cfg_path='{{fileDirname}}/../yolov5/yolov5_s-ld-v61_syncbn_fast_8xb16-300e_coco6k.py'),
    teacher=dict(
        cfg_path='{{fileDirname}}/../yolov5/yolov5_l-ld-v61_syncbn_fast_8xb16-300e_coco6k.py'),
    teacher_ckpt='work_dirs/yolov5_l-ld-v61_syncbn_fast_8xb16-300e_coco6k/teacher.pth',
    teacher_runs='head',
    distiller=_base_.ld_yolov5_distiller)

val_evaluator = [_base_.val_evaluator, _base_.ld_pr_metric]
test_evaluator = [_base_.test_evaluator, _base_.ld_pr_metric]

_base_.custom_hooks[0].ema_type = 'KDExpMomentumEMA'
