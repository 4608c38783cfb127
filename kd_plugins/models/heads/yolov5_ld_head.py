"""A YOLOv5 head whose box edges are discrete probability distributions, for localization
distillation (LD) between YOLOv5 models.

YOLOv5's own head regresses anchor offsets and has no distribution to distil. This head keeps
YOLOv5's anchors, assignment (shape match + neighbouring cells), objectness and losses
(MMYOLO's ``YOLOv5Head``, inherited, not copied) and changes the box branch:

* the head is decoupled: per level a 1x1 stem, then a classification branch and a
  localization branch (3x3 conv each); objectness is predicted from the localization branch;
* for every anchor, each edge e of (left, top, right, bottom) is a softmax over ``num_bins``
  logits whose bins e_1..e_n split ``edge_range`` (in strides) evenly; the edge is the
  expectation sum_i e_i Pr(e_i), measured from the anchor point (the cell centre);
* training on ground truth adds a distribution loss (DFL, MMDetection's
  ``DistributionFocalLoss``) on the edges of the positives to YOLOv5's CIoU loss, which acts on
  the expected box;
* at inference boxes are decoded as the expectation
  (:class:`~kd_plugins.models.task_modules.AnchorPointDistanceCoder`).

References: G. Huang, A. Shen, Y. Hu, J. Du, J. Hu, Y. Liang, "Optimizing YOLOv5s Object
Detection through Knowledge Distillation algorithm", arXiv:2410.12259, 2024 (the decoupled head
and the box as distributions, for LD between YOLOv5 models); X. Li et al., "Generalized Focal
Loss: Learning Qualified and Distributed Bounding Boxes for Dense Object Detection",
NeurIPS 2020 (edge distributions, DFL).
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import ConvModule
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.dist import get_dist_info
from mmengine.model import BaseModule
from mmyolo.models.dense_heads import YOLOv5Head
from mmyolo.models.utils import make_divisible
from mmyolo.registry import MODELS
from torch import Tensor, nn


def edge_bins(num_bins: int, edge_range: Sequence[float]) -> Tensor:
    """The bin values e_1..e_n (in strides) of an edge distribution."""
    low, high = float(edge_range[0]), float(edge_range[1])
    if num_bins < 2:
        raise ValueError(f'num_bins must be >= 2, got {num_bins}')
    if not high > low:
        raise ValueError(f'edge_range must be (low, high) with high > low, got {edge_range}')
    return torch.linspace(low, high, num_bins)


@MODELS.register_module()
class KDYOLOv5LDHeadModule(BaseModule):
    """Decoupled YOLOv5 head module with edge distributions (see the module docstring).

    Outputs per level: class logits (B, A * C, H, W), edge logits (B, A * 4 * n, H, W) laid
    out as (anchor, edge, bin), objectness logits (B, A, H, W).

    Args:
        num_classes (int): C.
        in_channels (list[int]): Channels of the neck levels before ``widen_factor``.
        widen_factor (float): Channel multiplier, as in MMYOLO.
        num_base_priors (int): A, anchors per location. Defaults to 3.
        featmap_strides (list[int]): Defaults to (8, 16, 32).
        num_bins (int): n, bins per edge. Defaults to 16.
        feat_ratio (float): Width of the branches relative to the level's input. Defaults 0.5.
        norm_cfg, act_cfg (dict): As YOLOv5's convolutions.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int] = (256, 512, 1024),
                 widen_factor: float = 1.0,
                 num_base_priors: int = 3,
                 featmap_strides: Sequence[int] = (8, 16, 32),
                 num_bins: int = 16,
                 feat_ratio: float = 0.5,
                 norm_cfg: ConfigType = dict(type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True),
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        if num_bins < 2:
            raise ValueError(f'num_bins must be >= 2, got {num_bins}')
        if len(in_channels) != len(featmap_strides):
            raise ValueError(f'{len(in_channels)} in_channels for {len(featmap_strides)} '
                             'featmap_strides: one entry per level needed')
        self.num_classes = num_classes
        self.num_base_priors = num_base_priors
        self.featmap_strides = list(featmap_strides)
        self.num_levels = len(featmap_strides)
        self.num_bins = num_bins
        self.in_channels = [make_divisible(c, widen_factor) for c in in_channels]
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.stems, self.cls_convs, self.reg_convs = (nn.ModuleList() for _ in range(3))
        self.cls_preds, self.reg_preds, self.obj_preds = (nn.ModuleList() for _ in range(3))
        a = num_base_priors
        for c_in in self.in_channels:
            c = max(8, int(c_in * feat_ratio))
            self.stems.append(ConvModule(c_in, c, 1, **conv))
            self.cls_convs.append(ConvModule(c, c, 3, padding=1, **conv))
            self.reg_convs.append(ConvModule(c, c, 3, padding=1, **conv))
            self.cls_preds.append(nn.Conv2d(c, a * num_classes, 1))
            self.reg_preds.append(nn.Conv2d(c, a * 4 * num_bins, 1))
            self.obj_preds.append(nn.Conv2d(c, a, 1))

    def init_weights(self) -> None:
        super().init_weights()
        # YOLOv5's priors: about 8 objects per 640x640 image, 0.6 / C class probability;
        # edge logits start at 0 (a flat distribution: the edge is the range's midpoint).
        for stride, cls_pred, reg_pred, obj_pred in zip(self.featmap_strides, self.cls_preds,
                                                        self.reg_preds, self.obj_preds):
            nn.init.constant_(obj_pred.bias, math.log(8 / (640 / stride)**2))
            nn.init.constant_(cls_pred.bias,
                              math.log(0.6 / max(self.num_classes - 0.99, 0.01)))
            nn.init.zeros_(reg_pred.bias)

    def forward(self, x: Tuple[Tensor]) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        if len(x) != self.num_levels:
            raise ValueError(f'{len(x)} feature levels for a head of {self.num_levels}')
        cls_scores, bbox_preds, objectnesses = [], [], []
        for i, feat in enumerate(x):
            feat = self.stems[i](feat)
            cls_feat, reg_feat = self.cls_convs[i](feat), self.reg_convs[i](feat)
            cls_scores.append(self.cls_preds[i](cls_feat))
            bbox_preds.append(self.reg_preds[i](reg_feat))
            objectnesses.append(self.obj_preds[i](reg_feat))
        return cls_scores, bbox_preds, objectnesses


