# YOLOv8-S on the built-in demo dataset, sized for a CPU: 256x256 input, batch 8, 30 epochs
# (mosaic off for the last 5). Generate the data first:
#   python tools/misc/make_demo_data.py data/demo
# Train: python tools/train.py configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py
_base_ = 'mmyolo::yolov8/yolov8_s_syncbn_fast_8xb16-500e_coco.py'
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
last_stage_out_channels = 1024
# -----train val related-----
base_lr = 0.01
max_epochs = 30
close_mosaic_epochs = 5
warmup_iters = 50  # YOLOv8's 1000-iteration minimum warm-up is most of a demo run
save_epoch_intervals = 10
max_keep_ckpts = 2
log_interval = 10
# ============================================================================

affine_scale = 0.5
max_aspect_ratio = 100
pre_transform = _base_.pre_transform
last_transform = _base_.last_transform

train_pipeline = [
    *pre_transform,
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0, pre_transform=pre_transform),
    dict(
        type='YOLOv5RandomAffine',
        max_rotate_degree=0.0,
        max_shear_degree=0.0,
        scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
        max_aspect_ratio=max_aspect_ratio,
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
        border_val=(114, 114, 114)), *last_transform
]

train_pipeline_stage2 = [
    *pre_transform,
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(type='LetterResize', scale=img_scale, allow_scale_up=True, pad_val=dict(img=114.0)),
    dict(
        type='YOLOv5RandomAffine',
        max_rotate_degree=0.0,
        max_shear_degree=0.0,
        scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
        max_aspect_ratio=max_aspect_ratio,
        border_val=(114, 114, 114)), *last_transform
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
    backbone=dict(
        last_stage_out_channels=last_stage_out_channels,
        deepen_factor=deepen_factor,
        widen_factor=widen_factor),
    neck=dict(
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        in_channels=[256, 512, last_stage_out_channels],
        out_channels=[256, 512, last_stage_out_channels]),
    bbox_head=dict(
        head_module=dict(
            num_classes=num_classes,
            widen_factor=widen_factor,
            in_channels=[256, 512, last_stage_out_channels])),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))

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
        pipeline=test_pipeline))
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

_base_.custom_hooks[1].switch_epoch = max_epochs - close_mosaic_epochs
_base_.custom_hooks[1].switch_pipeline = train_pipeline_stage2

train_cfg = dict(
    max_epochs=max_epochs,
    val_interval=save_epoch_intervals,
    dynamic_intervals=[(max_epochs - close_mosaic_epochs, 1)])
env_cfg = dict(cudnn_benchmark=False)
