"""Spatial and channel attention for channel-wise distillation, as MMRazor connectors.

Shape shorthand: N batch, C channels, H x W the feature map.

References: Y. Wang, S. Wang, W. Lan, L. Zhang, Z. Hong, H. Yao, Y. Wang, "Enhanced Knowledge
Distillation for YOLO via Attention Mechanisms in Smart City Applications" (CWD with spatial and
channel attention, teacher YOLOv8-L, student YOLOv8-N); the modules follow J. Hu et al.,
"Squeeze-and-Excitation Networks", CVPR 2018 (channel attention) and S. Woo et al., "CBAM:
Convolutional Block Attention Module", ECCV 2018 (spatial attention from channel mean and max).

Where they act (the anti-collapse design): Wang et al. apply the attention modules to "the
extracted feature maps" before the CWD loss without saying on which side. If a learnable mask
multiplied *both* student and teacher maps, the attention alone could minimise the loss by
driving the mask towards zero: both maps become flat, both spatial distributions uniform, and
the divergence vanishes without the student learning anything
(``tests/test_models/test_losses/test_cwd.py`` shows this collapse). Here the attention
connectors are put on the student side only; the teacher's maps reach the loss through no
learnable module, so the target distributions are fixed and the attention can only help the
student's features match them. The test freezes the student and optimises the attention alone:
the loss stays far from zero.
"""
from typing import Dict, Optional

import torch
from mmcv.cnn import build_activation_layer
from mmrazor.models.architectures.connectors.base_connector import BaseConnector
from mmrazor.registry import MODELS
from torch import nn


@MODELS.register_module()
class KDSpatialAttention(BaseConnector):
    """Spatial attention: a (N, 1, H, W) mask from channel mean and max multiplies the features.

    mask = sigmoid(conv_k([mean_c(x), max_c(x)])), output = x * mask.

    Args:
        kernel_size (int): Odd kernel size of the convolution. Defaults to 7.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> connectors = dict(s0_att=dict(type='KDSpatialAttention', kernel_size=7))
    """

    def __init__(self, kernel_size: int = 7, init_cfg: Optional[Dict] = None):
        super().__init__(init_cfg)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be odd and >= 1, got {kernel_size}')
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def mask(self, feature: torch.Tensor) -> torch.Tensor:
        """The (N, 1, H, W) spatial mask in (0, 1)."""
        desc = torch.cat([feature.mean(1, keepdim=True), feature.amax(1, keepdim=True)], 1)
        return torch.sigmoid(self.conv(desc))

    def forward_train(self, feature: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        return feature * self.mask(feature)


@MODELS.register_module()
class KDChannelAttention(BaseConnector):
    """Channel attention: (N, C, 1, 1) weights from pooled features scale the channels.

    w = sigmoid(fc2(act(fc1(avgpool(x))))), output = x * w.

    Args:
        channels (int): C of the features it receives.
        reduction (int): Hidden width is ``max(channels // reduction, 1)``. Defaults to 16.
        act_cfg (dict): Activation between the two layers. Defaults to ReLU.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> connectors = dict(s0_att=dict(type='KDChannelAttention', channels=256))
    """

    def __init__(self, channels: int, reduction: int = 16,
                 act_cfg: Dict = dict(type='ReLU'), init_cfg: Optional[Dict] = None):
        super().__init__(init_cfg)
        if channels < 1 or reduction < 1:
            raise ValueError(f'channels and reduction must be >= 1, got {channels}, {reduction}')
        hidden = max(channels // reduction, 1)
        self.channels = channels
        self.fc1 = nn.Linear(channels, hidden)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden, channels)

    def weights(self, feature: torch.Tensor) -> torch.Tensor:
        """The (N, C, 1, 1) channel weights in (0, 1)."""
        if feature.shape[1] != self.channels:
            raise ValueError(f'KDChannelAttention(channels={self.channels}) got a map with '
                             f'{feature.shape[1]} channels {tuple(feature.shape)}')
        w = torch.sigmoid(self.fc2(self.act(self.fc1(feature.mean((2, 3))))))
        return w[:, :, None, None]

    def forward_train(self, feature: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        return feature * self.weights(feature)