class _IoUAndDistributionLoss(nn.Module):
    """YOLOv5's box loss (CIoU on the expected box, returns the IoU for the objectness target),
    plus DFL on the positives' edge logits.

    MMYOLO's ``YOLOv5Head.loss_by_feat`` calls ``decoded = _decode_bbox_to_xywh(logits)`` and
    then ``loss_bbox(decoded, targets)`` once per level, with nothing else in between that
    could carry the logits: the box loss sees only the decoded boxes. So the head's decoder
    attaches the logits to the box tensor it returns (``decoded.edge_logits``) and this loss
    reads them from there: the logits travel with the boxes decoded from them, no state is kept
    between the two calls, and MMYOLO's loss loop is used as it is rather than rewritten here.
    A change in MMYOLO that passes a different tensor fails loudly (no ``edge_logits``).
    Targets are (x, y, w, h) in cells, x and y relative to the positive cell's corner, so the
    anchor point is (0.5, 0.5).
    """

    def __init__(self, iou_loss: nn.Module, dfl_loss: nn.Module, bins: Tensor):
        super().__init__()
        self.iou_loss = iou_loss
        self.dfl_loss = dfl_loss
        self.low, self.step, self.num_bins = float(bins[0]), float(bins[1] - bins[0]), len(bins)
        self.dfl_terms: List[Tensor] = []

    def forward(self, decoded: Tensor, targets: Tensor) -> Tuple[Tensor, Tensor]:
        logits = getattr(decoded, 'edge_logits', None)
        if logits is None:
            raise RuntimeError('KDYOLOv5LDHead: the box loss got boxes without their edge '
                               'logits (decoded.edge_logits): MMYOLO no longer passes the '
                               "output of the head's _decode_bbox_to_xywh to loss_bbox as it is")
        loss, iou = self.iou_loss(decoded, targets)
        xy, wh = targets[:, :2], targets[:, 2:]
        ltrb = torch.cat([0.5 - (xy - wh / 2), xy + wh / 2 - 0.5], dim=1)
        label = ((ltrb - self.low) / self.step).clamp(0, self.num_bins - 1 - 0.01)
        self.dfl_terms.append(
            self.dfl_loss(logits.reshape(-1, self.num_bins), label.reshape(-1)))
        return loss, iou


