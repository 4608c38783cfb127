# YOLOv5-N with the localization-distillation head on the demo data (the LD student's
# architecture; trained alone it separates the head's effect from distillation's).
_base_ = './yolov5_s-ld-v61_fast_1xb8-30e_demo.py'

deepen_factor = 0.33
widen_factor = 0.25

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(head_module=dict(widen_factor=widen_factor)))
