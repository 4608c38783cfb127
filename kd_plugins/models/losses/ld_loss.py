"""Localization distillation for YOLO: the LD loss on box edges as distributions, its dense
(YOLOv8) form and the dense classification KD beside it, and the per-location classification
and objectness KD terms that the YOLOv5 losses of ``ld_yolov5_loss.py`` assemble into Huang et
al.'s three losses.

References:
    G. Huang, A. Shen, Y. Hu, J. Du, J. Hu, Y. Liang, "Optimizing YOLOv5s Object Detection
    through Knowledge Distillation algorithm", arXiv:2410.12259, 2024 (position-information
    distillation for YOLOv5, teacher YOLOv5-L, student YOLOv5-S);
    built on Z. Zheng et al., "Localization Distillation for Dense Object Detection", CVPR 2022,
    https://arxiv.org/abs/2102.12252 (LD), and X. Li et al., "Generalized Focal Loss: Learning
    Qualified and Distributed Bounding Boxes for Dense Object Detection", NeurIPS 2020 (box
    edges as distributions).

Shape shorthand: M locations (after region selection, flattened), E = 4 box edges,
n bins per edge, C classes.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmrazor.registry import MODELS
from torch import Tensor, nn

from ..task_modules.ld_regions import ELR_IOU_THR, PRIOR_SCALE, check_elr_iou_thr


def _check(name: str, value: float, low: float, high: float = float('inf')) -> float:
    if not low <= value <= high:
        bounds = f'in [{low}, {high}]' if high != float('inf') else f'>= {low}'
        raise ValueError(f'{name} must be {bounds}, got {value}')
    return value


def _weighted_mean(values: Tensor, weight: Optional[Tensor], avg_factor: Optional[float]):
    """sum(weight * values) / avg_factor; avg_factor defaults to sum(weight) (or the count).
    An empty region (all weights 0) gives 0, still connected to the graph."""
    if weight is None:
        weight = torch.ones_like(values)
    weight = weight.to(values.dtype).expand_as(values)
    total = (values * weight).sum()
    if avg_factor is None:
        avg_factor = weight.sum()
    if float(avg_factor) <= 0:
        return total * 0.
    return total / avg_factor


def sigmoid_kd(preds_S: Tensor, preds_T: Tensor, temperature: float,
               relative: bool = False) -> Tensor:
    """Classification KD term per location for sigmoid classifiers: T^2 times the binary
    cross-entropy of the student's softened probabilities against the teacher's, averaged over
    the classes (last dim). The teacher is detached. ``relative=True`` subtracts the teacher's
    own binary entropy (a constant for the student): the same gradients, but the value is the
    KL divergence, 0 when the student matches (at T = 25 the plain CE is ~0.69 T^2 = 433)."""
    t = temperature
    soft = torch.sigmoid(preds_T.detach() / t)
    ce = F.binary_cross_entropy_with_logits(preds_S / t, soft, reduction='none')
    if relative:
        ce = ce - F.binary_cross_entropy_with_logits(preds_T.detach() / t, soft,
                                                     reduction='none')
    return t * t * ce.mean(-1)


def objectness_kd(preds_S: Tensor, preds_T: Tensor) -> Tensor:
    """Objectness KD term per element: squared error between the student's and the (detached)
    teacher's objectness probabilities."""
    return (torch.sigmoid(preds_S) - torch.sigmoid(preds_T.detach()))**2


def objectness_kl(preds_S: Tensor, preds_T: Tensor) -> Tensor:
    """Objectness KD term per element, KL form: the binary KL divergence from the (detached)
    teacher's objectness probability to the student's (:func:`sigmoid_kd` at T = 1, relative,
    of each element alone)."""
    return sigmoid_kd(preds_S[..., None], preds_T[..., None], 1.0, relative=True)


