from .attention_connector import KDChannelAttention, KDSpatialAttention
from .projector_connector import KDChannelProjector

__all__ = ['KDChannelAttention', 'KDChannelProjector', 'KDSpatialAttention']
