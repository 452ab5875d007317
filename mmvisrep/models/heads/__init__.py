from .soco_roi_head import SoCoRoIHead, SoCoSharedConvFCBBoxHead

__all__ = ['SoCoRoIHead', 'SoCoSharedConvFCBBoxHead']
