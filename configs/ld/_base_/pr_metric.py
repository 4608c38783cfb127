# COCO mAP (the metric of Huang et al.'s Table 2), and beside it precision / recall at a stated
# score and IoU threshold (this project's addition, not a column of that table);
# a config inheriting this base sets: val_evaluator = [_base_.val_evaluator, _base_.ld_pr_metric]
ld_pr_metric = dict(type='DetPrecisionRecallMetric', score_thr=0.25, iou_thr=0.5)
