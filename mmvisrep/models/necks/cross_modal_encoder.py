"""The two-stream cross-modality encoder of the semantic-visual-loss VLP (LXMERT's x-layers).

Yang et al. (TMM 2023) follow LXMERT/ViLBERT: text features (BERT) and visual features (grid or
SPL object features) meet in 5 cross-modality layers. Each layer is ``transformers``'
``LxmertXLayer``: cross-attention of each stream to the other, then self-attention and a
feed-forward block per stream, every sub-block post-LN with a residual. LXMERT shares one
cross-attention module between the two directions; ``share_cross_attention=False`` gives each
direction its own (ViLBERT's co-attention).
"""
from typing import List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn
from transformers import LxmertConfig
from transformers.models.lxmert.modeling_lxmert import LxmertCrossAttentionLayer, LxmertXLayer


class CrossModalityLayer(LxmertXLayer):
    """``LxmertXLayer`` with an optional separate cross-attention for the vision->language way.

    ``visual_attention`` (LXMERT's name) serves the language queries; with
    ``share_cross_attention=False``, ``lang_attention`` serves the visual queries. A
    ``lang_only`` layer (the last one when no loss reads the visual stream) has no visual
    self-attention / FFN and returns ``None`` for the visual stream, so no parameter is left
    without a gradient (DDP) and no compute is wasted.
    """

    def __init__(self,
                 config: LxmertConfig,
                 share_cross_attention: bool = True,
                 lang_only: bool = False) -> None:
        super().__init__(config)
        self.share_cross_attention = share_cross_attention
        self.lang_only = lang_only
        self.lang_attention = None if share_cross_attention or lang_only else \
            LxmertCrossAttentionLayer(config)
        if lang_only:
            self.visn_self_att = self.visn_inter = self.visn_output = None

    def cross_att(self,
                  lang_input,
                  lang_attention_mask,
                  visual_input,
                  visual_attention_mask,
                  output_x_attentions=False):
        if self.share_cross_attention:
            return super().cross_att(lang_input, lang_attention_mask, visual_input,
                                     visual_attention_mask, output_x_attentions)
        lang_att_output = self.visual_attention(
            lang_input,
            visual_input,
            ctx_att_mask=visual_attention_mask,
            output_attentions=output_x_attentions)
        visual_att_output = self.lang_attention(
            visual_input, lang_input, ctx_att_mask=lang_attention_mask, output_attentions=False)
        return lang_att_output, visual_att_output

    def forward(self,
                lang_feats,
                lang_attention_mask,
                visual_feats,
                visual_attention_mask,
                output_attentions=False):
        if not self.lang_only:
            return super().forward(lang_feats, lang_attention_mask, visual_feats,
                                   visual_attention_mask, output_attentions)
        cross = self.visual_attention(
            lang_feats,
            visual_feats,
            ctx_att_mask=visual_attention_mask,
            output_attentions=output_attentions)
        lang = self.lang_self_att(cross[0], lang_attention_mask)[0]
        lang = self.lang_output(self.lang_inter(lang), lang)
        return (lang, None, cross[1]) if output_attentions else (lang, None)


