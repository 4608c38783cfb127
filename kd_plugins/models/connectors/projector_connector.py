"""Channel alignment (student width -> teacher width). Chains (projector -> attention) are
MMRazor's own: a list of connector configs under one connector name, applied in order.

Shape shorthand: N batch, C channels, H x W the feature map.
"""
from typing import Dict, Optional

import torch
from mmcv.cnn import ConvModule
from mmrazor.models.architectures.connectors.base_connector import BaseConnector
from mmrazor.registry import MODELS


@MODELS.register_module()
class KDChannelProjector(BaseConnector):
    """A 1x1 convolution (+ norm) from ``student_channels`` to ``teacher_channels``.

    E.g. YOLOv8-N neck outputs 64/128/256 -> YOLOv8-L 256/512/512.

    Args:
        student_channels (int): C of the student map.
        teacher_channels (int): C of the teacher map.
        norm_cfg (dict, optional): Norm after the convolution. Defaults to BN.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> connectors = dict(s0=dict(type='KDChannelProjector', student_channels=64,
        ...                           teacher_channels=256))
    """

    def __init__(self, student_channels: int, teacher_channels: int,
                 norm_cfg: Optional[Dict] = dict(type='BN'), init_cfg: Optional[Dict] = None):
        super().__init__(init_cfg)
        self.student_channels = student_channels
        self.proj = ConvModule(student_channels, teacher_channels, 1, bias=norm_cfg is None,
                               norm_cfg=norm_cfg, act_cfg=None)

    def forward_train(self, feature: torch.Tensor) -> torch.Tensor:
        """(N, student_channels, H, W) -> (N, teacher_channels, H, W)."""
        if feature.shape[1] != self.student_channels:
            raise ValueError(f'KDChannelProjector(student_channels={self.student_channels}) got '
                             f'a map with {feature.shape[1]} channels {tuple(feature.shape)}')
        return self.proj(feature)
