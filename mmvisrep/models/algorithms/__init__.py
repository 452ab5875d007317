from .loctex import LocTex
from .orl import ORL
from .soco import SoCo

__all__ = ['ORL', 'SoCo', 'LocTex']
