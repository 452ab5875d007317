"""End-to-end vision-language pretraining with semantic visual losses (SSUL, SEGL, SPL).

"Effective End-to-End Vision Language Pretraining with Semantic Visual Loss" (Yang, Liu, Lin;
IEEE TMM 2023). A visual backbone on raw pixels (ViT-B/32 with 9 layers, or ResNet-50 with a 2-D
position embedding, both 384 px -> 12x12 grid) and a BERT text encoder meet in 5
cross-modality layers (LXMERT's x-layers). Text losses: masked language modelling (15%,
80/10/10) and image-text matching (50% captions of other images, [CLS] pooler). Visual losses,
each optional:

* SSUL: 32x32 input patches masked with p = 0.15; the visual output predicts each masked
  patch's mean colour (L2).
* SEGL: a 1x1 conv to the COCO-Stuff classes, CE against the label map down-sampled to the
  feature size, unlabeled (255) ignored, samples without a map skipped.
* SPL: a set predictor (one-layer transformer decoder, N learned queries) predicts detector
  classes, Hungarian-matched to the image's pseudo-labels; the cross-modal encoder then reads the
  N object features instead of the grid.

Data contract (one :class:`DataSample` per image-caption pair; the pipeline ends with
``PackInputs(algorithm_keys=[...])``)::

    inputs            (B, 3, H, W) images, H and W multiples of the SSUL patch size (384x384)
    input_ids         (L,) int64  [CLS] caption [SEP], any padding (lengths may differ)
    attention_mask    (L,) int    1 on real tokens, 0 on padding
    img_id            optional    image identity (data field or metainfo); samples sharing it
                                  show the same image and are never ITM negatives of each other.
                                  Falls back to the ``img_path`` metainfo, then to "every sample
                                  is its own image".
    stuff_map         (H', W') uint8/int, SEGL only: training ids in [0, num_classes) and 255
                                  (unlabeled), covering the same view as the image (any size)
    has_stuff_map     bool, SEGL only: False (or no ``stuff_map``) = the sample has no map
    pseudo_labels     (P,) int64, SPL only: detector class ids in [0, num_classes), padded -1
    num_pseudo_labels int, SPL only: how many leading entries are real (0 allowed); without
                                  it every non-negative entry is a label

ITM negatives and MLM masking are drawn inside the model from the batch (the global RNG, seeded
by mmengine), so a dataset only yields matched pairs. With SSUL on, every loss of the step sees
the masked image (as LXMERT's masked features).

Choices where the paper is silent (all config options): MLM is computed on matched pairs only
(``mlm_on_mismatched``); SSUL reads the visual stream after the cross-modal encoder (the
backbone grid in SPL mode, where that stream holds the N objects) and SEGL the backbone grid
(``feature``); label maps are mode-down-sampled (``SEGLLoss``); SPL is matched-only
CE without a no-object class (``SetPredictionLoss.no_object``); ITM negatives come from the
local batch. All loss weights default to 1. MLM and ITM read only the text stream, so when no
visual loss reads the cross-modal visual stream its last layer is built language-only
(``CrossModalEncoder.output_visual``): no parameter without a gradient under DDP.

Zero-shot image<->text retrieval (mmpretrain's ``RetrievalValLoop`` / ``RetrievalTestLoop`` with
``Flickr30kRetrieval`` test-mode samples: one per image, its captions in ``text``, their ids in
``gt_text_id``, the image index as ``image_id``): ``forward(mode='tensor')`` with data samples
returns each image's visual tokens and each caption's text features (tokenised here), and
:meth:`predict_all` scores every image-caption pair with the ITM match probability.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn
from transformers.models.lxmert.modeling_lxmert import LxmertLMPredictionHead, LxmertPooler

from ...datasets.transforms.captions import DropCounter, build_tokenizer
from ..losses.ssul_loss import average_over_valid
from ..utils.vlp_masking import mask_patches, mask_tokens, sample_itm_negatives
from .semantic_vlp_retrieval import SemanticVLPRetrievalMixin

FEATURE_SOURCES = ('backbone', 'cross_modal')
IGNORE_INDEX = -100


def _bert_init(module: nn.Module, std: float) -> None:
    """normal(0, std) Linear/Conv weights, zero biases, unit LayerNorms (BERT's init)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(m.weight, 0., std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


@MODELS.register_module()
class SemanticVLP(SemanticVLPRetrievalMixin, BaseSelfSupervisor):
    """Two-stream VLP on raw pixels with MLM + ITM and the SSUL / SEGL / SPL visual losses.

    Args:
        backbone (dict): mmpretrain backbone whose last output is the ``(B, C, h, w)`` grid
            (``mmvisrep.models.backbones.presets``). Exported as ``backbone.*``.
        text_encoder (dict): :class:`HFTextEncoder` config (``bert-base-uncased`` in real runs).
        cross_modal_encoder (dict): :class:`CrossModalEncoder` config; the input widths are
            filled in here.
        visual_pos_embed (dict, optional): position embedding added to the grid
            (:class:`GridPositionEmbedding2D` for ResNets; None for a ViT).
        visual_channels (int, optional): C, when the backbone has no ``feat_dim`` /
            ``embed_dims``.
        tokenizer (dict, optional): tokenizer config (``build_tokenizer``) giving the ``[MASK]``,
            padding and special ids. Without it give ``mask_token_id`` and
            ``special_token_ids``.
        mask_token_id (int, optional): id of ``[MASK]``.
        special_token_ids (Sequence[int], optional): ids never masked nor drawn as random tokens.
        pad_token_id (int, optional): id used to pad captions of different lengths. Defaults to
            the tokenizer's, else the text encoder's ``pad_token_id``, else 0.
        mlm_prob (float): MLM token probability. Defaults to 0.15.
        mlm_mask_ratio (float): share of chosen tokens set to ``[MASK]``. Defaults to 0.8.
        mlm_random_ratio (float): share set to a random token. Defaults to 0.1.
        mlm_on_mismatched (bool): also compute MLM on mismatched pairs (LXMERT does). Defaults to
            False.
        itm_neg_prob (float): share of mismatched pairs. Defaults to 0.5.
        mlm_loss_weight (float): Defaults to 1.0.
        itm_loss_weight (float): Defaults to 1.0.
        ssul (dict, optional): SSUL on: ``patch_size`` (32), ``mask_prob`` (0.15),
            ``feature`` (``'cross_modal'``, or ``'backbone'``: the default and only choice with
            SPL), ``fill_value`` of masked pixels (0: the mean colour), ``img_channels`` (3),
            ``loss`` (``SSULLoss`` config).
        segl (dict, optional): SEGL on: ``feature`` (``'backbone'`` or ``'cross_modal'``),
            ``feature_size`` (None, or (h, w) the logits are bilinearly resized to first, e.g.
            (24, 24) for ResNet-50), ``loss`` (``SEGLLoss`` config, ``num_classes`` 172).
        spl (dict, optional): SPL on: ``head`` (:class:`SetPredictor` config, ``in_channels``
            filled in) and ``loss`` (:class:`SetPredictionLoss` config, ``num_classes`` and
            ``no_object`` taken from the head when missing).
        retrieval_max_length (int): retrieval captions are tokenised (with ``tokenizer``) to
            this many tokens, [CLS] and [SEP] included; longer ones are truncated and counted.
            Defaults to 40.
        retrieval_chunk_size (int): image-caption pairs per cross-modal forward pass in
            :meth:`predict_all`. Defaults to 256.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 cross_modal_encoder: dict = dict(type='CrossModalEncoder'),
                 visual_pos_embed: Optional[dict] = None,
                 visual_channels: Optional[int] = None,
                 tokenizer: Optional[dict] = None,
                 mask_token_id: Optional[int] = None,
                 special_token_ids: Optional[Sequence[int]] = None,
                 pad_token_id: Optional[int] = None,
                 mlm_prob: float = 0.15,
                 mlm_mask_ratio: float = 0.8,
                 mlm_random_ratio: float = 0.1,
                 mlm_on_mismatched: bool = False,
                 itm_neg_prob: float = 0.5,
                 mlm_loss_weight: float = 1.0,
                 itm_loss_weight: float = 1.0,
                 ssul: Optional[dict] = None,
                 segl: Optional[dict] = None,
                 spl: Optional[dict] = None,
                 retrieval_max_length: int = 40,
                 retrieval_chunk_size: int = 256,
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
        self.text_encoder = MODELS.build(text_encoder)
        self.visual_pos_embed = MODELS.build(visual_pos_embed) if visual_pos_embed else None
        visual_channels = visual_channels or getattr(self.backbone, 'feat_dim', None) or \
            getattr(self.backbone, 'embed_dims', None)
        if visual_channels is None:
            raise ValueError('SemanticVLP: the backbone has no `feat_dim` / `embed_dims`; set '
                             'visual_channels')
        self.visual_channels = int(visual_channels)

        # SPL first: in SPL mode the cross-modal encoder reads its object features
        self.spl_head = self.spl_loss = None
        if spl is not None:
            spl = dict(spl)
            head = dict(spl.pop('head', dict(type='SetPredictor')))
            head.setdefault('type', 'SetPredictor')
            head.setdefault('in_channels', self.visual_channels)
            self.spl_head = MODELS.build(head)
            loss = dict(spl.pop('loss', dict(type='SetPredictionLoss')))
            loss.setdefault('type', 'SetPredictionLoss')
            loss.setdefault('num_classes', self.spl_head.num_classes)
            loss.setdefault('no_object', self.spl_head.no_object)
            self.spl_loss = MODELS.build(loss)
            if self.spl_loss.num_logits != self.spl_head.num_logits:
                raise ValueError(f'SemanticVLP: the SPL head gives {self.spl_head.num_logits} '
                                 f'logits but the loss expects {self.spl_loss.num_logits} '
                                 '(num_classes / no_object differ)')
            if spl:
                raise ValueError(f'SemanticVLP: unknown spl keys {sorted(spl)}')

        ssul = None if ssul is None else dict(ssul)
        segl = None if segl is None else dict(segl)
        ssul_feature = None if ssul is None else self._feature_source(
            ssul.pop('feature', 'backbone' if self.with_spl else 'cross_modal'), 'ssul')
        segl_feature = None if segl is None else self._feature_source(
            segl.pop('feature', 'backbone'), 'segl')
        reads_visual = 'cross_modal' in (ssul_feature, segl_feature)

        xcfg = dict(cross_modal_encoder)
        xcfg.setdefault('type', 'CrossModalEncoder')
        # MLM and ITM read the text stream only: without a visual loss on the cross-modal
        # output the last layer's visual stream would be dead weight (and stall DDP)
        xcfg.setdefault('output_visual', reads_visual)
        if reads_visual and not xcfg['output_visual']:
            raise ValueError('SemanticVLP: a visual loss reads the cross-modal visual output but '
                             'cross_modal_encoder.output_visual=False')
        xcfg.setdefault('lang_in_channels', self.text_encoder.hidden_size)
        xcfg.setdefault('visual_in_channels',
                        self.spl_head.embed_dims if self.with_spl else self.visual_channels)
        self.cross_modal_encoder = MODELS.build(xcfg)
        hidden = self.cross_modal_encoder.hidden_size
        xconfig = self.cross_modal_encoder.config

        # text heads (LXMERT's): MLM decoder tied to the word embeddings, [CLS] pooler + ITM
        word_emb = self.text_encoder.model.get_input_embeddings().weight
        if word_emb.size(1) != hidden:
            word_emb = nn.Parameter(
                torch.randn(word_emb.shape[0], hidden) *
                self.cross_modal_encoder.initializer_range)
            self._mlm_tied = False
        else:
            self._mlm_tied = True
        self.mlm_head = LxmertLMPredictionHead(xconfig, word_emb)
        self.pooler = LxmertPooler(xconfig)
        self.itm_head = nn.Linear(hidden, 2)
        self.mlm_cfg = dict(
            mask_prob=mlm_prob, mask_ratio=mlm_mask_ratio, random_ratio=mlm_random_ratio)
        self.mlm_on_mismatched = mlm_on_mismatched
        self.itm_neg_prob = itm_neg_prob
        self.mlm_loss_weight = mlm_loss_weight
        self.itm_loss_weight = itm_loss_weight
        self._init_token_ids(tokenizer, mask_token_id, special_token_ids, pad_token_id)
        if retrieval_max_length < 2 or retrieval_chunk_size < 1:
            raise ValueError('SemanticVLP: retrieval_max_length must be >= 2 and '
                             f'retrieval_chunk_size >= 1, got {retrieval_max_length}, '
                             f'{retrieval_chunk_size}')
        self.retrieval_max_length = int(retrieval_max_length)
        self.retrieval_chunk_size = int(retrieval_chunk_size)
        self._caption_drops = DropCounter('SemanticVLP (retrieval captions)')

        self.ssul_head = self.ssul_loss = None
        if ssul is not None:
            self.ssul_patch_size = int(ssul.pop('patch_size', 32))
            self.ssul_mask_prob = float(ssul.pop('mask_prob', 0.15))
            self.ssul_feature = ssul_feature
            self.ssul_fill_value = float(ssul.pop('fill_value', 0.))
            channels = self._source_channels(self.ssul_feature)
            img_channels = int(ssul.pop('img_channels', 3))
            self.ssul_head = nn.Sequential(
                nn.Linear(channels, channels), nn.GELU(), nn.LayerNorm(channels, eps=1e-12),
                nn.Linear(channels, img_channels))
            self.ssul_loss = MODELS.build(ssul.pop('loss', dict(type='SSULLoss')))
            if ssul:
                raise ValueError(f'SemanticVLP: unknown ssul keys {sorted(ssul)}')

        self.segl_conv = self.segl_loss = None
        if segl is not None:
            self.segl_feature = segl_feature
            size = segl.pop('feature_size', None)
            self.segl_feature_size = None if size is None else ((
                int(size), int(size)) if isinstance(size, int) else tuple(int(s) for s in size))
            self.segl_loss = MODELS.build(segl.pop('loss', dict(type='SEGLLoss')))
            self.segl_conv = nn.Conv2d(
                self._source_channels(self.segl_feature), self.segl_loss.num_classes, 1)
            if segl:
                raise ValueError(f'SemanticVLP: unknown segl keys {sorted(segl)}')

    # ------------------------------------------------------------------ configuration helpers
    @property
    def with_ssul(self) -> bool:
        return self.ssul_head is not None

    @property
    def with_segl(self) -> bool:
        return self.segl_conv is not None

    @property
    def with_spl(self) -> bool:
        return self.spl_head is not None

    def _feature_source(self, source: str, loss: str) -> str:
        if source not in FEATURE_SOURCES:
            raise ValueError(f'SemanticVLP: {loss}.feature must be one of {FEATURE_SOURCES}, got '
                             f'{source!r}')
        if source == 'cross_modal' and self.with_spl:
            raise ValueError(f'SemanticVLP: {loss}.feature=\'cross_modal\' is impossible with '
                             'SPL on (the cross-modal encoder reads the SPL object features, '
                             f"not the grid); use {loss}.feature='backbone'")
        return source

    def _source_channels(self, source: str) -> int:
        return self.visual_channels if source == 'backbone' else \
            self.cross_modal_encoder.hidden_size

    def _init_token_ids(self, tokenizer, mask_token_id, special_token_ids, pad_token_id) -> None:
        vocab_size = self.text_encoder.vocab_size
        #: the built tokenizer (None without ``tokenizer``): retrieval tokenises captions with it
        self.tokenizer = None
        if tokenizer is not None:
            tok = self.tokenizer = build_tokenizer(tokenizer)
            mask_token_id = tok.mask_token_id if mask_token_id is None else mask_token_id
            special_token_ids = list(tok.all_special_ids) if special_token_ids is None \
                else special_token_ids
            pad_token_id = tok.pad_token_id if pad_token_id is None else pad_token_id
        if mask_token_id is None or special_token_ids is None:
            raise ValueError('SemanticVLP: give `tokenizer` (e.g. dict(type=\'AutoTokenizer\', '
                             "name_or_path='bert-base-uncased')) or both `mask_token_id` and "
                             '`special_token_ids` for the MLM masking')
        if pad_token_id is None:
            pad_token_id = getattr(self.text_encoder.model.config, 'pad_token_id', None) or 0
        special = sorted({int(i) for i in special_token_ids} | {int(mask_token_id)})
        if not 0 <= mask_token_id < vocab_size or any(not 0 <= i < vocab_size for i in special):
            raise ValueError(f'SemanticVLP: [MASK] id {mask_token_id} or special ids {special} '
                             f'outside the text encoder vocabulary of {vocab_size}')
        self.mask_token_id = int(mask_token_id)
        self.special_token_ids = special
        self.pad_token_id = int(pad_token_id)
        keep = torch.ones(vocab_size, dtype=torch.bool)
        keep[special] = False
        self.register_buffer('mlm_random_pool', keep.nonzero()[:, 0], persistent=False)

    def init_weights(self) -> None:
        """Components' own init (backbone ``init_cfg``, text encoder kept, cross-modal BERT init),
        then BERT init of the heads (the MLM decoder stays tied to the word embeddings)."""
        super().init_weights()
        std = self.cross_modal_encoder.initializer_range
        _bert_init(self.mlm_head.transform, std)
        nn.init.zeros_(self.mlm_head.bias)
        if not self._mlm_tied:
            nn.init.normal_(self.mlm_head.decoder.weight, 0., std)
        for module in (self.pooler, self.itm_head, self.ssul_head, self.segl_conv):
            if module is not None:
                _bert_init(module, std)

    # ------------------------------------------------------------------ batch assembly
    @staticmethod
    def _image_batch(inputs: Union[torch.Tensor, List[torch.Tensor]]) -> torch.Tensor:
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(f'SemanticVLP takes one view per image, got {len(inputs)} views')
            inputs = inputs[0]
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4:
            raise ValueError('SemanticVLP expects images as a (B, C, H, W) tensor')
        return inputs

    @staticmethod
    def _field(sample: DataSample, index: int, key: str, keys: Sequence[str]):
        if key not in sample:
            raise KeyError(f'SemanticVLP: data sample {index} has no `{key}`; the pipeline must '
                           'end with PackInputs(algorithm_keys=[' +
                           ', '.join(repr(k) for k in keys) + '])')
        return sample.get(key)

    def _text_batch(self, data_samples: List[DataSample],
                    device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` (B, L), padded to the longest caption."""
        keys = ('input_ids', 'attention_mask')
        ids, masks = [], []
        for i, sample in enumerate(data_samples):
            tid = torch.as_tensor(self._field(sample, i, 'input_ids', keys)).long().reshape(-1)
            tmask = torch.as_tensor(self._field(sample, i, 'attention_mask',
                                                keys)).long().reshape(-1)
            if tid.shape != tmask.shape:
                raise ValueError(f'SemanticVLP: data sample {i}: input_ids {tuple(tid.shape)} '
                                 f'and attention_mask {tuple(tmask.shape)} differ')
            ids.append(tid)
            masks.append(tmask)
        length = max(t.numel() for t in ids)
        input_ids = torch.full((len(ids), length), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros(len(ids), length, dtype=torch.long)
        for i, (tid, tmask) in enumerate(zip(ids, masks)):
            input_ids[i, :tid.numel()] = tid
            attention_mask[i, :tmask.numel()] = tmask
        return input_ids.to(device), attention_mask.to(device)

    @staticmethod
    def image_groups(data_samples: List[DataSample], device: torch.device) -> torch.Tensor:
        """``(B,)`` image identity per sample: ``img_id``, else ``img_path``, else the index."""
        keys, mapping = [], {}
        for i, sample in enumerate(data_samples):
            for key in ('img_id', 'img_path'):
                if key in sample:
                    keys.append((key, str(sample.get(key))))
                    break
            else:
                keys.append(('index', i))
        ids = [mapping.setdefault(k, len(mapping)) for k in keys]
        return torch.tensor(ids, dtype=torch.long, device=device)

    @staticmethod
    def stuff_maps(data_samples: List[DataSample]) -> List[Optional[torch.Tensor]]:
        """The SEGL label map of every sample, None where ``has_stuff_map`` is False/absent."""
        maps = []
        for i, sample in enumerate(data_samples):
            has = bool(sample.get('has_stuff_map', 'stuff_map' in sample))
            if has and 'stuff_map' not in sample:
                raise KeyError(f'SemanticVLP: data sample {i} has has_stuff_map=True but no '
                               '`stuff_map`; add it to PackInputs(algorithm_keys=[...])')
            maps.append(torch.as_tensor(sample.get('stuff_map')) if has else None)
        return maps

    def pseudo_labels(self, data_samples: List[DataSample],
                      device: torch.device) -> List[torch.Tensor]:
        """The SPL label set ``(M_b,)`` of every sample (``pseudo_labels[:num_pseudo_labels]``)."""
        out = []
        for i, sample in enumerate(data_samples):
            labels = torch.as_tensor(
                self._field(sample, i, 'pseudo_labels',
                            ('pseudo_labels', 'num_pseudo_labels'))).long().reshape(-1)
            num = sample.get('num_pseudo_labels', None)
            if num is None:
                labels = labels[labels >= 0]
            else:
                num = int(torch.as_tensor(num).reshape(-1)[0])
                if not 0 <= num <= labels.numel():
                    raise ValueError(f'SemanticVLP: data sample {i}: num_pseudo_labels={num} '
                                     f'but pseudo_labels has {labels.numel()} entries')
                labels = labels[:num]
                if labels.numel() and int(labels.min()) < 0:
                    raise ValueError(f'SemanticVLP: data sample {i}: negative (padding) '
                                     f'pseudo-labels among the first {num} entries')
            out.append(labels.to(device))
        return out

    # ------------------------------------------------------------------ model
    def extract_feat(self, inputs: torch.Tensor):
        """Backbone features (the transferred part)."""
        return self.backbone(self._image_batch(inputs))

    def visual_grid(self, img: torch.Tensor) -> torch.Tensor:
        """The visual branch output ``(B, C, h, w)``: last backbone map (+ position embedding)."""
        feat = self.backbone(img)[-1]
        if feat.dim() != 4 or feat.size(1) != self.visual_channels:
            raise ValueError(f'SemanticVLP: the backbone gives {tuple(feat.shape)} but a '
                             f'(B, {self.visual_channels}, h, w) grid was expected (set '
                             "out_type='featmap' for a ViT, or visual_channels)")
        if self.visual_pos_embed is not None:
            feat = self.visual_pos_embed(feat)
        return feat

    def image_tokens(self, img: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The visual branch of a batch of images.

        Returns:
            dict: ``grid`` (B, C, h, w) (:meth:`visual_grid`), ``tokens`` (B, V, C') the
            cross-modal encoder reads (the h*w grid cells, or in SPL mode the N object features
            of the set predictor) and, in SPL mode, ``spl_logits`` (B, N, K[+1]).
        """
        grid = self.visual_grid(img)
        out = dict(grid=grid)
        if self.with_spl:
            out['tokens'], out['spl_logits'] = self.spl_head(grid)
        else:
            out['tokens'] = grid.flatten(2).transpose(1, 2)
        return out

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The language branch: per-token features ``(B, L, d_text)``."""
        return self.text_encoder(input_ids, attention_mask)

    def cross_modal(self, text_feats: torch.Tensor, attention_mask: torch.Tensor,
                    visual_tokens: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The cross-modal encoder on paired text features and visual tokens.

        Returns:
            dict: ``lang`` (B, L, d), ``visual`` (B, V, d) (None when no loss reads it, see
            ``CrossModalEncoder.output_visual``) and ``pooled`` (B, d), the [CLS] pooler output.
        """
        lang, visual = self.cross_modal_encoder(text_feats, attention_mask, visual_tokens)
        return dict(lang=lang, visual=visual, pooled=self.pooler(lang))

    def match_probability(self, pooled: torch.Tensor) -> torch.Tensor:
        """ITM head: probability ``(B,)`` (float32) that the pair matches."""
        return self.itm_head(pooled).float().softmax(-1)[:, 1]

    def encode(self, img: torch.Tensor, input_ids: torch.Tensor,
               attention_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Run both branches and the cross-modal encoder on image-caption pairs.

        Returns:
            dict: ``grid`` (B, C, h, w) visual branch output, ``tokens`` (B, V, C') the visual
            tokens, ``lang`` (B, L, d) and ``visual`` (B, V, d) cross-modal outputs (V = h*w,
            or N in SPL mode; ``visual`` is None when no loss reads it, see
            ``CrossModalEncoder.output_visual``), ``pooled`` (B, d) [CLS] pooler output and, in
            SPL mode, ``spl_logits`` (B, N, K[+1]).
        """
        out = self.image_tokens(img)
        text = self.text_features(input_ids, attention_mask)
        out.update(self.cross_modal(text, attention_mask, out['tokens']))
        return out

    def _source_map(self, source: str, enc: Dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, C, h, w)`` features of a visual loss: the grid or the cross-modal output."""
        grid = enc['grid']
        if source == 'backbone':
            return grid
        visual = enc['visual']
        return visual.transpose(1, 2).reshape(visual.size(0), visual.size(2), *grid.shape[2:])

    @staticmethod
    def _to_patch_grid(feat: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        h, w = feat.shape[2:]
        if (h, w) == tuple(grid):
            return feat
        if h % grid[0] == 0 and w % grid[1] == 0:
            return F.avg_pool2d(feat, (h // grid[0], w // grid[1]))
        raise ValueError(f'SemanticVLP: the {h}x{w} feature grid does not tile the '
                         f'{grid[0]}x{grid[1]} SSUL patch grid; use a patch size that is a '
                         'multiple of the backbone stride')

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """MLM + ITM and the switched-on visual losses.

        Returns:
            dict: ``loss_mlm``, ``loss_itm`` and ``loss_ssul`` / ``loss_segl`` / ``loss_spl``
            (weighted; mmengine sums the ``loss*`` entries), plus logged-only ``mlm_acc`` and
            ``itm_acc``.
        """
        img = self._image_batch(inputs)
        device = img.device
        if len(data_samples) != img.size(0):
            raise ValueError(f'SemanticVLP: {img.size(0)} images but {len(data_samples)} data '
                             'samples')
        if self.with_ssul:
            img, patch_mask, patch_targets = mask_patches(img, self.ssul_patch_size,
                                                          self.ssul_mask_prob,
                                                          self.ssul_fill_value)
        input_ids, attention_mask = self._text_batch(data_samples, device)
        caption_index, itm_labels = sample_itm_negatives(
            self.image_groups(data_samples, device), self.itm_neg_prob)
        input_ids, attention_mask = input_ids[caption_index], attention_mask[caption_index]
        masked_ids, mlm_labels = mask_tokens(
            input_ids,
            attention_mask,
            self.mask_token_id,
            self.special_token_ids,
            self.mlm_random_pool,
            ignore_index=IGNORE_INDEX,
            **self.mlm_cfg)
        if not self.mlm_on_mismatched:
            # mismatched captions stay masked (else [MASK] tokens would give ITM away), only
            # their MLM targets are dropped
            mlm_labels = mlm_labels.masked_fill(itm_labels[:, None] == 0, IGNORE_INDEX)

        enc = self.encode(img, masked_ids, attention_mask)
        losses = dict()

        selected = mlm_labels != IGNORE_INDEX
        mlm_logits = self.mlm_head(enc['lang'][selected])
        mlm_targets = mlm_labels[selected]
        mlm_total = F.cross_entropy(mlm_logits.float(), mlm_targets, reduction='sum')
        losses['loss_mlm'] = self.mlm_loss_weight * average_over_valid(mlm_total, selected.sum())
        itm_logits = self.itm_head(enc['pooled'])
        losses['loss_itm'] = self.itm_loss_weight * F.cross_entropy(itm_logits.float(), itm_labels)

        if self.with_ssul:
            feat = self._to_patch_grid(
                self._source_map(self.ssul_feature, enc), patch_mask.shape[1:])
            pred = self.ssul_head(feat.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            if pred.shape != patch_targets.shape:
                raise ValueError(f'SemanticVLP: SSUL predicts {tuple(pred.shape)} but the '
                                 f'targets are {tuple(patch_targets.shape)} (img_channels)')
            losses['loss_ssul'] = self.ssul_loss(pred.float(), patch_targets.float(), patch_mask)
        if self.with_segl:
            logits = self.segl_conv(self._source_map(self.segl_feature, enc))
            if self.segl_feature_size is not None:
                logits = F.interpolate(
                    logits, size=self.segl_feature_size, mode='bilinear', align_corners=False)
            # the label maps follow the images, so ITM does not reorder them
            losses['loss_segl'] = self.segl_loss(logits, self.stuff_maps(data_samples))
        if self.with_spl:
            losses['loss_spl'] = self.spl_loss(enc['spl_logits'],
                                               self.pseudo_labels(data_samples, device))

        with torch.no_grad():
            mlm_hits = (mlm_logits.argmax(-1) == mlm_targets).sum().float()
            losses['mlm_acc'] = mlm_hits / max(int(mlm_targets.numel()), 1)
            losses['itm_acc'] = (itm_logits.argmax(-1) == itm_labels).float().mean()
        return losses

    @torch.no_grad()
    def match_scores(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                     data_samples: List[DataSample]) -> torch.Tensor:
        """Matching probability ``(B,)`` of each image with its own caption (no corruption).

        The per-pair form of what :meth:`predict_all` computes for every pair (eval mode).
        """
        img = self._image_batch(inputs)
        input_ids, attention_mask = self._text_batch(data_samples, img.device)
        return self.match_probability(self.encode(img, input_ids, attention_mask)['pooled'])

    # ------------------------------------------------------------------ retrieval
    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """mmengine's entry point.

        ``mode='tensor'`` with data samples returns the retrieval features
        (:meth:`retrieval_features`, what ``RetrievalValLoop`` collects); without data samples
        the backbone features (:meth:`extract_feat`). ``'loss'`` as ``BaseSelfSupervisor``.
        """
        if mode == 'tensor' and data_samples is not None:
            return self.retrieval_features(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)
