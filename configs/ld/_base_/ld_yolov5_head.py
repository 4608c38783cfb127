# The LD distiller shared by the YOLOv5 configs in configs/ld/: teacher and student both use
# KDYOLOv5LDHead (configs/yolov5/yolov5_*-ld-*.py). Recorded: both heads' head_module outputs
# (class logits, edge logits, objectness logits per level) and the ground truth the student
# head's loss_by_feat receives (item 3 of its inputs). KDR = YOLOv5's positives, ELR = other
# anchors overlapping a ground-truth box (docs/ld.md). Anchors, strides, thresholds, the
# objectness level weights and the cls / obj KD loss weights come from the student head
# (KDYOLOTeacherDistill binds them); the classification KD scales the student's own loss_cls
# by (1 - gamma), so gamma = 0 and epsilon = 0 give the plain student.
# The algorithm must run the teacher's head: KDYOLOTeacherDistill(teacher_runs='head').
# The distillation kept at this share of the total loss by the small-data configs (demo,
# pothole) (project's choice, docs/custom_dataset.md: on potholes and hard hats it beat the
# baseline at every paired seed, +2.9 and +1.2 points mAP50-95 on average, where the configured
# weights alone gave +0.6 and +0.8); None: the loss weights as configured. The COCO config keeps
# the paper's weights.
ld_distill_share = 0.3

_head = 'kd_plugins.models.heads.yolov5_ld_head.KDYOLOv5LDHead.loss_by_feat'
ld_yolov5_distiller = dict(
    type='KDConfigurableDistiller',
    student_recorders=dict(
        head=dict(type='ModuleOutputs', source='bbox_head.head_module'),
        gt=dict(type='MethodInputs', source=_head)),
    teacher_recorders=dict(head=dict(type='ModuleOutputs', source='bbox_head.head_module')),
    distill_losses=dict(
        loss_ld=dict(type='KDYOLOv5LDLoss', temperature=10.0, kdr_weight=1.0, elr_weight=0.5,
                     elr_iou_thr=0.3, loss_weight=0.01),
        # gamma * KD + (1 - gamma) * CE(labels): the label part is the student head's own
        # loss_cls, whose weight the algorithm multiplies by 1 - gamma at build time (logged)
        loss_cls_kd=dict(type='KDYOLOv5ClsKDLoss', gamma=0.5, temperature=1.0,
                         scale_student_label_loss=True),
        loss_obj_kd=dict(type='KDYOLOv5ObjKDLoss', epsilon=1.0)),
    loss_forward_mappings=dict(
        loss_ld=dict(
            preds_S=dict(from_student=True, recorder='head', data_idx=1),
            preds_T=dict(from_student=False, recorder='head', data_idx=1),
            gt=dict(from_student=True, recorder='gt', data_idx=3)),
        loss_cls_kd=dict(
            preds_S=dict(from_student=True, recorder='head', data_idx=0),
            preds_T=dict(from_student=False, recorder='head', data_idx=0),
            gt=dict(from_student=True, recorder='gt', data_idx=3)),
        loss_obj_kd=dict(
            preds_S=dict(from_student=True, recorder='head', data_idx=2),
            preds_T=dict(from_student=False, recorder='head', data_idx=2))))
