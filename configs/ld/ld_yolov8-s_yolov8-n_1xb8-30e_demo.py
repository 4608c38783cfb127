# Localization distillation on the demo data (CPU-sized): YOLOv8-S teacher -> YOLOv8-N student.
# YOLOv8's head predicts each box edge as a 16-bin distribution (DFL); LD distils the teacher's
# distributions into the student's in the key regions (the student's positives) and the
# expandable regions around the ground truth (docs/ld.md).
# 1. Train the teacher: python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/ld/ld_yolov8-s_yolov8-n_1xb8-30e_demo.py
_base_ = '../yolov8/yolov8_n_fast_1xb8-30e_demo.py'

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='KDYOLOTeacherDistill',
    architecture=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_n_fast_1xb8-30e_demo.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov8/yolov8_s_fast_1xb8-30e_demo.py'),
    teacher_ckpt='work_dirs/yolov8_s_fast_1xb8-30e_demo/epoch_30.pth',
    teacher_runs='head',  # the teacher's edge distributions come from its head
    distiller=dict(
        type='KDConfigurableDistiller',
        student_recorders=dict(
            head=dict(type='ModuleOutputs', source='bbox_head.head_module'),
            assign_in=dict(type='ModuleInputs', source='bbox_head.assigner'),
            assign_out=dict(type='ModuleOutputs', source='bbox_head.assigner')),
        teacher_recorders=dict(head=dict(type='ModuleOutputs', source='bbox_head.head_module')),
        distill_losses=dict(
            loss_ld=dict(type='KDDenseLDLoss', temperature=10.0, kdr_weight=1.0,
                         elr_weight=0.5, elr_iou_thr=0.3, prior_scale=4.0, loss_weight=1.0)),
        loss_forward_mappings=dict(
            loss_ld=dict(
                # head_module outputs (cls, bbox, edge logits): item 2, one tensor per level
                preds_S=dict(from_student=True, recorder='head', data_idx=2),
                preds_T=dict(from_student=False, recorder='head', data_idx=2),
                # the assigner's call: (pred_bboxes, pred_scores, priors, gt_labels, gt_bboxes,
                # pad_bbox_flag) -> dict with fg_mask_pre_prior
                priors=dict(from_student=True, recorder='assign_in', data_idx=2),
                gt_bboxes=dict(from_student=True, recorder='assign_in', data_idx=4),
                pad_flag=dict(from_student=True, recorder='assign_in', data_idx=5),
                assigned=dict(from_student=True, recorder='assign_out')))))

# COCO mAP, and precision / recall at a stated score and IoU threshold (the paper's Table 2).
val_evaluator = [
    _base_.val_evaluator,
    dict(type='KDPrecisionRecallMetric', score_thr=0.25, iou_thr=0.5),
]
test_evaluator = val_evaluator

# EMA of the student only (the frozen teacher is shared, not copied/averaged).
_base_.custom_hooks[0].ema_type = 'KDExpMomentumEMA'
