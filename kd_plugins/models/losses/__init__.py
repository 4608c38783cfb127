from .cwd_loss import KDChannelWiseDivergence
from .ld_loss import (KDClassificationKDLoss, KDDenseLDLoss, KDLocalizationDistillLoss,
                      KDObjectnessKDLoss)
from .ld_yolov5_loss import KDYOLOv5ClsKDLoss, KDYOLOv5LDLoss, KDYOLOv5ObjKDLoss

__all__ = [
    'KDChannelWiseDivergence', 'KDLocalizationDistillLoss', 'KDClassificationKDLoss',
    'KDObjectnessKDLoss', 'KDDenseLDLoss', 'KDYOLOv5LDLoss', 'KDYOLOv5ClsKDLoss',
    'KDYOLOv5ObjKDLoss'
]
