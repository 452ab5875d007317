from .cross_modal_attention import CrossModalAttentionHead
from .soco_roi_head import SoCoRoIHead, SoCoSharedConvFCBBoxHead

__all__ = ['SoCoRoIHead', 'SoCoSharedConvFCBBoxHead', 'CrossModalAttentionHead']
