from .cross_modal_attention import CrossModalAttentionHead
from .mug_text_decoder import MUGTextDecoder
from .set_predictor import SetPredictor
from .soco_roi_head import SoCoRoIHead, SoCoSharedConvFCBBoxHead

__all__ = [
    'SoCoRoIHead', 'SoCoSharedConvFCBBoxHead', 'CrossModalAttentionHead', 'MUGTextDecoder',
    'SetPredictor'
]
