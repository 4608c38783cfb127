# YOLOv5-S with the LD head on road potholes: the teacher of
# configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_pothole.py.
#   python tools/train.py configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_pothole.py
_base_ = './yolov5_n-ld-v61_fast_1xb8-30e_pothole.py'

deepen_factor = 0.33
widen_factor = 0.5

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(head_module=dict(widen_factor=widen_factor)))