@MODELS.register_module()
class KDLocalizationDistillLoss(nn.Module):
    r"""Localization distillation (LD): KL divergence between the teacher's and the student's
    distributions of each box edge, softened by a temperature.

    Each edge e of {t, b, l, r} has n logits over the bins e_1..e_n of its regression range;
    :math:`p^T = \mathrm{softmax}(z^T / T)`, :math:`p^S = \mathrm{softmax}(z^S / T)` and

    .. math::
        L = \frac{T^2}{A} \sum_{m} w_m \sum_{e} \mathrm{KL}(p^T_{me} \,\|\, p^S_{me}),
        \quad \mathrm{KL}(p \| q) = \sum_i p_i \log \frac{p_i}{q_i}

    with :math:`w_m` the region weight of location m (KDR / ELR weights, see
    :func:`kd_plugins.models.task_modules.ld_region_weights`) and A the normaliser
    (``avg_factor``, default :math:`\sum_m w_m`, i.e. a weighted mean over locations of the
    KL summed over the four edges).

    Reading: the KL is the full divergence (summed over bins). MMDetection's LD head averages
    it over bins instead and divides by 4 edges; that is this loss times ``1 / (4 n)``, a
    constant that ``loss_weight`` absorbs. :math:`T^2` keeps the gradient scale independent of
    the temperature (Hinton et al.), which matters for Huang et al.'s large temperatures
    (25 ... 45).

    Args:
        temperature (float): T > 0. Defaults to 10.
        loss_weight (float): >= 0. Defaults to 1.0.
        num_bins (int, optional): n, when the inputs come flat as (..., E * n).

    Inputs of ``forward``: ``preds_S``, ``preds_T`` of shape (..., E, n) (or (..., E * n) with
    ``num_bins`` given); ``weight`` of shape (...) per location; the teacher is detached.
    """

    def __init__(self, temperature: float = 10.0, loss_weight: float = 1.0,
                 num_bins: Optional[int] = None):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = float(temperature)
        self.loss_weight = _check('loss_weight', loss_weight, 0.)
        self.num_bins = num_bins

    def forward(self, preds_S: Tensor, preds_T: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(f'student and teacher edge logits differ in shape: '
                             f'{tuple(preds_S.shape)} vs {tuple(preds_T.shape)} (same number of '
                             'bins per edge needed: set the same reg_max in both heads)')
        if self.num_bins is not None:
            preds_S = preds_S.reshape(*preds_S.shape[:-1], -1, self.num_bins)
            preds_T = preds_T.reshape(*preds_T.shape[:-1], -1, self.num_bins)
        t = self.temperature
        log_p_s = F.log_softmax(preds_S / t, dim=-1)
        log_p_t = F.log_softmax(preds_T.detach() / t, dim=-1)
        kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1).sum(-1)  # per location
        return self.loss_weight * t * t * _weighted_mean(kl, weight, avg_factor)


