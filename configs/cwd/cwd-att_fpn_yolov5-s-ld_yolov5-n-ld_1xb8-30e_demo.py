# CWD + attention between YOLOv5 models with the LD head, on the demo data: the LD-head YOLOv5-S
# teacher -> an LD-head YOLOv5-N student. The main job (tools/run_demo.py) trains one teacher for
# both of its distillation methods and gives all its students the same architecture, so that
# baseline, CWD+attention and LD differ only in what they learn from. CWD reads the necks only,
# which the LD head leaves exactly as in YOLOv5-S / -N (128/256/512 and 64/128/256 channels):
# this is cwd-att_fpn_yolov5-s_yolov5-n_1xb8-30e_demo.py with both models swapped.
# 1. Train the teacher: python tools/train.py configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py
# 2. Distil: python tools/train.py configs/cwd/cwd-att_fpn_yolov5-s-ld_yolov5-n-ld_1xb8-30e_demo.py
_base_ = './cwd-att_fpn_yolov5-s_yolov5-n_1xb8-30e_demo.py'

model = dict(
    architecture=dict(cfg_path='{{fileDirname}}/../yolov5/yolov5_n-ld-v61_fast_1xb8-30e_demo.py'),
    teacher=dict(cfg_path='{{fileDirname}}/../yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py'),
    teacher_ckpt='work_dirs/yolov5_s-ld-v61_fast_1xb8-30e_demo/epoch_30.pth')
