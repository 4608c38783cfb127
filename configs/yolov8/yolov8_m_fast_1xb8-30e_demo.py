# YOLOv8-M on the built-in demo dataset (CPU-sized); see yolov8_s_fast_1xb8-30e_demo.py.
_base_ = './yolov8_s_fast_1xb8-30e_demo.py'

deepen_factor = 0.67
widen_factor = 0.75
last_stage_out_channels = 768

model = dict(
    backbone=dict(
        last_stage_out_channels=last_stage_out_channels,
        deepen_factor=deepen_factor,
        widen_factor=widen_factor),
    neck=dict(
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        in_channels=[256, 512, last_stage_out_channels],
        out_channels=[256, 512, last_stage_out_channels]),
    bbox_head=dict(
        head_module=dict(
            widen_factor=widen_factor,
            in_channels=[256, 512, last_stage_out_channels])))
