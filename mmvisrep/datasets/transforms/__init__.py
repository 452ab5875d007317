from . import box_ops  # noqa: F401
from .orl_patches import LoadORLNeighbour, ORLCropPatch, ORLSampleRoIPairs
from .soco_views import SoCoViews

__all__ = ['LoadORLNeighbour', 'ORLCropPatch', 'ORLSampleRoIPairs', 'SoCoViews']