@MODELS.register_module()
class KDDenseLDLoss(nn.Module):
    """LD on a dense head that already predicts edge distributions (YOLOv8's DFL branch), in
    the KDR and ELR of :func:`kd_plugins.models.task_modules.ld_region_weights`.

    Everything it needs comes from MMRazor recorders of the student's and teacher's head (see
    ``configs/ld/``): the edge logits of both (``bbox_head.head_module`` outputs, item 2: one
    (B, HW, 4, n) tensor per level), and the student's assigner call (``bbox_head.assigner``):
    its inputs give the priors (P, 4) as (x, y, stride_w, stride_h), the padded ground truth
    (B, G, 4) and its padding flags (B, G, 1); its output ``fg_mask_pre_prior`` (B, P) marks the
    positives, i.e. the KDR. The ELR are the other priors whose square prior box
    (``prior_scale`` x stride) overlaps a ground-truth box with IoU >= ``elr_iou_thr``.

    The loss is :class:`KDLocalizationDistillLoss` averaged over the weighted regions of the
    whole batch.

    Args:
        temperature (float): T > 0.
        kdr_weight, elr_weight (float): >= 0, region weights.
        elr_iou_thr (float): in (0, 1]. Defaults to 0.3.
        prior_scale (float): side of the square prior box in strides. Defaults to 4: with 0.3,
            an object about the prior's size is ELR at the neighbouring locations of its
            positives (drawn by tools/analysis/draw_ld_regions.py).
        loss_weight (float): >= 0.
    """

    def __init__(self, temperature: float = 10.0, kdr_weight: float = 1.0,
                 elr_weight: float = 0.5, elr_iou_thr: float = ELR_IOU_THR,
                 prior_scale: float = PRIOR_SCALE,
                 loss_weight: float = 1.0):
        super().__init__()
        self.ld = KDLocalizationDistillLoss(temperature, loss_weight)
        self.kdr_weight = _check('kdr_weight', kdr_weight, 0.)
        self.elr_weight = _check('elr_weight', elr_weight, 0.)
        self.elr_iou_thr = check_elr_iou_thr(elr_iou_thr)
        if not prior_scale > 0:
            raise ValueError(f'prior_scale must be > 0, got {prior_scale}')
        self.prior_scale = prior_scale

    def region_weights(self, priors: Tensor, gt_bboxes: Tensor, pad_flag: Tensor,
                       fg_mask: Tensor) -> Tensor:
        """(B, P) weights: ``kdr_weight`` on positives, ``elr_weight`` on ELR, else 0."""
        from ..task_modules import batch_region_weights, point_prior_boxes
        boxes = point_prior_boxes(priors[:, :2], priors[:, 2], self.prior_scale)
        real = pad_flag[..., 0] > 0  # (B, G): the padded ground truth's real boxes
        image = torch.arange(real.shape[0], device=real.device)[:, None].expand_as(real)
        weights, _ = batch_region_weights(boxes, gt_bboxes[real], image[real], fg_mask,
                                          self.elr_iou_thr, self.kdr_weight, self.elr_weight)
        return weights

    def forward(self, preds_S: Union[Tensor, Sequence[Tensor]],
                preds_T: Union[Tensor, Sequence[Tensor]], priors: Tensor, gt_bboxes: Tensor,
                pad_flag: Tensor, assigned: dict) -> Tensor:
        dist_s = torch.cat(list(preds_S), dim=1) if isinstance(preds_S, (list, tuple)) \
            else preds_S
        dist_t = torch.cat(list(preds_T), dim=1) if isinstance(preds_T, (list, tuple)) \
            else preds_T
        fg_mask = assigned['fg_mask_pre_prior']
        if dist_s.shape[:2] != fg_mask.shape:
            raise ValueError(f'edge logits cover {tuple(dist_s.shape[:2])} (batch, priors) but '
                             f'the assigner {tuple(fg_mask.shape)}: record the head_module '
                             'outputs and the assigner of the same (student) head')
        with torch.no_grad():
            weights = self.region_weights(priors, gt_bboxes, pad_flag, fg_mask)
        return self.ld(dist_s, dist_t, weight=weights.to(dist_s.dtype))


