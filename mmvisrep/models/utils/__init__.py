from .soco_roi_pool import multilevel_roi_align, normalized_boxes_to_rois
from .text_encoder import HFTextEncoder, build_text_encoder

__all__ = [
    'multilevel_roi_align', 'normalized_boxes_to_rois', 'HFTextEncoder', 'build_text_encoder'
]
