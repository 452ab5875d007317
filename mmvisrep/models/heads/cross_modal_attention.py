"""Cross-modal attention of caption utterances over the visual grid (LocTex, spec 2.3).

Utterance k's query is the mean of the projected features of its tokens,
``q_k = mean_{i in Tok_k} W_q T_i``; its attention over the h*w cells of the visual map F is
``a_k = softmax_j(q_k . W_k F_j / sqrt(d))``. With several heads the per-head distributions are
averaged, so the result is still one distribution per utterance.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class CrossModalAttentionHead(BaseModule):
    """Attention log-probabilities ``(B, U, h*w)`` of utterance queries over the visual grid.

    Args:
        visual_channels (int): channels of the visual map (2048 for ResNet-50 C5).
        text_channels (int): width of the token features.
        attn_channels (int): width d of queries and keys. Defaults to 512 (ours).
        num_heads (int): heads; their attention distributions are averaged. Defaults to 1.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 visual_channels: int,
                 text_channels: int,
                 attn_channels: int = 512,
                 num_heads: int = 1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if attn_channels % num_heads:
            raise ValueError(f'CrossModalAttentionHead: attn_channels={attn_channels} is not a '
                             f'multiple of num_heads={num_heads}')
        self.num_heads = num_heads
        self.head_channels = attn_channels // num_heads
        self.key_proj = nn.Conv2d(visual_channels, attn_channels, kernel_size=1)
        self.query_proj = nn.Linear(text_channels, attn_channels)

    @staticmethod
    def utterance_mean(token_feats: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """Mean of ``token_feats`` (B, L, C) over each utterance's tokens ``token_mask``
        (B, U, L); an utterance without tokens gets zeros (a uniform attention map)."""
        weights = token_mask.to(token_feats.dtype)
        counts = weights.sum(-1, keepdim=True).clamp_min(1.)
        return torch.bmm(weights, token_feats) / counts

    def forward(self, visual_feats: torch.Tensor, token_feats: torch.Tensor,
                token_mask: torch.Tensor) -> torch.Tensor:
        """Args:
            visual_feats (Tensor): (B, C_v, h, w) visual map.
            token_feats (Tensor): (B, L, C_t) token features.
            token_mask (Tensor): (B, U, L) bool, token i belongs to utterance k.

        Returns:
            Tensor: (B, U, h*w) log-probabilities (each row's exp sums to 1).
        """
        num_imgs, num_utts = token_mask.shape[:2]
        if token_mask.shape[-1] != token_feats.size(1) or token_feats.size(0) != num_imgs or \
                visual_feats.size(0) != num_imgs:
            raise ValueError(f'CrossModalAttentionHead: visual {tuple(visual_feats.shape)}, '
                             f'tokens {tuple(token_feats.shape)} and utterance mask '
                             f'{tuple(token_mask.shape)} do not fit (B, C, h, w), (B, L, C), '
                             '(B, U, L)')
        keys = self.key_proj(visual_feats).flatten(2).transpose(1, 2)  # B, P, d
        queries = self.utterance_mean(self.query_proj(token_feats), token_mask)  # B, U, d
        heads, dh = self.num_heads, self.head_channels
        keys = keys.reshape(num_imgs, -1, heads, dh)
        queries = queries.reshape(num_imgs, num_utts, heads, dh)
        logits = torch.einsum('buhc,bphc->bhup', queries, keys) / math.sqrt(dh)
        log_attn = F.log_softmax(logits, dim=-1)  # B, H, U, P
        if heads == 1:
            return log_attn[:, 0]
        # average of the heads' distributions, in log space
        return torch.logsumexp(log_attn, dim=1) - math.log(heads)