@MODELS.register_module()
class KDDenseClsKDLoss(nn.Module):
    r"""Huang et al.'s classification KD (:class:`KDYOLOv5ClsKDLoss`) for a dense anchor-free
    head with sigmoid classes (YOLOv8), beside :class:`KDDenseLDLoss`:
    :math:`L_{cls} = \gamma\,\mathrm{KD}(P^S, P^T) + (1 - \gamma)\,\mathrm{CE}(P^S, y)`, the KD
    part in the KDR (the positives of the student's own assignment, ``fg_mask_pre_prior`` of its
    assigner call):

    .. math::
        \mathrm{KD} = w\,\gamma\,B\,\frac{T^2}{|KDR|} \sum_{m \in KDR} \sum_{c}
        \big[\mathrm{BCE}(\sigma(z^S_{mc}/T), \sigma(z^T_{mc}/T)) - H(\sigma(z^T_{mc}/T))\big]

    i.e. the binary KL divergence summed over the classes, averaged over the KDR locations of
    the batch and multiplied by the batch size B, the aggregation of MMYOLO's YOLOv8
    ``loss_cls`` (summed over classes, divided by the assigned scores, times B); w is
    ``loss_weight``. Reading: Huang et al. define the loss for YOLOv5's anchors; these
    normalisers for YOLOv8 are this project's choice. The teacher's binary entropy H is a
    constant for the student: subtracting it logs the KL (0 when the student matches).

    The label part is the student head's own ``loss_cls``; with ``scale_student_label_loss``
    (default) the algorithm multiplies its weight by ``1 - gamma`` at build time, and
    ``loss_weight=None`` takes that head's ``loss_cls`` weight (before the scaling), as
    :class:`KDYOLOv5ClsKDLoss` does.

    Args:
        gamma (float): In [0, 1]. Defaults to 0.5 (the YOLOv5 configs' value).
        temperature (float): T > 0. Defaults to 1.
        loss_weight (float, optional): >= 0; None (default): the student head's ``loss_cls``
            weight, taken by ``bind_student_head``.
        scale_student_label_loss (bool): Defaults to True.

    Inputs of ``forward``: the class logits of both heads (``bbox_head.head_module`` outputs,
    item 0: one (B, C, H, W) tensor per level) and the student's assigner output.
    """

    def __init__(self, gamma: float = 0.5, temperature: float = 1.0,
                 loss_weight: Optional[float] = None, scale_student_label_loss: bool = True):
        super().__init__()
        self.gamma = _check('gamma', gamma, 0., 1.)
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = float(temperature)
        self.loss_weight = None if loss_weight is None else _check('loss_weight', loss_weight, 0.)
        self.scale_student_label_loss = bool(scale_student_label_loss)

    def bind_student_head(self, head: nn.Module) -> None:
        if self.loss_weight is None:
            self.loss_weight = float(head.loss_cls.loss_weight)

    @property
    def student_loss_scales(self) -> dict:
        """Factors the algorithm applies to the student head's own loss weights."""
        return {'loss_cls': 1.0 - self.gamma} if self.scale_student_label_loss else {}

    def forward(self, preds_S: Sequence[Tensor], preds_T: Sequence[Tensor],
                assigned: dict) -> Tensor:
        if self.loss_weight is None:
            raise ValueError('loss_weight unknown: give it, or build the loss inside '
                             "KDYOLOTeacherDistill, which takes the student head's loss_cls weight")

        def flat(preds):  # (B, C, H, W) per level -> (B, sum HW, C), MMYOLO's prior order
            return torch.cat([p.permute(0, 2, 3, 1).reshape(p.shape[0], -1, p.shape[1])
                              for p in preds], dim=1)

        shapes_s, shapes_t = [tuple(p.shape) for p in preds_S], [tuple(p.shape) for p in preds_T]
        if shapes_s != shapes_t:
            raise ValueError(f'student class logits {shapes_s} and teacher {shapes_t} (per '
                             'level: batch, classes, height, width) differ: same classes and '
                             'strides needed')
        s, t = flat(preds_S), flat(preds_T)
        fg_mask = assigned['fg_mask_pre_prior'] > 0
        if fg_mask.shape != s.shape[:2]:
            raise ValueError(f'class logits cover {tuple(s.shape[:2])} (batch, priors) but the '
                             f'assigner {tuple(fg_mask.shape)}: record the head_module outputs '
                             'and the assigner of the same (student) head')
        if self.gamma == 0 or not fg_mask.any():
            return s.sum() * 0
        n_cls = s.shape[-1]
        kl = sigmoid_kd(s[fg_mask], t[fg_mask], self.temperature, relative=True) * n_cls
        return self.loss_weight * self.gamma * kl.mean() * s.shape[0]
