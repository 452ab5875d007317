"""mmvisrep: detection-aligned visual representation pretraining for OpenMMLab 2.0.

Importing the package registers every mmvisrep module into the mmpretrain / mmdet / mmseg
registries, allow-lists the types that mmengine checkpoints need under torch >= 2.6 and
fixes the mmcv bugs our pinned stack triggers (``utils/compat.py``).
"""
from .utils.checkpoint import register_checkpoint_safe_globals
from .utils.compat import patch_mmcv_adjust_hue
from .version import __version__

register_checkpoint_safe_globals()
patch_mmcv_adjust_hue()

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401,I001

__all__ = ['__version__']
