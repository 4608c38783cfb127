# YOLOv5-N on road potholes: the pattern to copy for your own dataset (docs/custom_dataset.md).
#
# 1. Convert the YOLO txt export to COCO json (once):
#      python tools/dataset_converters/yolo2coco.py ../shared/data/pothole/train/images \
#          ../shared/data/pothole/train/labels data/pothole/annotations/train.json --classes pothole
#      python tools/dataset_converters/yolo2coco.py ../shared/data/pothole/valid/images \
#          ../shared/data/pothole/valid/labels data/pothole/annotations/valid.json --classes pothole
# 2. Train and evaluate (the images stay where they are, POTHOLE_ROOT names the folder):
#      export POTHOLE_ROOT=../shared/data/pothole
#      python tools/train.py configs/yolov5/yolov5_n-v61_fast_1xb8-30e_pothole.py
_base_ = './yolov5_n-v61_fast_1xb8-30e_demo.py'

# ========================Frequently modified parameters======================
# Paths are relative to where tools/ are run (the repository root), or absolute.
data_root = ''
# The images of the YOLO export: data/pothole/ by default (a copy or a link of the export's
# train/ and valid/ folders), or wherever POTHOLE_ROOT points (POTHOLE_ROOT=../shared/data/pothole).
image_root = '{{$POTHOLE_ROOT:data/pothole}}/'
train_ann_file = 'data/pothole/annotations/train.json'  # written by yolo2coco.py
train_data_prefix = image_root + 'train/images/'
val_ann_file = 'data/pothole/annotations/valid.json'
val_data_prefix = image_root + 'valid/images/'
class_name = ('pothole', )
num_classes = len(class_name)
metainfo = dict(classes=class_name, palette=[(255, 128, 0)])
max_epochs = 30
save_epoch_intervals = 10
# ============================================================================

img_scale = _base_.img_scale
model = dict(
    bbox_head=dict(
        head_module=dict(num_classes=num_classes),
        loss_cls=dict(loss_weight=0.5 * (num_classes / 80)),
        loss_obj=dict(loss_weight=1.0 * ((img_scale[0] / 640)**2))))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file=train_ann_file,
        data_prefix=dict(img=train_data_prefix)))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file=val_ann_file,
        data_prefix=dict(img=val_data_prefix)))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=val_ann_file)
test_evaluator = val_evaluator

default_hooks = dict(
    param_scheduler=dict(max_epochs=max_epochs),
    checkpoint=dict(interval=save_epoch_intervals))
train_cfg = dict(max_epochs=max_epochs, val_interval=save_epoch_intervals)
