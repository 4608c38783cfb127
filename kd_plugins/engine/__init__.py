from .ema import KDExpMomentumEMA
from .seed import KDEpochSeedHook, epoch_seed

__all__ = ['KDExpMomentumEMA', 'KDEpochSeedHook', 'epoch_seed']
