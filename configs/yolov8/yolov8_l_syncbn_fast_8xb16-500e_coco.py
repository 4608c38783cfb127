# YOLOv8-L on COCO: MMYOLO's recipe (8 GPUs x 16 images, 500 epochs, COCO under data/coco/ as
# MMYOLO lays it out; a symlink works) with kd_plugins loaded so that it runs on modern torch.
#   bash tools/dist_train.sh configs/yolov8/yolov8_l_syncbn_fast_8xb16-500e_coco.py 8
_base_ = 'mmyolo::yolov8/yolov8_l_syncbn_fast_8xb16-500e_coco.py'
custom_imports = dict(imports=['kd_plugins'], allow_failed_imports=False)

# kd_plugins: data checked while it loads (degenerate boxes logged and dropped as MMDetection
# does, not a stop for a large set; docs/troubleshooting.md); seeds set per epoch so that
# --resume repeats an uninterrupted run (kd_plugins/engine/seed.py); host memory logged.
train_dataloader = dict(
    dataset=dict(type='CheckedYOLOv5CocoDataset', check_images='exists', bad_boxes='warn'))
val_dataloader = dict(
    dataset=dict(type='CheckedYOLOv5CocoDataset', check_images='exists', bad_boxes='warn'))
test_dataloader = val_dataloader
default_hooks = dict(
    epoch_seed=dict(type='EpochSeedHook'), memory=dict(type='HostMemoryHook'))
