from .ema import KDExpMomentumEMA
from .memory import KDMemoryHook, memory_mib
from .optim_wrapper import CPUAmpOptimWrapper, NoNativeBF16Error
from .seed import KDEpochSeedHook, epoch_seed

__all__ = ['KDExpMomentumEMA', 'KDEpochSeedHook', 'KDMemoryHook', 'CPUAmpOptimWrapper',
           'NoNativeBF16Error', 'epoch_seed', 'memory_mib']
