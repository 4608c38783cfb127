"""Box coders of this package's heads (MMYOLO's ``TASK_UTILS`` registry)."""
import torch
from mmyolo.registry import TASK_UTILS
from torch import Tensor


@TASK_UTILS.register_module()
class AnchorPointDistanceCoder:
    """Boxes from edge distances (left, top, right, bottom, in strides) measured from the
    centre of each anchor box (the anchor point)."""

    def decode(self, priors: Tensor, distances: Tensor, stride: Tensor) -> Tensor:
        """``priors`` (..., P, 4) xyxy anchors, ``distances`` (B, P, 4), ``stride`` (P,) ->
        (B, P, 4) xyxy boxes."""
        centre = (priors[..., :2] + priors[..., 2:]) / 2
        d = distances * stride[:, None]
        return torch.cat([centre - d[..., :2], centre + d[..., 2:]], dim=-1)
