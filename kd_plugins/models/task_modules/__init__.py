from .coders import AnchorPointDistanceCoder
from .ld_regions import (ELR, KDR, NONE, anchor_boxes, batch_region_weights, gt_table,
                         ld_region_weights, point_prior_boxes, yolov5_positive_masks)

__all__ = [
    'ld_region_weights', 'batch_region_weights', 'point_prior_boxes', 'KDR', 'ELR', 'NONE',
    'gt_table', 'yolov5_positive_masks', 'anchor_boxes', 'AnchorPointDistanceCoder'
]
