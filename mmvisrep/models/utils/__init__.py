from .soco_roi_pool import multilevel_roi_align, normalized_boxes_to_rois

__all__ = ['multilevel_roi_align', 'normalized_boxes_to_rois']
