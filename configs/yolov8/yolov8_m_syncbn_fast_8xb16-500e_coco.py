# YOLOv8-M on COCO: MMYOLO's recipe (8 GPUs x 16 images, 500 epochs, COCO under data/coco/ as
# MMYOLO lays it out; a symlink works) with kd_plugins loaded so that it runs on modern torch.
#   bash tools/dist_train.sh configs/yolov8/yolov8_m_syncbn_fast_8xb16-500e_coco.py 8
_base_ = 'mmyolo::yolov8/yolov8_m_syncbn_fast_8xb16-500e_coco.py'
custom_imports = dict(imports=['kd_plugins'], allow_failed_imports=False)
