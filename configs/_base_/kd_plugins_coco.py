# What this project adds to MMYOLO's COCO recipes, shared by the eight wrappers
# configs/yolov5/yolov5_{n,s,m,l}-v61_syncbn_fast_8xb16-300e_coco.py and
# configs/yolov8/yolov8_{n,s,m,l}_syncbn_fast_8xb16-500e_coco.py. Each wrapper lists this file
# beside MMYOLO's config as a second base; MMEngine refuses a key defined in two bases, so the
# dataset and hook settings are named variables here that the wrapper puts in place:
#   train_dataloader = dict(dataset=_base_.checked_coco_dataset)    (also val)
#   default_hooks = _base_.run_hooks
# kd_plugins loaded so that MMYOLO runs on modern torch (kd_plugins/compat/).
custom_imports = dict(imports=['kd_plugins'], allow_failed_imports=False)
# Data checked while it loads (degenerate boxes logged and dropped as MMDetection does, not a
# stop for a large set; docs/troubleshooting.md).
checked_coco_dataset = dict(type='CheckedYOLOv5CocoDataset', check_images='exists',
                            bad_boxes='warn')
# Seeds set per epoch so that --resume repeats an uninterrupted run (kd_plugins/engine/seed.py);
# host memory logged per epoch (kd_plugins/engine/memory.py).
run_hooks = dict(epoch_seed=dict(type='EpochSeedHook'), memory=dict(type='HostMemoryHook'))
