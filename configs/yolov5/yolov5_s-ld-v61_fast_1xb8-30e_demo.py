# YOLOv5-S with the localization-distillation head (KDYOLOv5LDHead: decoupled branches, each box
# edge a 16-bin distribution, DFL + CIoU, expectation decoding) on the built-in demo data.
# It trains alone as a detector: the teacher of configs/ld/ld_yolov5-s_yolov5-n_*_demo.py.
#   python tools/train.py configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py
_base_ = './yolov5_s-v61_fast_1xb8-30e_demo.py'

model = dict(
    bbox_head=dict(
        type='KDYOLOv5LDHead',
        head_module=dict(type='KDYOLOv5LDHeadModule')))
