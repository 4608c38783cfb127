"""Key distillation regions (KDR) and expandable location regions (ELR) for localization
distillation.

G. Huang, A. Shen, Y. Hu, J. Du, J. Hu, Y. Liang, "Optimizing YOLOv5s Object Detection through
Knowledge Distillation algorithm" (arXiv:2410.12259, 2024) selects both from position
information on the multi-level feature maps and weights them (its Figure 2) without a formula.
This project reads them as the two regions of LD (Z. Zheng et al., "Localization Distillation
for Dense Object Detection", CVPR 2022):

* KDR, LD's *main distillation region*: the locations the detector's own assigner makes
  positive for a ground-truth box (where the student's box loss also acts);
* ELR, LD's *valuable localization region*: further locations whose prior box overlaps a
  ground-truth box with IoU >= ``elr_iou_thr`` without being positive.

Prior boxes are the anchors for YOLOv5; for anchor-free heads (YOLOv8) :func:`point_prior_boxes`
makes a square of ``scale * stride`` around each point (LD uses 8 x stride with GFL).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

NONE, KDR, ELR = 0, 1, 2

# Project's choice (Huang et al. give no value): drawn on demo images, with IoU 0.5 and a prior
# square of 5 x stride almost no location outside the positives qualified (docs/ld.md).
ELR_IOU_THR = 0.3
PRIOR_SCALE = 4.0


def check_elr_iou_thr(value: float) -> float:
    """``value`` if it is an IoU in (0, 1], else a ValueError naming ``elr_iou_thr``."""
    if not 0 < value <= 1:
        raise ValueError(f'elr_iou_thr must be in (0, 1], got {value}')
    return value


def point_prior_boxes(points: Tensor, strides: Tensor,
                      scale: float = PRIOR_SCALE) -> Tensor:
    """(P, 2) centres and (P,) strides -> (P, 4) xyxy squares of side ``scale * stride``."""
    if not scale > 0:
        raise ValueError(f'scale must be > 0, got {scale}')
    half = (strides.to(points.dtype) * scale / 2)[:, None]
    return torch.cat([points - half, points + half], dim=1)


def ld_region_weights(priors: Tensor, gt_bboxes: Tensor, positive: Tensor,
                      elr_iou_thr: float = ELR_IOU_THR, kdr_weight: float = 1.0,
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
    if positive.shape != priors.shape[:1]:
        raise ValueError(f'positive has shape {tuple(positive.shape)}, expected '
                         f'({priors.shape[0]},): one flag per prior')
    weights, region = batch_region_weights(
        priors, gt_bboxes, gt_bboxes.new_zeros(len(gt_bboxes), dtype=torch.long),
        positive[None], elr_iou_thr, kdr_weight, elr_weight)
    return weights[0], region[0]


def batch_region_weights(priors: Tensor, gt_bboxes: Tensor, gt_image: Tensor, positive: Tensor,
                         elr_iou_thr: float = ELR_IOU_THR, kdr_weight: float = 1.0,
                         elr_weight: float = 0.5) -> Tuple[Tensor, Tensor]:
    """:func:`ld_region_weights` for a batch of B images sharing the priors, in one pass: one
    (P, N) IoU matrix against the boxes of all images, reduced per image.

    Args:
        priors (Tensor): (P, 4) prior boxes, xyxy, in image pixels.
        gt_bboxes (Tensor): (N, 4) ground-truth boxes of the whole batch (N may be 0).
        gt_image (Tensor): (N,) long, the image index in [0, B) of each box.
        positive (Tensor): (B, P) bool, the assigner's positives (KDR).
        elr_iou_thr, kdr_weight, elr_weight: as :func:`ld_region_weights`.

    Returns:
        tuple: ``weights`` (B, P) float and ``region`` (B, P) long.
    """
    from mmdet.structures.bbox import bbox_overlaps
    check_elr_iou_thr(elr_iou_thr)
    for name, w in (('kdr_weight', kdr_weight), ('elr_weight', elr_weight)):
        if not w >= 0:
            raise ValueError(f'{name} must be >= 0, got {w}')
    if positive.dim() != 2 or positive.shape[1] != priors.shape[0]:
        raise ValueError(f'positive has shape {tuple(positive.shape)}, expected '
                         f'(batch, {priors.shape[0]}): one flag per image and prior')
    positive = positive.bool()
    best = priors.new_zeros((priors.shape[0], positive.shape[0]))  # (P, B)
    if gt_bboxes.numel():
        iou = bbox_overlaps(priors, gt_bboxes.to(priors.dtype))  # (P, N)
        best.scatter_reduce_(1, gt_image.long()[None].expand_as(iou), iou, 'amax')
    elr = (best.t() >= elr_iou_thr) & ~positive
    region = positive.long() * KDR + elr.long() * ELR
    weights = positive.to(priors.dtype) * kdr_weight + elr.to(priors.dtype) * elr_weight
    return weights, region


def gt_table(batch_gt_instances: Union[Tensor, Sequence]) -> Tensor:
    """Ground truth of a batch as an (N, 6) table (image index, label, x1, y1, x2, y2), from
    MMYOLO's fast format (already a table) or a list of ``InstanceData`` per image."""
    if isinstance(batch_gt_instances, Tensor):
        return batch_gt_instances
    rows = [torch.cat([inst.bboxes.new_full((len(inst), 1), i),
                       inst.labels[:, None].to(inst.bboxes.dtype), inst.bboxes], dim=1)
            for i, inst in enumerate(batch_gt_instances)]
    return torch.cat(rows) if rows else torch.zeros((0, 6))


