# YOLOv5-S on the built-in demo dataset, sized for a CPU: 256x256 input, batch 8, 30 epochs.
# Generate the data first: python tools/misc/make_demo_data.py data/demo
# Train: python tools/train.py configs/yolov5/yolov5_s-v61_fast_1xb8-30e_demo.py
_base_ = 'mmyolo::yolov5/yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py'
custom_imports = dict(imports=['kd_plugins'], allow_failed_imports=False)

# ========================Frequently modified parameters======================
# -----data related-----
data_root = 'data/demo/'
train_ann_file = 'annotations/train.json'
train_data_prefix = ''  # file_name in the json already starts with train/
val_ann_file = 'annotations/val.json'
val_data_prefix = ''
class_name = ('circle', 'square', 'triangle', 'ring', 'cross')
num_classes = len(class_name)
metainfo = dict(
    classes=class_name,
    palette=[(220, 20, 60), (0, 128, 255), (255, 170, 0), (0, 200, 120), (160, 60, 220)])
img_scale = (256, 256)  # width, height
train_batch_size_per_gpu = 8
train_num_workers = 2
val_batch_size_per_gpu = 8
val_num_workers = 1
persistent_workers = True
# -----model related-----
deepen_factor = 0.33
widen_factor = 0.5
# -----train val related-----
base_lr = 0.01
max_epochs = 30
warmup_iters = 50  # YOLOv5's 1000-iteration minimum warm-up is most of a demo run
save_epoch_intervals = 10
max_keep_ckpts = 2
log_interval = 10
# ============================================================================

affine_scale = 0.5
pre_transform = _base_.pre_transform
albu_train_transforms = _base_.albu_train_transforms

train_pipeline = [
    *pre_transform,
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0, pre_transform=pre_transform),
    dict(
        type='YOLOv5RandomAffine',
        max_rotate_degree=0.0,
        max_shear_degree=0.0,
        scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
        border_val=(114, 114, 114)),
    dict(
        type='mmdet.Albu',
        transforms=albu_train_transforms,
        bbox_params=dict(
            type='BboxParams',
            format='pascal_voc',
            label_fields=['gt_bboxes_labels', 'gt_ignore_flags']),
        keymap={'img': 'image', 'gt_bboxes': 'bboxes'}),
    dict(type='YOLOv5HSVRandomAug'),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'flip', 'flip_direction'))
]

test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(type='LetterResize', scale=img_scale, allow_scale_up=False, pad_val=dict(img=114)),
    dict(type='LoadAnnotations', with_bbox=True, _scope_='mmdet'),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                   'pad_param'))
]

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(
        head_module=dict(num_classes=num_classes, widen_factor=widen_factor),
        # MMYOLO scales these by class count and input size relative to COCO at 640.
        loss_cls=dict(loss_weight=0.5 * (num_classes / 80)),
        loss_obj=dict(loss_weight=1.0 * ((img_scale[0] / 640)**2))))

train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    persistent_workers=persistent_workers,
    dataset=dict(
        type='CheckedYOLOv5CocoDataset',  # checks the data while loading it
        data_root=data_root,
        metainfo=metainfo,
        ann_file=train_ann_file,
        data_prefix=dict(img=train_data_prefix),
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=val_batch_size_per_gpu,
    num_workers=val_num_workers,
    persistent_workers=persistent_workers,
    dataset=dict(
        type='CheckedYOLOv5CocoDataset',  # checks the data while loading it
        data_root=data_root,
        metainfo=metainfo,
        ann_file=val_ann_file,
        data_prefix=dict(img=val_data_prefix),
        pipeline=test_pipeline,
        batch_shapes_cfg=dict(batch_size=val_batch_size_per_gpu, img_size=img_scale[0])))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + val_ann_file)
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=base_lr, batch_size_per_gpu=train_batch_size_per_gpu))

default_hooks = dict(
    epoch_seed=dict(type='EpochSeedHook'),  # --resume repeats an uninterrupted run
    memory=dict(type='HostMemoryHook'),  # host memory in the log every epoch
    param_scheduler=dict(max_epochs=max_epochs, warmup_mim_iter=warmup_iters),
    checkpoint=dict(interval=save_epoch_intervals, max_keep_ckpts=max_keep_ckpts),
    logger=dict(type='LoggerHook', interval=log_interval))

train_cfg = dict(max_epochs=max_epochs, val_interval=save_epoch_intervals)
env_cfg = dict(cudnn_benchmark=False)
