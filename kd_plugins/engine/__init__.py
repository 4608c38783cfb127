from .ema import KDExpMomentumEMA
from .kd_schedule import KDLossScheduleHook
from .memory import HostMemoryHook, memory_mib
from .optim_wrapper import ChannelsLastOptimWrapper, CPUAmpOptimWrapper, NoNativeBF16Error
from .seed import EpochSeedHook, epoch_seed

__all__ = ['KDExpMomentumEMA', 'KDLossScheduleHook', 'EpochSeedHook', 'HostMemoryHook',
           'ChannelsLastOptimWrapper', 'CPUAmpOptimWrapper',
           'NoNativeBF16Error', 'epoch_seed', 'memory_mib']
