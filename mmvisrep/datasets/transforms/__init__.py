from . import box_ops  # noqa: F401
from .soco_views import SoCoViews

__all__ = ['SoCoViews']
