from .attention_connector import KDChannelAttention, KDSpatialAttention
from .projector_connector import KDChannelProjector, KDConnectorChain

__all__ = ['KDChannelAttention', 'KDChannelProjector', 'KDConnectorChain', 'KDSpatialAttention']
