# YOLOv5-L with the LD head on the COCO 6000-image subset: the teacher of
# configs/ld/ld_yolov5-l_yolov5-s_8xb16-300e_coco6k_T*.py (MMYOLO's released YOLOv5-L has the
# stock head, so the LD teacher is trained here on the same subset).
#   bash tools/dist_train.sh configs/yolov5/yolov5_l-ld-v61_syncbn_fast_8xb16-300e_coco6k.py 8
_base_ = './yolov5_s-ld-v61_syncbn_fast_8xb16-300e_coco6k.py'

deepen_factor = 1.0
widen_factor = 1.0

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(head_module=dict(widen_factor=widen_factor)))
