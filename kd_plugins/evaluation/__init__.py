from .precision_recall import DetPrecisionRecallMetric, match_image

__all__ = ['DetPrecisionRecallMetric', 'match_image']
