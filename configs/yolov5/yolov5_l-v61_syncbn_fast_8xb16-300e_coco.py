# YOLOv5-L on COCO: MMYOLO's recipe (8 GPUs x 16 images, 300 epochs, COCO under data/coco/ as
# MMYOLO lays it out; a symlink works) with what this project adds (../_base_/kd_plugins_coco.py:
# kd_plugins loaded for modern torch, data checked while it loads, per-epoch seeds, host memory
# logged).
#   bash tools/dist_train.sh configs/yolov5/yolov5_l-v61_syncbn_fast_8xb16-300e_coco.py 8
_base_ = [
    'mmyolo::yolov5/yolov5_l-v61_syncbn_fast_8xb16-300e_coco.py',
    '../_base_/kd_plugins_coco.py'
]

train_dataloader = dict(dataset=_base_.checked_coco_dataset)
val_dataloader = dict(dataset=_base_.checked_coco_dataset)
test_dataloader = val_dataloader
default_hooks = _base_.run_hooks
