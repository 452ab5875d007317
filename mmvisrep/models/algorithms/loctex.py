"""LocTex: image-caption contrastive learning plus mouse-trace supervision of the attention.

"LocTex: Learning Data-Efficient Visual Representations from Localized Textual Supervision"
(Liu, Stent, Li, Gideon, Han; ICCV 2021). A ResNet gives the C5 grid; a transformers text encoder
gives token features. Global image and caption embeddings are contrasted with a symmetric
InfoNCE over the global batch; each utterance's query attends over the C5 grid and the attention
map is supervised with the utterance's rendered mouse trace (spec 2.3). The paper's internal
numbers are not known; every one of them is a config option (configs/loctex/README.md).
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

# The per-sample fields of the data contract (mmvisrep/datasets LocTex pipeline, PackInputs).
TEXT_FIELDS = ('input_ids', 'attention_mask')
TRACE_FIELDS = ('utterance_token_mask', 'trace_maps', 'utterance_valid')


@MODELS.register_module()
class LocTex(BaseSelfSupervisor):
    """LocTex pretraining of a ResNet with captions and rendered mouse traces.

    Each data sample carries ``input_ids`` and ``attention_mask`` (L,) (caption with
    [CLS]/[SEP], padded), and for the attention loss ``utterance_token_mask`` (U, L) bool,
    ``trace_maps`` (U, h, w) float (valid rows sum to 1) and ``utterance_valid`` (U,) bool, where
    h x w is the backbone's last feature grid (7 x 7 for C5 at 224 px). Samples with different
    U or L are zero-padded to the batch maximum.

    Args:
        backbone (dict): mmpretrain ``ResNet``; its last output is the attended grid and is
            average-pooled for the global embedding. ``backbone.*`` keys export to mmdet/mmseg/
            mmpretrain with ``tools/model_converters/extract_weights.py``.
        text_encoder (dict): :class:`HFTextEncoder` config.
        embed_dim (int): width of the joint image-caption embedding. Defaults to 512 (ours).
        text_pooling (str): caption embedding from the ``'cls'`` token or the ``'mean'`` of the
            non-padding tokens. Defaults to ``'mean'`` (ours).
        contrastive_loss (dict): :class:`InfoNCELoss` config.
        attention_head (dict, optional): :class:`CrossModalAttentionHead` config without the
            channel numbers (filled in here). None with ``attention_loss=None``: contrastive only.
        attention_loss (dict, optional): :class:`TraceAttentionLoss` config (its
            ``loss_weight`` is lambda_att).
        visual_channels (int, optional): channels of the backbone's last output, when the
            backbone has no ``feat_dim``.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 embed_dim: int = 512,
                 text_pooling: str = 'mean',
                 contrastive_loss: dict = dict(type='InfoNCELoss'),
                 attention_head: Optional[dict] = dict(type='CrossModalAttentionHead'),
                 attention_loss: Optional[dict] = dict(type='TraceAttentionLoss'),
                 visual_channels: Optional[int] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=None,
            head=None,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if text_pooling not in ('cls', 'mean'):
            raise ValueError(f"LocTex: text_pooling must be 'cls' or 'mean', got {text_pooling!r}")
        if (attention_head is None) != (attention_loss is None):
            raise ValueError('LocTex: set both attention_head and attention_loss, or neither '
                             '(contrastive-only ablation)')
        self.text_encoder = MODELS.build(text_encoder)
        visual_channels = visual_channels or getattr(self.backbone, 'feat_dim', None)
        if visual_channels is None:
            raise ValueError('LocTex: the backbone has no `feat_dim`; set visual_channels')
        self.visual_channels = int(visual_channels)
        text_channels = self.text_encoder.hidden_size
        self.text_pooling = text_pooling
        self.visual_proj = nn.Linear(self.visual_channels, embed_dim)
        self.text_proj = nn.Linear(text_channels, embed_dim)
        self.contrastive_loss = MODELS.build(contrastive_loss)
        self.attention_head = None
        self.attention_loss = None
        if attention_head is not None:
            head = dict(attention_head)
            head.setdefault('visual_channels', self.visual_channels)
            head.setdefault('text_channels', text_channels)
            self.attention_head = MODELS.build(head)
            self.attention_loss = MODELS.build(attention_loss)

    @property
    def with_attention(self) -> bool:
        return self.attention_head is not None

    # ------------------------------------------------------------------ batch assembly
    @staticmethod
    def _stack_padded(data_samples: List[DataSample], key: str, device: torch.device,
                      dtype: torch.dtype) -> torch.Tensor:
        """Stack one per-sample field into a batch, zero-padding every dim to the batch max."""
        values = []
        for i, sample in enumerate(data_samples):
            if key not in sample:
                raise KeyError(f'LocTex: data sample {i} has no `{key}`; the pipeline must end '
                               'with PackInputs(algorithm_keys=[' +
                               ', '.join(repr(k) for k in TEXT_FIELDS + TRACE_FIELDS) + '])')
            values.append(torch.as_tensor(sample.get(key)))
        ndims = {v.dim() for v in values}
        if len(ndims) != 1:
            raise ValueError(f'LocTex: `{key}` has different numbers of dims across the batch: '
                             f'{[tuple(v.shape) for v in values]}')
        shape = [max(s) for s in zip(*(v.shape for v in values))]
        out = torch.zeros([len(values)] + shape, dtype=dtype)
        for i, v in enumerate(values):
            out[(i, ) + tuple(slice(0, n) for n in v.shape)] = v.to(dtype)
        return out.to(device)

    @staticmethod
    def _image_batch(inputs: Union[torch.Tensor, List[torch.Tensor]]) -> torch.Tensor:
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(f'LocTex takes one view per image, got {len(inputs)} views')
            inputs = inputs[0]
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4:
            raise ValueError('LocTex expects images as a (B, 3, H, W) tensor')
        return inputs

    def _visual_grid(self, img: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(img)[-1]
        if feats.size(1) != self.visual_channels:
            raise ValueError(f'LocTex: the backbone gives {feats.size(1)} channels but the model '
                             f'was built for {self.visual_channels} (visual_channels)')
        return feats

    def _text(self, data_samples: List[DataSample], device: torch.device):
        input_ids = self._stack_padded(data_samples, 'input_ids', device, torch.long)
        attention_mask = self._stack_padded(data_samples, 'attention_mask', device, torch.long)
        return self.text_encoder(input_ids, attention_mask), attention_mask

    def _traces(self, data_samples: List[DataSample], grid: torch.Size, num_tokens: int,
                device: torch.device):
        """Stacked ``(token_mask (B, U, L), target (B, U, h*w), valid (B, U))`` with checks."""
        token_mask = self._stack_padded(data_samples, 'utterance_token_mask', device, torch.bool)
        maps = self._stack_padded(data_samples, 'trace_maps', device, torch.float32)
        valid = self._stack_padded(data_samples, 'utterance_valid', device, torch.bool)
        num_utts = maps.size(1)
        if maps.dim() != 4 or tuple(maps.shape[2:]) != tuple(grid):
            raise ValueError(f'LocTex: trace_maps are {tuple(maps.shape[2:])} per utterance but '
                             f'the backbone grid is {tuple(grid)} for these '
                             f'inputs: render the traces at the grid of the image size '
                             f'(input size / 32 for ResNet C5)')
        if token_mask.dim() != 3 or token_mask.size(1) != num_utts or \
                token_mask.size(2) != num_tokens or valid.shape != maps.shape[:2]:
            raise ValueError(f'LocTex: utterance_token_mask {tuple(token_mask.shape[1:])}, '
                             f'trace_maps {tuple(maps.shape[1:])} and utterance_valid '
                             f'{tuple(valid.shape[1:])} do not fit (U, L={num_tokens}), '
                             '(U, h, w) and (U,)')
        target = maps.flatten(2)
        sums = target.sum(-1)
        bad = valid & ((sums - 1).abs() > 1e-3)
        if bad.any():
            i, k = [int(v) for v in bad.nonzero()[0]]
            raise ValueError(f'LocTex: sample {i}, utterance {k} is marked valid but its trace '
                             f'map sums to {float(sums[i, k]):.4f} instead of 1')
        # an utterance cut off by the tokenizer's max_length has no token to query with
        valid = valid & token_mask.any(-1)
        return token_mask, target, valid

    # ------------------------------------------------------------------ model
    def _caption_embedding(self, tokens: torch.Tensor, attention_mask: torch.Tensor):
        if self.text_pooling == 'cls':
            return tokens[:, 0]
        weights = attention_mask.to(tokens.dtype).unsqueeze(-1)
        return (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.)

    def extract_feat(self, inputs: torch.Tensor):
        """Backbone features (the transferred part)."""
        return self.backbone(self._image_batch(inputs))

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Contrastive loss, plus the trace-attention loss when the attention branch is on.

        Returns:
            dict: ``loss_contrastive``, ``loss_attention`` (weighted; mmengine sums the
            ``loss*`` entries) and, logged only, ``temperature`` and ``att_utterances`` (valid
            utterances per image on this rank).
        """
        img = self._image_batch(inputs)
        feats = self._visual_grid(img)
        tokens, attention_mask = self._text(data_samples, img.device)
        img_emb = self.visual_proj(feats.mean((2, 3)))
        txt_emb = self.text_proj(self._caption_embedding(tokens, attention_mask))
        losses = dict(
            loss_contrastive=self.contrastive_loss(img_emb, txt_emb),
            temperature=self.contrastive_loss.temperature)
        if self.with_attention:
            token_mask, target, valid = self._traces(data_samples, feats.shape[2:], tokens.size(1),
                                                     img.device)
            log_attn = self.attention_head(feats, tokens, token_mask)
            losses['loss_attention'] = self.attention_loss(log_attn, target, valid)
            losses['att_utterances'] = valid.sum(1).float().mean()
        return losses

    @torch.no_grad()
    def attention_maps(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                       data_samples: List[DataSample]) -> torch.Tensor:
        """Learned attention ``(B, U, h, w)`` of every utterance (rows sum to 1), for display."""
        if not self.with_attention:
            raise RuntimeError('LocTex: this model has no attention branch (contrastive only)')
        img = self._image_batch(inputs)
        feats = self._visual_grid(img)
        tokens, _ = self._text(data_samples, img.device)
        token_mask = self._stack_padded(data_samples, 'utterance_token_mask', img.device,
                                        torch.bool)
        log_attn = self.attention_head(feats, tokens, token_mask)
        return log_attn.exp().reshape(*log_attn.shape[:2], *feats.shape[2:])

    def caption_image_similarity(self, inputs: torch.Tensor,
                                 data_samples: List[DataSample]) -> torch.Tensor:
        """Cosine similarities ``(B_img, B_txt)`` of the global embeddings (retrieval checks)."""
        img = self._image_batch(inputs)
        feats = self._visual_grid(img)
        tokens, attention_mask = self._text(data_samples, img.device)
        img_emb = F.normalize(self.visual_proj(feats.mean((2, 3))), dim=1)
        txt_emb = F.normalize(
            self.text_proj(self._caption_embedding(tokens, attention_mask)), dim=1)
        return img_emb @ txt_emb.t()
