from .loctex import LocTex
from .mug import MUG
from .orl import ORL
from .semantic_vlp import SemanticVLP
from .semantic_vlp_vqa import SemanticVLPVQA
from .soco import SoCo

__all__ = ['ORL', 'SoCo', 'LocTex', 'MUG', 'SemanticVLP']
__all__ += ['SemanticVLPVQA']
