from .ema import KDExpMomentumEMA

__all__ = ['KDExpMomentumEMA']
