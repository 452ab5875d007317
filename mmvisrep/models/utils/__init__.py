from .hungarian import hungarian_match, match_set_predictions, set_prediction_cost
from .soco_roi_pool import multilevel_roi_align, normalized_boxes_to_rois
from .text_encoder import HFTextEncoder, build_text_encoder
from .vlp_masking import mask_patches, mask_tokens, sample_itm_negatives

__all__ = [
    'multilevel_roi_align', 'normalized_boxes_to_rois', 'HFTextEncoder', 'build_text_encoder',
    'hungarian_match', 'match_set_predictions', 'set_prediction_cost', 'mask_tokens',
    'sample_itm_negatives', 'mask_patches'
]
