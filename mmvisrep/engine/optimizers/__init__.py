from .soco_lars import SoCoLARS, SoCoLARSOptimWrapperConstructor

__all__ = ['SoCoLARS', 'SoCoLARSOptimWrapperConstructor']
