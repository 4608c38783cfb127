"""Key distillation regions (KDR) and expandable location regions (ELR) for localization
distillation.

The seed paper selects both from position information on the multi-level feature maps and
weights them (its Figure 2) without a formula. This project reads them as LD's two regions
(Zheng et al., CVPR 2022):

* KDR, LD's *main distillation region*: the locations the detector's own assigner makes
  positive for a ground-truth box (where the student's box loss also acts);
* ELR, LD's *valuable localization region*: further locations whose prior box overlaps a
  ground-truth box with IoU >= ``elr_iou_thr`` without being positive.

Prior boxes are the anchors for YOLOv5; for anchor-free heads (YOLOv8) :func:`point_prior_boxes`
makes a square of ``scale * stride`` around each point (LD uses 8 x stride with GFL).
"""
from typing import Tuple

import torch
from torch import Tensor

NONE, KDR, ELR = 0, 1, 2


def point_prior_boxes(points: Tensor, strides: Tensor, scale: float = 5.0) -> Tensor:
    """(P, 2) centres and (P,) strides -> (P, 4) xyxy squares of side ``scale * stride``."""
    if not scale > 0:
        raise ValueError(f'scale must be > 0, got {scale}')
    half = (strides.to(points.dtype) * scale / 2)[:, None]
    return torch.cat([points - half, points + half], dim=1)


def ld_region_weights(priors: Tensor, gt_bboxes: Tensor, positive: Tensor,
                      elr_iou_thr: float = 0.5, kdr_weight: float = 1.0,
                      elr_weight: float = 0.5) -> Tuple[Tensor, Tensor]:
    """Region of each prior (0 neither, 1 KDR, 2 ELR) and its weight for one image.

    Args:
        priors (Tensor): (P, 4) prior boxes, xyxy, in image pixels.
        gt_bboxes (Tensor): (G, 4) ground-truth boxes, xyxy (G may be 0).
        positive (Tensor): (P,) bool, the priors the assigner made positive (KDR).
        elr_iou_thr (float): IoU in (0, 1] from which a non-positive prior is ELR.
        kdr_weight, elr_weight (float): >= 0, weights of the two regions.

    Returns:
        tuple: ``weights`` (P,) float and ``region`` (P,) long.
    """
    from mmdet.structures.bbox import bbox_overlaps
    if not 0 < elr_iou_thr <= 1:
        raise ValueError(f'elr_iou_thr must be in (0, 1], got {elr_iou_thr}')
    for name, w in (('kdr_weight', kdr_weight), ('elr_weight', elr_weight)):
        if not w >= 0:
            raise ValueError(f'{name} must be >= 0, got {w}')
    if positive.shape != priors.shape[:1]:
        raise ValueError(f'positive has shape {tuple(positive.shape)}, expected '
                         f'({priors.shape[0]},): one flag per prior')
    region = torch.full((priors.shape[0], ), NONE, dtype=torch.long, device=priors.device)
    region[positive.bool()] = KDR
    if gt_bboxes.numel():
        best_iou = bbox_overlaps(priors, gt_bboxes.to(priors.dtype)).max(dim=1).values
        region[(best_iou >= elr_iou_thr) & ~positive.bool()] = ELR
    weights = torch.zeros(priors.shape[0], dtype=priors.dtype, device=priors.device)
    weights[region == KDR] = kdr_weight
    weights[region == ELR] = elr_weight
    return weights, region
