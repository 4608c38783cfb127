# YOLOv5-S with the LD head (KDYOLOv5LDHead) on the COCO 6000-image subset: the LD student's
# architecture trained alone (separates the head's effect from distillation's).
_base_ = './yolov5_s-v61_syncbn_fast_8xb16-300e_coco6k.py'

model = dict(
    bbox_head=dict(
        type='KDYOLOv5LDHead',
        head_module=dict(type='KDYOLOv5LDHeadModule')))
