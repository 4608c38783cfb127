"""Distillation losses between YOLOv5 models with the LD head (:class:`KDYOLOv5LDHead`):
localization distillation in KDR/ELR, classification KD in the KDR, objectness KD.

References: G. Huang, A. Shen, Y. Hu, J. Du, J. Hu, Y. Liang, "Optimizing YOLOv5s Object
Detection through Knowledge Distillation algorithm", arXiv:2410.12259, 2024 (teacher YOLOv5-L,
student YOLOv5-S; KDR/ELR, classification KD with gamma and temperature, objectness KD with
epsilon); LD from Z. Zheng et al., "Localization Distillation for Dense Object Detection",
CVPR 2022. Readings: docs/ld.md.

Inputs come from MMRazor recorders (``configs/ld/_base_/ld_yolov5_head.py``): the outputs of
both heads' ``head_module`` (class logits, edge logits, objectness logits, one (B, A * k, H, W)
tensor per level) and the ground truth handed to the student head's ``loss_by_feat``. The KDR
are the (anchor, cell) pairs YOLOv5's own assignment makes positive
(:func:`~kd_plugins.models.task_modules.yolov5_positive_masks`, the rule recomputed from the
ground truth: cheap, no network call); the ELR are the other anchors whose box overlaps a
ground-truth box with IoU >= ``elr_iou_thr``.

Like MMYOLO's YOLOv5 losses, each loss here is multiplied by the batch size, so that
``loss_weight`` means the same as the student head's loss weights.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmrazor.registry import MODELS
from torch import Tensor, nn

from ..task_modules.ld_regions import ELR_IOU_THR, check_elr_iou_thr
from .ld_loss import KDLocalizationDistillLoss, _check, objectness_kd, objectness_kl, sigmoid_kd

# anchors per level as (w, h) pixel pairs, None: the student head's
Anchors = Optional[Sequence[Sequence[Tuple[int, int]]]]
# YOLOv5's ground truth as its head's loss receives it: the fast pipeline's (N, 6) table of
# (image, class, x1, y1, x2, y2) or one InstanceData per image
GroundTruth = Union[Tensor, Sequence]


class _YOLOv5Regions:
    """KDR / ELR weights per level for YOLOv5 anchors (see the module docstring). Anchors,
    strides and assignment thresholds left ``None`` are taken from the student head by
    :meth:`bind` (the algorithm calls it at build time)."""

    def __init__(self, base_sizes: Anchors = None, strides: Optional[Sequence[int]] = None,
                 kdr_weight: float = 1.0, elr_weight: float = 0.5,
                 elr_iou_thr: float = ELR_IOU_THR, prior_match_thr: Optional[float] = None,
                 near_neighbor_thr: Optional[float] = None):
        self.base_sizes = None if base_sizes is None else \
            [[tuple(s) for s in level] for level in base_sizes]
        self.strides = None if strides is None else list(strides)
        self.kdr_weight = _check('kdr_weight', kdr_weight, 0.)
        self.elr_weight = _check('elr_weight', elr_weight, 0.)
        self.elr_iou_thr = check_elr_iou_thr(elr_iou_thr)
        self.prior_match_thr = prior_match_thr
        self.near_neighbor_thr = near_neighbor_thr

    def bind(self, head: nn.Module) -> None:
        """Take what is unset from a YOLOv5 head (anchors, strides, thresholds)."""
        if self.base_sizes is None:
            self.base_sizes = [[tuple(int(v) for v in s) for s in level]
                               for level in head.prior_generator.base_sizes]
        if self.strides is None:
            self.strides = [int(s) for s in head.featmap_strides]
        if self.prior_match_thr is None:
            self.prior_match_thr = head.prior_match_thr
        if self.near_neighbor_thr is None:
            self.near_neighbor_thr = head.near_neighbor_thr

    def anchors_per_cell(self) -> int:
        """Anchors per cell of the first level; a clear error while the anchors are unknown."""
        if self.base_sizes is None or self.strides is None:
            raise ValueError('anchors unknown: give base_sizes and strides, or build the loss '
                             'inside KDYOLOTeacherDistill, which takes them from the student '
                             'head')
        return len(self.base_sizes[0])

    def check_levels(self, preds: Sequence[Tensor], per_anchor: int, what: str) -> None:
        self.anchors_per_cell()
        if len(self.base_sizes) != len(self.strides):
            raise ValueError(f'{len(self.base_sizes)} levels of base_sizes for '
                             f'{len(self.strides)} strides: use the anchors and strides of the '
                             'heads')
        if len(preds) != len(self.strides):
            raise ValueError(f'{len(preds)} levels of {what} for {len(self.strides)} strides')
        for p, sizes in zip(preds, self.base_sizes):
            if p.shape[1] != len(sizes) * per_anchor:
                raise ValueError(f'{what} has {p.shape[1]} channels, expected {len(sizes)} '
                                 f'anchors x {per_anchor}: record bbox_head.head_module of '
                                 'KDYOLOv5LDHead, with the anchors of the loss config')

    @torch.no_grad()
    def weights(self, gt: GroundTruth, batch_size: int,
                featmap_sizes: List[Tuple[int, int]]) -> List[Tensor]:
        """(B, A, H, W) weights per level: ``kdr_weight`` on KDR, ``elr_weight`` on ELR."""
        from ..task_modules import (anchor_boxes, batch_region_weights, gt_table,
                                    yolov5_positive_masks)
        gt = gt_table(gt)
        positives = yolov5_positive_masks(gt, batch_size, featmap_sizes, self.strides,
                                          self.base_sizes, self.prior_match_thr,
                                          self.near_neighbor_thr)
        if self.elr_weight == 0:
            return [p.float() * self.kdr_weight for p in positives]
        out = []
        for pos, size, stride, sizes in zip(positives, featmap_sizes, self.strides,
                                            self.base_sizes):
            boxes = anchor_boxes(size, stride, sizes, pos.device).reshape(-1, 4)
            w, _ = batch_region_weights(boxes, gt[:, 2:6], gt[:, 0], pos.reshape(batch_size, -1),
                                        self.elr_iou_thr, self.kdr_weight, self.elr_weight)
            out.append(w.view(pos.shape))
        return out


@MODELS.register_module()
class KDYOLOv5LDLoss(nn.Module):
    """Localization distillation between two :class:`KDYOLOv5LDHead`: the KL divergence of
    the teacher's and the student's edge distributions softened by T (times T^2,
    :class:`KDLocalizationDistillLoss`), averaged over the KDR and ELR of all levels with their
    weights, times the batch size.

    Args:
        num_bins (int): Bins per edge, as in both heads. Defaults to 16.
        temperature (float): T > 0. Defaults to 10.
        kdr_weight, elr_weight (float): >= 0. Defaults to 1 and 0.5.
        elr_iou_thr (float): In (0, 1]. Defaults to 0.3.
        loss_weight (float): >= 0. Defaults to 0.01.
        base_sizes, strides, prior_match_thr, near_neighbor_thr: YOLOv5's anchors (pixels),
            strides and assignment thresholds; ``None`` (default): the student head's, set by
            :class:`KDYOLOTeacherDistill` through :meth:`bind_student_head`.
    """

    def __init__(self, num_bins: int = 16, temperature: float = 10.0, kdr_weight: float = 1.0,
                 elr_weight: float = 0.5, elr_iou_thr: float = ELR_IOU_THR,
                 loss_weight: float = 0.01, base_sizes: Anchors = None,
                 strides: Optional[Sequence[int]] = None, prior_match_thr: Optional[float] = None,
                 near_neighbor_thr: Optional[float] = None):
        super().__init__()
        self.regions = _YOLOv5Regions(base_sizes, strides, kdr_weight, elr_weight, elr_iou_thr,
                                      prior_match_thr, near_neighbor_thr)
        self.num_bins = num_bins
        self.ld = KDLocalizationDistillLoss(temperature, loss_weight)

    def bind_student_head(self, head: nn.Module) -> None:
        """Anchors, strides and thresholds left unset come from the student head; the head's
        ``num_bins`` must be this loss's."""
        self.regions.bind(head)
        if getattr(head, 'num_bins', self.num_bins) != self.num_bins:
            raise ValueError(f'the student head has {head.num_bins} bins per edge, the LD loss '
                             f'{self.num_bins}: set the same num_bins')

    def forward(self, preds_S: Sequence[Tensor], preds_T: Sequence[Tensor],
                gt: GroundTruth) -> Tensor:
        per_anchor = 4 * self.num_bins
        self.regions.check_levels(preds_S, per_anchor, 'student edge logits')
        self.regions.check_levels(preds_T, per_anchor, 'teacher edge logits')
        b = preds_S[0].shape[0]
        weights = self.regions.weights(gt, b, [tuple(p.shape[2:]) for p in preds_S])
        flat_s, flat_t, flat_w = [], [], []
        for s, t, w in zip(preds_S, preds_T, weights):
            keep = w > 0  # (B, A, H, W)
            a, (h, wd) = w.shape[1], s.shape[2:]
            for src, dst in ((s, flat_s), (t, flat_t)):
                dst.append(src.view(b, a, 4, self.num_bins, h, wd).permute(0, 1, 4, 5, 2, 3)[keep])
            flat_w.append(w[keep])
        loss = self.ld(torch.cat(flat_s), torch.cat(flat_t), weight=torch.cat(flat_w))
        return loss * b


