from .precision_recall import KDPrecisionRecallMetric, match_image

__all__ = ['KDPrecisionRecallMetric', 'match_image']
