from .ema import KDExpMomentumEMA
from .memory import KDMemoryHook, memory_mib
from .seed import KDEpochSeedHook, epoch_seed

__all__ = ['KDExpMomentumEMA', 'KDEpochSeedHook', 'KDMemoryHook', 'epoch_seed', 'memory_mib']
