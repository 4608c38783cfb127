# YOLOv5-S on COCO: MMYOLO's recipe (8 GPUs x 16 images, 300 epochs, COCO under data/coco/ as
# MMYOLO lays it out; a symlink works) with kd_plugins loaded so that it runs on modern torch.
#   bash tools/dist_train.sh configs/yolov5/yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py 8
_base_ = 'mmyolo::yolov5/yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py'
custom_imports = dict(imports=['kd_plugins'], allow_failed_imports=False)
