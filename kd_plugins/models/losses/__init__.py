from .cwd_loss import KDChannelWiseDivergence
from .ld_loss import (KDClassificationKDLoss, KDDenseLDLoss, KDLocalizationDistillLoss,
                      KDObjectnessKDLoss)

__all__ = [
    'KDChannelWiseDivergence', 'KDLocalizationDistillLoss', 'KDClassificationKDLoss',
    'KDObjectnessKDLoss', 'KDDenseLDLoss'
]
