from . import box_ops  # noqa: F401
from .caption_tokenize import TokenizeCaption
from .captions import TokenizeUtterances
from .orl_patches import LoadORLNeighbour, ORLCropPatch, ORLSampleRoIPairs
from .soco_views import SoCoViews
from .traces import LNRandomFlip, LNRandomResizedCrop, RenderTraceMaps

__all__ = ['LoadORLNeighbour', 'ORLCropPatch', 'ORLSampleRoIPairs', 'SoCoViews']
__all__ += ['LNRandomFlip', 'LNRandomResizedCrop', 'RenderTraceMaps', 'TokenizeUtterances']
__all__ += ['TokenizeCaption']
from .svl import DescriptionAwareFlip, LoadPseudoLabels, LoadStuffMap, PackStuffMap  # noqa: E402

__all__ += ['DescriptionAwareFlip', 'LoadPseudoLabels', 'LoadStuffMap', 'PackStuffMap']