@MODELS.register_module()
class KDYOLOv5LDHead(YOLOv5Head):
    """MMYOLO's ``YOLOv5Head`` with edge distributions (see the module docstring).

    Args:
        head_module (dict): A :class:`KDYOLOv5LDHeadModule`; ``num_bins`` there must match.
        num_bins (int): n. Defaults to 16.
        edge_range (tuple): (e_min, e_max) of every edge in strides from the anchor point.
            Defaults to (-1, 14): with 16 bins, one stride apart. e_min < 0 because YOLOv5 also
            makes positive the neighbouring cells, whose centre can lie up to a cell outside a
            small box.
        loss_dfl (dict): The distribution loss on ground truth. Defaults to
            ``mmdet.DistributionFocalLoss`` with weight 0.01 (a fifth of YOLOv5's CIoU weight,
            YOLOv8's DFL : IoU ratio), averaged over the positives' edges; like YOLOv5's
            losses it is scaled by the batch size.
        **kwargs: ``YOLOv5Head``'s arguments (anchors, losses, thresholds, ...).
    """

    def __init__(self,
                 head_module: ConfigType,
                 num_bins: int = 16,
                 edge_range: Sequence[float] = (-1.0, 14.0),
                 bbox_coder: ConfigType = dict(type='AnchorPointDistanceCoder'),
                 loss_dfl: ConfigType = dict(
                     type='mmdet.DistributionFocalLoss', reduction='mean', loss_weight=0.01),
                 **kwargs):
        if kwargs.get('ignore_iof_thr', -1.0) != -1:
            # MMYOLO's ignore path (YOLOv5Head._loss_by_feat_with_ignore) calls the box loss
            # with weight= / avg_factor= and needs ignore instances, which the fast YOLOv5
            # pipeline never collates (MMYOLO's own YOLOv5Head then fails with
            # "TypeError: 'NoneType' object is not iterable"): refuse it here, at build time.
            raise ValueError(
                f"KDYOLOv5LDHead does not support ignore_iof_thr={kwargs['ignore_iof_thr']}: "
                'ignored regions need ignore instances, which the fast YOLOv5 pipeline does not '
                'collate, and MMYOLO\'s YOLOv5Head fails on them too. Remove ignore_iof_thr '
                '(or set it to -1).')
        head_module = dict(head_module)
        if head_module.setdefault('num_bins', num_bins) != num_bins:
            raise ValueError(f"head_module.num_bins ({head_module['num_bins']}) differs from "
                             f'the head num_bins ({num_bins}): set both to the same value')
        super().__init__(head_module=head_module, bbox_coder=bbox_coder, **kwargs)
        self.num_bins = num_bins
        self.edge_range = tuple(float(e) for e in edge_range)
        self.register_buffer('bins', edge_bins(num_bins, edge_range), persistent=False)
        self.loss_bbox = _IoUAndDistributionLoss(self.loss_bbox, MODELS.build(loss_dfl),
                                                 self.bins)

    def expected_edges(self, logits: Tensor) -> Tensor:
        """(..., n) edge logits -> (...) expected distances in strides."""
        return (logits.softmax(-1) * self.bins.to(logits.dtype)).sum(-1)

    def edge_distances(self, bbox_pred: Tensor) -> Tensor:
        """Expected edges: (B, A * 4 * n, H, W) logits -> (B, A * 4, H, W) distances in
        strides (left, top, right, bottom per anchor)."""
        b, _, h, w = bbox_pred.shape
        logits = bbox_pred.view(b, self.num_base_priors, 4, self.num_bins, h, w).movedim(3, -1)
        return self.expected_edges(logits).reshape(b, -1, h, w)

    def _decode_bbox_to_xywh(self, bbox_pred: Tensor, priors_base_sizes: Tensor) -> Tensor:
        """Positives' edge logits (K, 4 * n) -> expected boxes (K, 4) as (x, y, w, h) in cells,
        x and y relative to the cell's corner (the frame of YOLOv5's box targets)."""
        ltrb = self.expected_edges(bbox_pred.view(-1, 4, self.num_bins))
        wh = ltrb[:, :2] + ltrb[:, 2:]
        xy = 0.5 + (ltrb[:, 2:] - ltrb[:, :2]) / 2
        decoded = torch.cat([xy, wh], dim=1)
        decoded.edge_logits = bbox_pred  # for the DFL term of loss_bbox (see its class)
        return decoded

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     objectnesses: Sequence[Tensor], batch_gt_instances: Union[Tensor, Sequence],
                     batch_img_metas: Sequence[dict],
                     batch_gt_instances_ignore: Optional[Sequence] = None) -> dict:
        """YOLOv5's losses (``loss_cls``, ``loss_obj``, ``loss_bbox``: CIoU on the expected
        box) plus ``loss_dfl``."""
        if isinstance(batch_gt_instances, Tensor):
            # the parent rewrites the fast-path ground truth in place; keep the caller's (a
            # distiller may have recorded it) intact
            batch_gt_instances = batch_gt_instances.clone()
        self.loss_bbox.dfl_terms = []
        losses = super().loss_by_feat(cls_scores, bbox_preds, objectnesses, batch_gt_instances,
                                      batch_img_metas, batch_gt_instances_ignore)
        terms, self.loss_bbox.dfl_terms = self.loss_bbox.dfl_terms, []
        dfl = torch.stack(terms).sum() if terms else sum(p.sum() * 0 for p in bbox_preds)
        _, world_size = get_dist_info()
        losses['loss_dfl'] = dfl * bbox_preds[0].shape[0] * world_size
        return losses

    def predict_by_feat(self, cls_scores: List[Tensor], bbox_preds: List[Tensor],
                        objectnesses: Optional[List[Tensor]] = None,
                        batch_img_metas: Optional[List[dict]] = None, cfg: Optional[dict] = None,
                        rescale: bool = True, with_nms: bool = True) -> list:
        """YOLOv5's post-processing on the expected edges."""
        return super().predict_by_feat(cls_scores, [self.edge_distances(p) for p in bbox_preds],
                                       objectnesses, batch_img_metas, cfg, rescale, with_nms)