def _extended_mask(mask: Optional[torch.Tensor], batch: int, length: int, dtype: torch.dtype,
                   device: torch.device, name: str) -> torch.Tensor:
    """``(B, 1, 1, length)`` additive mask: 0 where attended, the dtype minimum where masked."""
    if mask is None:
        return torch.zeros(batch, 1, 1, length, dtype=dtype, device=device)
    if mask.shape != (batch, length):
        raise ValueError(f'CrossModalEncoder: {name} mask {tuple(mask.shape)} does not match the '
                         f'features ({batch}, {length})')
    return (1. - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


@MODELS.register_module()
class CrossModalEncoder(BaseModule):
    """Input projections plus ``num_layers`` cross-modality layers over text and visual tokens.

    The visual tokens are embedded as in LXMERT's visual feature encoder without the box branch
    (positions are already in the tokens): ``Dropout(LN(Linear(x)))``. Text features enter as
    they are when their width is ``hidden_size``, else through ``LN(Linear(x))``. Weights are
    initialised as BERT (normal(0, ``initializer_range``), zero biases, unit LayerNorms).

    Args:
        visual_in_channels (int): width of the visual tokens (backbone channels, or the set
            predictor's ``embed_dims`` in SPL mode).
        lang_in_channels (int, optional): width of the text features. Defaults to
            ``hidden_size``.
        hidden_size (int): width of both streams. Defaults to 768.
        num_layers (int): cross-modality layers. Defaults to 5 (the paper).
        num_heads (int): attention heads. Defaults to 12.
        intermediate_size (int): FFN width. Defaults to 3072.
        hidden_act (str): FFN activation. Defaults to ``'gelu'``.
        hidden_dropout (float): dropout after projections. Defaults to 0.1.
        attention_dropout (float): dropout of attention probabilities. Defaults to 0.1.
        share_cross_attention (bool): one cross-attention module for both directions (LXMERT).
            Defaults to True.
        output_visual (bool): compute the visual stream of the last layer. False when no loss
            reads it (MLM/ITM read the text stream only): the last layer is language-only and
            the visual output is None. Defaults to True.
        initializer_range (float): std of the normal init. Defaults to 0.02.
        init_cfg (dict, optional): mmengine init config (e.g. a ``Pretrained`` checkpoint).
    """

    def __init__(self,
                 visual_in_channels: int,
                 lang_in_channels: Optional[int] = None,
                 hidden_size: int = 768,
                 num_layers: int = 5,
                 num_heads: int = 12,
                 intermediate_size: int = 3072,
                 hidden_act: str = 'gelu',
                 hidden_dropout: float = 0.1,
                 attention_dropout: float = 0.1,
                 share_cross_attention: bool = True,
                 output_visual: bool = True,
                 initializer_range: float = 0.02,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'CrossModalEncoder: num_layers must be >= 1, got {num_layers}')
        if hidden_size % num_heads:
            raise ValueError(f'CrossModalEncoder: hidden_size {hidden_size} is not a multiple '
                             f'of num_heads {num_heads}')
        self.config = LxmertConfig(
            hidden_size=hidden_size,
            num_attention_heads=num_heads,
            intermediate_size=intermediate_size,
            hidden_act=hidden_act,
            hidden_dropout_prob=hidden_dropout,
            attention_probs_dropout_prob=attention_dropout,
            x_layers=num_layers,
            initializer_range=initializer_range)
        self.hidden_size = hidden_size
        self.visual_in_channels = visual_in_channels
        self.lang_in_channels = lang_in_channels or hidden_size
        self.initializer_range = initializer_range
        self.visual_proj = nn.Sequential(
            nn.Linear(visual_in_channels, hidden_size), nn.LayerNorm(hidden_size, eps=1e-12),
            nn.Dropout(hidden_dropout))
        if self.lang_in_channels == hidden_size:
            self.lang_proj = nn.Identity()
        else:
            self.lang_proj = nn.Sequential(
                nn.Linear(self.lang_in_channels, hidden_size),
                nn.LayerNorm(hidden_size, eps=1e-12))
        self.output_visual = output_visual
        self.layers = nn.ModuleList([
            CrossModalityLayer(self.config, share_cross_attention, not output_visual
                               and i == num_layers - 1) for i in range(num_layers)
        ])

    def init_weights(self) -> None:
        """BERT init of every Linear / LayerNorm, unless ``init_cfg`` loads weights."""
        if self.init_cfg is not None:
            super().init_weights()
            return
        std = self.initializer_range
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0., std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        self._is_init = True

    def forward(
        self,
        lang_feats: torch.Tensor,
        lang_mask: Optional[torch.Tensor],
        visual_feats: torch.Tensor,
        visual_mask: Optional[torch.Tensor] = None,
        return_attentions: bool = False
    ) -> Union[Tuple[torch.Tensor, torch.Tensor], Tuple[torch.Tensor, torch.Tensor,
                                                        List[torch.Tensor]]]:
        """Run the cross-modality layers.

        Args:
            lang_feats (Tensor): ``(B, L, lang_in_channels)`` text features.
            lang_mask (Tensor, optional): ``(B, L)``, 1 on real tokens, 0 on padding.
            visual_feats (Tensor): ``(B, V, visual_in_channels)`` visual tokens.
            visual_mask (Tensor, optional): ``(B, V)``; None: every token is real.
            return_attentions (bool): also return each layer's language-to-vision attention
                ``(B, heads, L, V)`` (for attention-map figures).

        Returns:
            tuple: the language and visual outputs ``(B, L, hidden)``, ``(B, V, hidden)``
            (None with ``output_visual=False``) [, the attention list].
        """
        if lang_feats.dim() != 3 or lang_feats.size(-1) != self.lang_in_channels:
            raise ValueError(f'CrossModalEncoder: text features must be (B, L, '
                             f'{self.lang_in_channels}), got {tuple(lang_feats.shape)}')
        if visual_feats.dim() != 3 or visual_feats.size(-1) != self.visual_in_channels or \
                visual_feats.size(0) != lang_feats.size(0):
            raise ValueError(f'CrossModalEncoder: visual features must be ({lang_feats.size(0)}, '
                             f'V, {self.visual_in_channels}), got {tuple(visual_feats.shape)}')
        lang = self.lang_proj(lang_feats)
        visual = self.visual_proj(visual_feats)
        batch = lang.size(0)
        lang_ext = _extended_mask(lang_mask, batch, lang.size(1), lang.dtype, lang.device, 'text')
        visual_ext = _extended_mask(visual_mask, batch, visual.size(1), visual.dtype,
                                    visual.device, 'visual')
        attentions = []
        for layer in self.layers:
            out = layer(lang, lang_ext, visual, visual_ext, output_attentions=return_attentions)
            lang, visual = out[0], out[1]
            if return_attentions:
                attentions.append(out[2])
        if return_attentions:
            return lang, visual, attentions
        return lang, visual
