"""Learned 2-D position embedding added to a CNN grid (the R50 visual branch of the SVL VLP).

A ViT carries its own position embeddings; a ResNet grid does not, and the transformers that read
it (cross-modal encoder, SPL decoder) are permutation-invariant. This module adds DETR's learned
row/column embedding (``mmdet.models.layers.LearnedPositionalEncoding``: the first half of the
channels encodes the column, the second half the row) to the feature map. It lives beside the
backbone (``visual_pos_embed`` of :class:`SemanticVLP`), so the exported ``backbone.*`` weights
stay a stock ResNet.
"""
import torch
from mmdet.models.layers import LearnedPositionalEncoding
from mmpretrain.registry import MODELS


@MODELS.register_module()
class GridPositionEmbedding2D(LearnedPositionalEncoding):
    """``feat + pos``: a learned column/row embedding of a ``(B, C, h, w)`` grid.

    Args:
        channels (int): C, the grid's channels (even; ``num_feats = C / 2`` per axis).
        max_size (int): largest h and w supported (rows/columns of the tables). Defaults to 50
            (DETR), i.e. inputs up to 1600 px at stride 32.
        init_cfg (dict): mmengine init config. Defaults to mmdet's ``Uniform`` on the embeddings.
    """

    def __init__(self,
                 channels: int,
                 max_size: int = 50,
                 init_cfg=dict(type='Uniform', layer='Embedding')) -> None:
        if channels % 2:
            raise ValueError(f'GridPositionEmbedding2D: channels must be even, got {channels}')
        super().__init__(channels // 2, max_size, max_size, init_cfg=init_cfg)
        self.channels = channels
        self.max_size = max_size

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """Return ``feat`` plus the position embedding of its grid."""
        if feat.dim() != 4 or feat.size(1) != self.channels:
            raise ValueError(f'GridPositionEmbedding2D: expected a (B, {self.channels}, h, w) '
                             f'feature map, got {tuple(feat.shape)}')
        h, w = feat.shape[-2:]
        if h > self.max_size or w > self.max_size:
            raise ValueError(f'GridPositionEmbedding2D: a {h}x{w} grid exceeds max_size '
                             f'{self.max_size}; raise max_size for larger inputs')
        mask = feat.new_zeros((1, h, w), dtype=torch.bool)
        return feat + super().forward(mask).to(feat.dtype)
