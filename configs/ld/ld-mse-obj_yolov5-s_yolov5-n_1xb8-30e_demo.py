# The demo LD distillation (./ld_yolov5-s_yolov5-n_1xb8-30e_demo.py) with Huang et al.'s literal
# objectness loss, L_obj = MSE(O_S, y) + epsilon * MSE(O_S, O_T) (G. Huang et al., "Optimizing
# YOLOv5s Object Detection through Knowledge Distillation algorithm", arXiv:2410.12259): the
# student's own objectness loss becomes the squared error of its objectness probability against
# YOLOv5's IoU targets (SigmoidMSELoss) instead of YOLOv5's binary cross-entropy; the KD term
# (KDYOLOv5ObjKDLoss, epsilon) is unchanged. Its weight stays YOLOv5's objectness weight (the
# paper gives none: the project's choice). The teacher keeps the cross-entropy it was trained
# with. Compare against a baseline trained with the same label loss (docs/ld.md).
#   python tools/train.py configs/ld/ld-mse-obj_yolov5-s_yolov5-n_1xb8-30e_demo.py
_base_ = './ld_yolov5-s_yolov5-n_1xb8-30e_demo.py'

model = dict(
    architecture=dict(bbox_head=dict(loss_obj=dict(
        _delete_=True, type='SigmoidMSELoss', reduction='mean',
        loss_weight=1.0 * ((_base_.img_scale[0] / 640)**2)))))
