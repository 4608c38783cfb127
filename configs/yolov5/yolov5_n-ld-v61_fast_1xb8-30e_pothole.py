# YOLOv5-N with the LD head on road potholes (the LD student; data set-up:
# ./yolov5_n-v61_fast_1xb8-30e_pothole.py).
_base_ = './yolov5_n-v61_fast_1xb8-30e_pothole.py'

model = dict(
    bbox_head=dict(
        type='KDYOLOv5LDHead',
        head_module=dict(type='KDYOLOv5LDHeadModule')))
