# YOLOv8-S on road potholes (the CWD teacher there): the pattern to copy for your own dataset
# (docs/custom_dataset.md). Convert the labels once as in
# configs/yolov5/yolov5_n-v61_fast_1xb8-30e_pothole.py, then:
#   export POTHOLE_ROOT=../shared/data/pothole  # where the export's images are
#   python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_pothole.py
_base_ = './yolov8_s_fast_1xb8-30e_demo.py'

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
# ============================================================================

model = dict(
    bbox_head=dict(head_module=dict(num_classes=num_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))

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
