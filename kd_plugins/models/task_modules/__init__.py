from .ld_regions import ELR, KDR, NONE, ld_region_weights, point_prior_boxes

__all__ = ['ld_region_weights', 'point_prior_boxes', 'KDR', 'ELR', 'NONE']
