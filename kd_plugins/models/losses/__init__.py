from .cwd_loss import KDChannelWiseDivergence

__all__ = ['KDChannelWiseDivergence']
