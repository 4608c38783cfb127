# The teacher of Y. Wang et al., "Enhanced Knowledge Distillation for YOLO via Attention Mechanisms
# in Smart City Applications" (on COCO: this project's extension): YOLOv8-L fine-tuned on COCO for
# 50 epochs from MMYOLO's released 500-epoch weights, MMYOLO's recipe otherwise (8 GPUs x 16 images,
# mosaic off for the last 10 epochs). Wang et al. give no fine-tuning learning rate; this keeps the
# recipe's.
#   bash tools/dist_train.sh configs/yolov8/yolov8_l_syncbn_fast_8xb16-50e_coco-finetune.py 8
# The distillation configs read its last checkpoint:
#   work_dirs/yolov8_l_syncbn_fast_8xb16-50e_coco-finetune/epoch_50.pth
_base_ = './yolov8_l_syncbn_fast_8xb16-500e_coco.py'

max_epochs = 50
close_mosaic_epochs = 10
load_from = 'https://download.openmmlab.com/mmyolo/v0/yolov8/yolov8_l_syncbn_fast_8xb16-500e_coco/yolov8_l_syncbn_fast_8xb16-500e_coco_20230217_182526-189611b6.pth'  # noqa

default_hooks = dict(param_scheduler=dict(max_epochs=max_epochs))
_base_.custom_hooks[1].switch_epoch = max_epochs - close_mosaic_epochs
train_cfg = dict(
    max_epochs=max_epochs, dynamic_intervals=[(max_epochs - close_mosaic_epochs, 1)])
