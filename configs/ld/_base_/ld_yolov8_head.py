# The LD distiller shared by the YOLOv8 configs in configs/ld/: the student's and the teacher's
# box-edge distributions (YOLOv8's DFL logits, item 2 of bbox_head.head_module's outputs, one
# (B, HW, 4, 16) tensor per level) and the student's own assigner call, from which
# KDDenseLDLoss takes the key regions (the positives) and the expandable regions (docs/ld.md).
# The algorithm must run the teacher's head: KDYOLOTeacherDistill(teacher_runs='head').
# The distillation kept at this share of the total loss by the small-data configs (demo,
# pothole), as YOLOv5 LD's (project's choice, docs/custom_dataset.md: on potholes +6.7 points
# mAP50-95 over the baseline on average, above it at every paired seed); None: the loss weights
# as configured. The COCO config keeps the paper's weights.
ld_distill_share = 0.3

ld_distiller = dict(
    type='KDConfigurableDistiller',
    student_recorders=dict(
        head=dict(type='ModuleOutputs', source='bbox_head.head_module'),
        assign_in=dict(type='ModuleInputs', source='bbox_head.assigner'),
        assign_out=dict(type='ModuleOutputs', source='bbox_head.assigner')),
    teacher_recorders=dict(head=dict(type='ModuleOutputs', source='bbox_head.head_module')),
    distill_losses=dict(
        loss_ld=dict(type='KDDenseLDLoss', temperature=10.0, kdr_weight=1.0, elr_weight=0.5,
                     elr_iou_thr=0.3, prior_scale=4.0, loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_ld=dict(
            preds_S=dict(from_student=True, recorder='head', data_idx=2),
            preds_T=dict(from_student=False, recorder='head', data_idx=2),
            # the assigner's call: (pred_bboxes, pred_scores, priors, gt_labels, gt_bboxes,
            # pad_bbox_flag) -> dict with fg_mask_pre_prior
            priors=dict(from_student=True, recorder='assign_in', data_idx=2),
            gt_bboxes=dict(from_student=True, recorder='assign_in', data_idx=4),
            pad_flag=dict(from_student=True, recorder='assign_in', data_idx=5),
            assigned=dict(from_student=True, recorder='assign_out'))))
