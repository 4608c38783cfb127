# YOLOv5-S on the COCO subset of G. Huang et al. (arXiv:2410.12259): 6000 random COCO train2017
# images split 8:1:1 (train 4800 / val 600 / test 600), 300 epochs, linear warm-up then cosine
# annealing, the best val-mAP checkpoint kept (Table 2 is read on the test split with it). The
# baseline row of the temperature sweep (docs/ld.md).
# 1. Make the subset once (COCO under data/coco/ as MMYOLO lays it out):
#      python tools/dataset_converters/split_coco.py \
#          data/coco/annotations/instances_train2017.json data/coco/annotations/coco6k \
#          --subset 6000 --ratios 8 1 1 --no-group --seed 0
# 2. bash tools/dist_train.sh configs/yolov5/yolov5_s-v61_syncbn_fast_8xb16-300e_coco6k.py 8
_base_ = './yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py'

# ========================Frequently modified parameters======================
ann_root = 'annotations/coco6k/'  # written by split_coco.py (step 1)
img_prefix = 'train2017/'  # every subset image comes from COCO train2017
warmup_iters = 100  # ~3 epochs of 38 iterations (YOLOv5's 1000-iteration minimum is 27 epochs)
# ============================================================================

train_dataloader = dict(
    dataset=dict(ann_file=ann_root + 'train.json', data_prefix=dict(img=img_prefix)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_root + 'val.json', data_prefix=dict(img=img_prefix)))
test_dataloader = dict(
    dataset=dict(ann_file=ann_root + 'test.json', data_prefix=dict(img=img_prefix)))
val_evaluator = dict(ann_file=_base_.data_root + ann_root + 'val.json')
test_evaluator = dict(ann_file=_base_.data_root + ann_root + 'test.json')

default_hooks = dict(
    param_scheduler=dict(scheduler_type='cosine', warmup_mim_iter=warmup_iters),
    checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
# No early stopping: Huang et al. name it as future work, not as their setting. To stop when the
# val mAP stops improving, a config inheriting this one (or this one's LD children) adds
#   custom_hooks = [*_base_.custom_hooks,
#                   dict(type='mmengine.EarlyStoppingHook', monitor='coco/bbox_mAP',
#                        rule='greater', patience=5, min_delta=0.001)]
