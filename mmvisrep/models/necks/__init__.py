from .cross_modal_encoder import CrossModalEncoder, CrossModalityLayer

__all__ = ['CrossModalEncoder', 'CrossModalityLayer']
