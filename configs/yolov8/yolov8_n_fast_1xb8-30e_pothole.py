# YOLOv8-N on road potholes (the CWD student there): yolov8_s_fast_1xb8-30e_pothole.py at YOLOv8-N
# size. python tools/train.py configs/yolov8/yolov8_n_fast_1xb8-30e_pothole.py
_base_ = './yolov8_s_fast_1xb8-30e_pothole.py'

deepen_factor = 0.33
widen_factor = 0.25

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(head_module=dict(widen_factor=widen_factor)))
