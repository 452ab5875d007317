from .grid_position_embedding import GridPositionEmbedding2D
from .presets import (RESNET50_GRID, RESNET50_GRID_POS, VIT_B32_L9_384, resnet50_grid,
                      vit_b32_l9_384)

__all__ = [
    'GridPositionEmbedding2D', 'VIT_B32_L9_384', 'RESNET50_GRID', 'RESNET50_GRID_POS',
    'vit_b32_l9_384', 'resnet50_grid'
]
