# CWD + attention from the LD-head YOLOv5-S teacher to a stock YOLOv5-N, on the demo data.
# The main job (tools/run_demo.py) trains one teacher for both of its distillation methods: CWD
# reads only the teacher's neck outputs, which the LD head (configs/yolov5/yolov5-ld_s-*) leaves
# exactly as in YOLOv5-S (128/256/512 channels), so this is
# cwd-att_fpn_yolov5-s_yolov5-n_1xb8-30e_demo.py with that teacher swapped in.
# 1. Train the teacher: python tools/train.py configs/yolov5/yolov5-ld_s-v61_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/cwd/cwd-att_fpn_yolov5-ld_s_yolov5-n_1xb8-30e_demo.py
_base_ = './cwd-att_fpn_yolov5-s_yolov5-n_1xb8-30e_demo.py'

model = dict(
    teacher=dict(cfg_path='{{fileDirname}}/../yolov5/yolov5-ld_s-v61_fast_1xb8-30e_demo.py'),
    teacher_ckpt='work_dirs/yolov5-ld_s-v61_fast_1xb8-30e_demo/epoch_30.pth')
