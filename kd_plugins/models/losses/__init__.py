from .cwd_loss import KDChannelWiseDivergence
from .ld_loss import KDDenseClsKDLoss, KDDenseLDLoss, KDLocalizationDistillLoss
from .ld_yolov5_loss import KDYOLOv5ClsKDLoss, KDYOLOv5LDLoss, KDYOLOv5ObjKDLoss
from .sigmoid_mse_loss import SigmoidMSELoss

__all__ = [
    'KDChannelWiseDivergence', 'KDLocalizationDistillLoss', 'KDDenseLDLoss', 'KDDenseClsKDLoss',
    'KDYOLOv5LDLoss', 'KDYOLOv5ClsKDLoss', 'KDYOLOv5ObjKDLoss', 'SigmoidMSELoss'
]