@MODELS.register_module()
class KDYOLOv5ClsKDLoss(nn.Module):
    r"""The distillation part of Huang et al.'s classification loss,
    :math:`L_{cls} = \gamma\,\mathrm{CE}(P^S, P^T) + (1 - \gamma)\,\mathrm{CE}(P^S, y)`:
    :math:`\gamma\,T^2\,\mathrm{BCE}(\sigma(z^S/T), \sigma(z^T/T))` averaged over the classes
    and the KDR (the student's positives) of each level, summed over levels and multiplied by
    the batch size: the aggregation of YOLOv5's own ``loss_cls``.
    The cross-entropy is logged minus the teacher's entropy (the KL divergence: same gradients,
    0 when the student matches the teacher; at large T the plain CE is dominated by a constant).

    The label part is the student head's own ``loss_cls``: with
    ``scale_student_label_loss=True`` (default) the algorithm (:class:`KDYOLOTeacherDistill`)
    multiplies its weight by ``1 - gamma`` once at build time, and logs it
    (``student_loss_scales``), so ``gamma = 0`` is exactly the plain student. ``False`` leaves
    the label loss at its full weight (then the total is ``gamma * KD + CE``, not Huang et al.'s
    convex combination). ``loss_weight`` defaults to the student head's ``loss_cls`` weight, so
    that gamma splits one budget.

    Args:
        gamma (float): In [0, 1]. Defaults to 0.5.
        temperature (float): T > 0. Defaults to 1.
        loss_weight (float, optional): >= 0. ``None`` (default): the student head's own
            ``loss_cls`` weight (before the ``1 - gamma`` scaling).
        scale_student_label_loss (bool): Scale the student head's ``loss_cls`` weight by
            ``1 - gamma`` (see above). Defaults to True.
        base_sizes, strides, prior_match_thr, near_neighbor_thr: as :class:`KDYOLOv5LDLoss`.
    """

    def __init__(self, gamma: float = 0.5, temperature: float = 1.0,
                 loss_weight: Optional[float] = None, scale_student_label_loss: bool = True,
                 base_sizes: Anchors = None, strides: Optional[Sequence[int]] = None,
                 prior_match_thr: Optional[float] = None,
                 near_neighbor_thr: Optional[float] = None):
        super().__init__()
        self.scale_student_label_loss = bool(scale_student_label_loss)
        self.regions = _YOLOv5Regions(base_sizes, strides, 1.0, 0.0, 1.0, prior_match_thr,
                                      near_neighbor_thr)
        self.gamma = _check('gamma', gamma, 0., 1.)
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = float(temperature)
        self.loss_weight = None if loss_weight is None else _check('loss_weight', loss_weight, 0.)

    def bind_student_head(self, head: nn.Module) -> None:
        self.regions.bind(head)
        if self.loss_weight is None:
            self.loss_weight = float(head.loss_cls.loss_weight)

    @property
    def student_loss_scales(self) -> Dict[str, float]:
        """Factors the algorithm applies to the student head's own loss weights."""
        return {'loss_cls': 1.0 - self.gamma} if self.scale_student_label_loss else {}

    def forward(self, preds_S: Sequence[Tensor], preds_T: Sequence[Tensor],
                gt: GroundTruth) -> Tensor:
        b = preds_S[0].shape[0]
        if self.gamma == 0:
            return sum(p.sum() * 0 for p in preds_S)
        if self.loss_weight is None:
            raise ValueError('loss_weight unknown: give it, or build the loss inside '
                             "KDYOLOTeacherDistill, which takes the student head's loss_cls weight")
        n_cls = preds_S[0].shape[1] // self.regions.anchors_per_cell()
        self.regions.check_levels(preds_S, n_cls, 'student class logits')
        self.regions.check_levels(preds_T, n_cls, 'teacher class logits')
        masks = self.regions.weights(gt, b, [tuple(p.shape[2:]) for p in preds_S])
        loss = preds_S[0].sum() * 0
        for s, t, m in zip(preds_S, preds_T, masks):
            keep = m > 0
            if not keep.any():
                continue
            a, (h, w) = m.shape[1], s.shape[2:]
            s = s.view(b, a, n_cls, h, w).permute(0, 1, 3, 4, 2)[keep]
            t = t.view(b, a, n_cls, h, w).permute(0, 1, 3, 4, 2)[keep]
            loss = loss + sigmoid_kd(s, t, self.temperature, relative=True).mean()
        return self.loss_weight * self.gamma * loss * b


