from .ema import KDExpMomentumEMA
from .memory import HostMemoryHook, memory_mib
from .optim_wrapper import CPUAmpOptimWrapper, NoNativeBF16Error
from .seed import EpochSeedHook, epoch_seed

__all__ = ['KDExpMomentumEMA', 'EpochSeedHook', 'HostMemoryHook', 'CPUAmpOptimWrapper',
           'NoNativeBF16Error', 'epoch_seed', 'memory_mib']
