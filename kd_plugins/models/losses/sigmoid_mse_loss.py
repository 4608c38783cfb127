"""Mean squared error between sigmoid probabilities and targets in [0, 1]: the objectness
label loss as G. Huang, A. Shen, Y. Hu, J. Du, J. Hu, Y. Liang, "Optimizing YOLOv5s Object
Detection through Knowledge Distillation algorithm" (arXiv:2410.12259, 2024) write it,
:math:`L_{obj} = \\mathrm{MSE}(O^S, y) + \\epsilon\\,\\mathrm{MSE}(O^S, O^T)`. YOLOv5 (and
MMYOLO's ``YOLOv5Head``) trains objectness with binary cross-entropy instead.

Reading: :math:`O^S` is the predicted objectness *probability* (the sigmoid of the head's
logit), so the squared error compares two numbers in [0, 1] (MMDetection's ``MSELoss`` would
compare the raw logit with the IoU target, treating a logit as a probability).

Not a distillation loss: it is a detection head's label loss, registered in MMYOLO's registry
so that a ``YOLOv5Head`` (or :class:`~kd_plugins.models.heads.KDYOLOv5LDHead`) builds it as its
``loss_obj``. ``configs/ld/ld-mse-obj_yolov5-s_yolov5-n_1xb8-30e_demo.py`` is the demo LD
distillation with it (docs/ld.md).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmyolo.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class SigmoidMSELoss(nn.Module):
    """``loss_weight * reduce((sigmoid(pred) - target) ** 2)``.

    Args:
        reduction (str): ``'mean'`` (default, as YOLOv5's ``loss_obj``), ``'sum'`` or
            ``'none'``.
        loss_weight (float): >= 0. Defaults to 1.0.

    ``forward(pred, target, weight=None, avg_factor=None, reduction_override=None)`` takes
    what MMDetection's losses take, so that MMYOLO's ignore-region path (``weight``,
    ``avg_factor``) works with it as with its ``CrossEntropyLoss``.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        if not loss_weight >= 0:
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight}')
        self.reduction = reduction
        self.loss_weight = float(loss_weight)

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'pred {tuple(pred.shape)} and target {tuple(target.shape)} differ '
                             'in shape')
        reduction = reduction_override or self.reduction
        loss = F.mse_loss(torch.sigmoid(pred), target.to(pred.dtype), reduction='none')
        if weight is not None:
            weight = weight.to(loss.dtype)
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction, avg_factor)