@MODELS.register_module()
class KDYOLOv5ObjKDLoss(nn.Module):
    r"""The distillation part of Huang et al.'s objectness loss,
    :math:`L_{obj} = \mathrm{MSE}(O^S, y) + \epsilon\,\mathrm{MSE}(O^S, O^T)`:
    :math:`\epsilon \sum_l w_l\,\mathrm{MSE}(\sigma(O^S_l), \sigma(O^T_l))` over every anchor and
    cell of level l (objectness is dense), with YOLOv5's level weights :math:`w_l`, times the
    batch size. The label part stays the student head's ``loss_obj`` (YOLOv5's BCE against IoU
    targets; Huang et al. write MSE), so ``epsilon = 0`` is exactly the plain student.

    ``form='kl'`` (this project's reading, not Huang et al.'s) replaces the squared error of the
    probabilities by the binary KL divergence :math:`\mathrm{KL}(\sigma(O^T) \| \sigma(O^S))`
    (the BCE against the teacher's probability minus the teacher's own entropy: the gradient
    of the BCE, :math:`\sigma(O^S) - \sigma(O^T)` per logit, and 0 when the student matches),
    the form of the student's own BCE objectness loss. The squared error's gradient,
    :math:`2(\sigma(O^S) - \sigma(O^T))\,\sigma(O^S)(1 - \sigma(O^S))`, vanishes where the
    student is confidently wrong, e.g. a cell the teacher calls an object at 0.8 and the student
    at 0.01 gets 2 % of the KL's push.

    Args:
        epsilon (float): >= 0. Defaults to 1.
        loss_weight (float, optional): >= 0. ``None`` (default): the student head's own
            ``loss_obj`` weight.
        level_weights (list[float], optional): YOLOv5's ``obj_level_weights``; ``None``
            (default): the student head's, set by :class:`KDYOLOTeacherDistill`.
        form (str): ``'mse'`` (default, Huang et al.'s) or ``'kl'``, see above.
    """

    def __init__(self, epsilon: float = 1.0, loss_weight: Optional[float] = None,
                 level_weights: Optional[Sequence[float]] = None, form: str = 'mse'):
        super().__init__()
        if form not in ('mse', 'kl'):
            raise ValueError(f"form must be 'mse' or 'kl', got {form!r}")
        self.form = form
        self.epsilon = _check('epsilon', epsilon, 0.)
        self.level_weights = None if level_weights is None else [float(w) for w in level_weights]
        self.loss_weight = None if loss_weight is None else _check('loss_weight', loss_weight, 0.)

    def bind_student_head(self, head: nn.Module) -> None:
        if self.level_weights is None:
            self.level_weights = [float(w) for w in head.obj_level_weights]
        if self.loss_weight is None:
            self.loss_weight = float(head.loss_obj.loss_weight)

    def forward(self, preds_S: Sequence[Tensor], preds_T: Sequence[Tensor]) -> Tensor:
        if self.level_weights is None or self.loss_weight is None:
            raise ValueError('level_weights / loss_weight unknown: give them, or build the loss '
                             'inside KDYOLOTeacherDistill, which takes the student head\'s')
        if len(preds_S) != len(self.level_weights) or len(preds_T) != len(preds_S):
            raise ValueError(f'{len(preds_S)} student / {len(preds_T)} teacher objectness levels '
                             f'for {len(self.level_weights)} level_weights')
        term = objectness_kl if self.form == 'kl' else objectness_kd
        loss = sum(w * term(s, t).mean()
                   for w, s, t in zip(self.level_weights, preds_S, preds_T))
        return self.loss_weight * self.epsilon * loss * preds_S[0].shape[0]