def yolov5_positive_masks(gt: Tensor, batch_size: int, featmap_sizes: Sequence[Tuple[int, int]],
                          strides: Sequence[int], base_sizes: Sequence[Sequence[Tuple[int, int]]],
                          prior_match_thr: float = 4.0,
                          near_neighbor_thr: float = 0.5) -> List[Tensor]:
    """The (anchor, cell) pairs YOLOv5's assignment makes positive, per level (B, A, H, W) bool.

    YOLOv5's rule (MMYOLO ``YOLOv5Head.loss_by_feat``): a box matches an anchor of a level when
    neither side ratio box/anchor nor anchor/box reaches ``prior_match_thr``; the matched anchor
    is positive in the cell holding the box centre and in the neighbouring cell left / up /
    right / down when the centre lies within ``near_neighbor_thr`` of that side (and the
    neighbour exists). ``gt`` is the (N, 6) table of :func:`gt_table` in input pixels.
    """
    masks = []
    for (h, w), stride, sizes in zip(featmap_sizes, strides, base_sizes):
        mask = torch.zeros((batch_size, len(sizes), h, w), dtype=torch.bool, device=gt.device)
        masks.append(mask)
        if not len(gt):
            continue
        boxes = gt[:, 2:6].float() / stride
        c = (boxes[:, :2] + boxes[:, 2:]) / 2
        wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-9)
        anchors = torch.tensor(sizes, dtype=torch.float, device=gt.device) / stride  # (A, 2)
        ratio = wh[None] / anchors[:, None]
        match = torch.max(ratio, 1 / ratio).amax(-1) < prior_match_thr  # (A, N)
        size = c.new_tensor([w, h])
        near_low = (c % 1 < near_neighbor_thr) & (c > 1)
        near_high = ((size - c) % 1 < near_neighbor_thr) & ((size - c) > 1)
        shifts = [(torch.ones_like(near_low[:, 0]), c.new_tensor([0., 0.])),
                  (near_low[:, 0], c.new_tensor([-1., 0.])),
                  (near_low[:, 1], c.new_tensor([0., -1.])),
                  (near_high[:, 0], c.new_tensor([1., 0.])),
                  (near_high[:, 1], c.new_tensor([0., 1.]))]
        img = gt[:, 0].long()
        for use, shift in shifts:
            cell = (c + shift * near_neighbor_thr).long()
            gx, gy = cell[:, 0].clamp(0, w - 1), cell[:, 1].clamp(0, h - 1)
            a_idx, n_idx = torch.nonzero(match & use[None], as_tuple=True)
            mask[img[n_idx], a_idx, gy[n_idx], gx[n_idx]] = True
    return masks


def anchor_boxes(featmap_size: Tuple[int, int], stride: int,
                 sizes: Sequence[Tuple[int, int]], device: Optional[torch.device] = None) -> Tensor:
    """YOLOv5's anchor boxes of one level as (A, H, W, 4) xyxy pixels, centred on the cells."""
    h, w = featmap_size
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                            indexing='ij')
    centre = (torch.stack([xs, ys], -1).float() + 0.5) * stride  # (H, W, 2)
    half = torch.tensor(sizes, dtype=torch.float, device=device)[:, None, None] / 2
    return torch.cat([centre[None] - half, centre[None] + half], dim=-1)
