"""The SPL set predictor: N learned queries read the visual grid through a transformer decoder.

Fig. 4 D of the semantic-visual-loss VLP (Yang et al., TMM 2023): a one-layer transformer decoder
turns the ``h*w`` grid features into N object features (N = 36 or 100) and a softmax layer gives
N class distributions over the detector vocabulary; in SPL mode the cross-modal encoder reads
the N object features instead of the grid.
"""
from typing import Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class SetPredictor(BaseModule):
    """N learned queries, a transformer decoder over the visual tokens, a class layer.

    The decoder is ``torch.nn.TransformerDecoder`` (post-norm layers: query self-attention,
    cross-attention to the visual tokens, GELU FFN). The visual tokens carry their position
    already (ViT position embeddings, or the grid position embedding added to CNN grids).

    Args:
        in_channels (int): channels of the visual feature map.
        num_classes (int): detector classes (1600 for Bottom-Up-Attention).
        num_queries (int): N. Defaults to 100.
        embed_dims (int): decoder width (the object features' width). Defaults to 768.
        num_layers (int): decoder layers. Defaults to 1 (Table I: "1 layer transformer decoder").
        num_heads (int): attention heads. Defaults to 12.
        feedforward_channels (int): FFN width. Defaults to 3072.
        dropout (float): dropout of the decoder. Defaults to 0.1.
        no_object (bool): one extra "no object" logit (DETR). Defaults to False.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 num_queries: int = 100,
                 embed_dims: int = 768,
                 num_layers: int = 1,
                 num_heads: int = 12,
                 feedforward_channels: int = 3072,
                 dropout: float = 0.1,
                 no_object: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_queries < 1 or num_layers < 1:
            raise ValueError(f'SetPredictor: num_queries ({num_queries}) and num_layers '
                             f'({num_layers}) must be >= 1')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.num_queries = num_queries
        self.embed_dims = embed_dims
        self.no_object = no_object
        if in_channels == embed_dims:
            self.input_proj = nn.Identity()
        else:
            self.input_proj = nn.Sequential(
                nn.Linear(in_channels, embed_dims), nn.LayerNorm(embed_dims))
        self.query_embed = nn.Embedding(num_queries, embed_dims)
        layer = nn.TransformerDecoderLayer(
            embed_dims,
            num_heads,
            feedforward_channels,
            dropout,
            activation='gelu',
            batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers)
        self.cls_head = nn.Linear(embed_dims, num_classes + int(no_object))

    @property
    def num_logits(self) -> int:
        return self.num_classes + int(self.no_object)

    def forward(self, visual: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Object features and class logits of a visual feature map or token sequence.

        Args:
            visual (Tensor): ``(B, C, h, w)`` feature map or ``(B, V, C)`` tokens.

        Returns:
            tuple[Tensor, Tensor]: object features ``(B, N, embed_dims)`` and logits
            ``(B, N, num_classes [+ 1])``.
        """
        if visual.dim() == 4:
            visual = visual.flatten(2).transpose(1, 2)
        if visual.dim() != 3 or visual.size(-1) != self.in_channels:
            raise ValueError(f'SetPredictor: expected (B, {self.in_channels}, h, w) or '
                             f'(B, V, {self.in_channels}) visual features, got '
                             f'{tuple(visual.shape)}')
        memory = self.input_proj(visual)
        queries = self.query_embed.weight.unsqueeze(0).expand(visual.size(0), -1, -1)
        objects = self.decoder(queries, memory)
        return objects, self.cls_head(objects)
