"""MUG: masked-image reconstruction plus caption generation from the same visible latents.

"Vision Learners Meet Web Image-Text Pairs" (Zhao, Cui, Wu, Yoshie, Yang, Mac Aodha; TMLR 2024),
Algorithm 1: the image is patchified and masked, a ViT encodes the visible patches, an MAE
decoder reconstructs the pixels (normalised-pixel MSE on the masked patches) and a text decoder
(causal self-attention, then cross-attention to the latents) generates the caption:
``loss = recon_weight * L_rec + cap_weight * L_cap``. The image side is mmpretrain's MAE
unchanged (``MAEViT``, ``MAEPretrainDecoder``, ``MAEPretrainHead``); the text side is
:class:`mmvisrep.models.heads.MUGTextDecoder`.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.dist import all_reduce, get_world_size
from mmpretrain.models.selfsup.mae import MAE
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

# The per-sample fields of the data contract (mmvisrep/datasets/image_text.py, PackInputs).
TEXT_FIELDS = ('input_ids', 'attention_mask')
CAPTION_LATENTS = ('visible', 'full')


@MODELS.register_module()
class MUG(MAE):
    """MUlti-modal Generator: MAE plus a caption decoder on the encoder's latents.

    Each data sample carries ``input_ids`` and ``attention_mask`` (L,) int64: [CLS] caption
    [SEP], padded with the pad id (mask 0). Samples with different L are padded to the batch
    maximum. The caption loss is the cross-entropy of token t+1 given tokens <= t, averaged over
    the non-padding targets of the *global* batch (the token count is all-reduced), so that
    a DDP run optimises the same loss as one process on the whole batch.

    Args:
        backbone (dict): mmpretrain ``MAEViT`` (its ``mask_ratio`` is the masking ratio).
        neck (dict): mmpretrain ``MAEPretrainDecoder`` (pixel decoder).
        head (dict): mmpretrain ``MAEPretrainHead`` (``norm_pix=True``: normalised-pixel loss).
        text_decoder (dict): :class:`MUGTextDecoder` config; ``in_channels`` defaults to the
            backbone's ``embed_dims``.
        recon_weight (float): weight of the reconstruction loss. Defaults to 1.0.
        cap_weight (float): weight of the caption loss. Defaults to 1.0.
        caption_latents (str): what the text decoder attends to: ``'visible'`` (the masked view's
            latents, [CLS] included, as in Algorithm 1; one encoder pass) or ``'full'`` (a second,
            unmasked encoder pass). Defaults to ``'visible'``.
        init_cfg: applied to the image branch only (the MAE recipe's Xavier/LayerNorm init); the
            text decoder keeps its own (``transformers``) initialisation or pretrained weights.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 text_decoder: dict,
                 recon_weight: float = 1.0,
                 cap_weight: float = 1.0,
                 caption_latents: str = 'visible',
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        for name, value in (('recon_weight', recon_weight), ('cap_weight', cap_weight)):
            if not float(value) >= 0:
                raise ValueError(f'MUG: {name} must be >= 0, got {value}')
        if caption_latents not in CAPTION_LATENTS:
            raise ValueError(f'MUG: caption_latents must be one of {CAPTION_LATENTS}, got '
                             f'{caption_latents!r}')
        self.recon_weight = float(recon_weight)
        self.cap_weight = float(cap_weight)
        self.caption_latents = caption_latents
        text_decoder = dict(text_decoder)
        text_decoder.setdefault('in_channels', self.backbone.embed_dims)
        self.text_decoder = MODELS.build(text_decoder)

    def init_weights(self) -> None:
        """The MAE init on the image branch, then the text decoder's own init.

        The model-level ``init_cfg`` (Xavier on every Linear, as in MAE) would otherwise reach
        the text decoder too and overwrite a pretrained BERT and its tied embeddings.
        """
        text_decoder = self._modules.pop('text_decoder')
        try:
            super().init_weights()
        finally:
            self._modules['text_decoder'] = text_decoder
        text_decoder.init_weights()

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _image_batch(inputs: Union[torch.Tensor, List[torch.Tensor]]) -> torch.Tensor:
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(f'MUG takes one view per image, got {len(inputs)} views')
            inputs = inputs[0]
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4:
            raise ValueError('MUG expects images as a (B, 3, H, W) tensor')
        return inputs

    @staticmethod
    def text_batch(data_samples: List[DataSample],
                   device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask)`` (B, L) int64, each padded with 0 to the batch max."""
        fields = []
        for key in TEXT_FIELDS:
            values = []
            for i, sample in enumerate(data_samples):
                if key not in sample:
                    raise KeyError(f'MUG: data sample {i} has no `{key}`; the pipeline must end '
                                   "with PackInputs(algorithm_keys=['input_ids', "
                                   "'attention_mask'])")
                value = torch.as_tensor(sample.get(key))
                if value.dim() != 1:
                    raise ValueError(f'MUG: data sample {i} has `{key}` of shape '
                                     f'{tuple(value.shape)}; expected (L,)')
                values.append(value)
            fields.append(values)
        out = []
        for key, values in zip(TEXT_FIELDS, fields):
            length = max(v.numel() for v in values)
            batch = torch.zeros(len(values), length, dtype=torch.long)
            for i, v in enumerate(values):
                batch[i, :v.numel()] = v.long()
            out.append(batch.to(device))
        for i, (ids, mask) in enumerate(zip(*fields)):
            if ids.numel() != mask.numel():
                raise ValueError(f'MUG: data sample {i} has {ids.numel()} input_ids but '
                                 f'{mask.numel()} attention_mask entries')
        input_ids, attention_mask = out
        return input_ids.masked_fill(attention_mask == 0, 0), attention_mask

    # ------------------------------------------------------------------ model
    def encode(
            self,
            img: torch.Tensor,
            mask_ratio: Optional[float] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(latent (B, 1+N_vis, C), mask (B, N) 1=masked, ids_restore (B, N))``.

        ``mask_ratio`` None: the backbone's; 0: every patch, in order (no random masking).
        """
        if mask_ratio is None:
            return self.backbone(img)
        if not 0 <= mask_ratio < 1:
            raise ValueError(f'MUG: mask_ratio must be in [0, 1), got {mask_ratio}')
        if mask_ratio == 0:
            latent = self.backbone(img, mask=None)[-1]
            num = latent.size(1) - 1
            ids = torch.arange(num, device=img.device).expand(img.size(0), -1)
            return latent, img.new_zeros(img.size(0), num), ids
        saved = self.backbone.mask_ratio
        self.backbone.mask_ratio = mask_ratio
        try:
            return self.backbone(img)
        finally:
            self.backbone.mask_ratio = saved

    def caption_memory(self, img: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """What the text decoder attends to (``caption_latents``)."""
        if self.caption_latents == 'full':
            return self.backbone(img, mask=None)[-1]
        return latent

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Weighted reconstruction and caption losses.

        Returns:
            dict: ``loss_rec`` = recon_weight * L_rec and ``loss_cap`` = cap_weight * L_cap
            (mmengine sums the ``loss*`` entries) and, logged only, ``cap_tokens`` (target tokens
            per caption on this rank). A zero weight still runs its branch (zero gradients), so
            every parameter takes part in the backward pass, as DDP requires.
        """
        img = self._image_batch(inputs)
        input_ids, attention_mask = self.text_batch(data_samples, img.device)
        if input_ids.size(0) != img.size(0):
            raise ValueError(f'MUG: {img.size(0)} images but {input_ids.size(0)} captions')

        latent, mask, ids_restore = self.backbone(img)
        pred = self.neck(latent, ids_restore)
        loss_rec = self.head.loss(pred, img, mask)

        memory = self.caption_memory(img, latent)
        nll, num_tokens = self.text_decoder.loss(memory, input_ids, attention_mask)
        # normalise by the mean token count per rank: the mean over ranks of the per-rank losses
        # (what DDP optimises) is then the token-averaged loss of the global batch
        norm = num_tokens.detach().clone()
        if get_world_size() > 1:
            all_reduce(norm, op='mean')
        loss_cap = nll / norm.clamp_min(1.)
        return dict(
            loss_rec=self.recon_weight * loss_rec,
            loss_cap=self.cap_weight * loss_cap,
            cap_tokens=num_tokens.detach() / img.size(0))

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def reconstruct(self,
                    inputs: Union[torch.Tensor, List[torch.Tensor]],
                    mask_ratio: Optional[float] = None) -> Dict[str, torch.Tensor]:
        """The pixel decoder's images for display.

        Returns:
            dict: ``pred`` (B, 3, H, W) in the preprocessed (normalised) input space, every patch
            predicted; with ``norm_pix`` the prediction is mapped back with the per-patch mean and
            variance of the input (as MAE's own visualisations do); ``mask`` (B, 1, H, W)
            1 = masked; ``patch_mask`` (B, N); ``latent`` (B, 1+N_vis, C).
        """
        img = self._image_batch(inputs)
        latent, mask, ids_restore = self.encode(img, mask_ratio)
        out = self.unpatchify_prediction(img, self.neck(latent, ids_restore), mask)
        out['latent'] = latent
        return out

    def unpatchify_prediction(self, img: torch.Tensor, pred: torch.Tensor,
                              mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Pixel-decoder output ``pred`` (B, N, p*p*3) as images (see :meth:`reconstruct`)."""
        if self.head.norm_pix:
            target = self.head.patchify(img)
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            pred = pred * (var + 1.e-6)**.5 + mean
        pix_mask = mask.unsqueeze(-1).expand(-1, -1, pred.size(-1))
        return dict(
            pred=self.head.unpatchify(pred),
            mask=self.head.unpatchify(pix_mask)[:, :1],
            patch_mask=mask)

    @torch.no_grad()
    def generate_captions(self,
                          inputs: Union[torch.Tensor, List[torch.Tensor]],
                          mask_ratio: Optional[float] = None,
                          latent: Optional[torch.Tensor] = None,
                          **kwargs):
        """Token ids of a caption per image (see :meth:`MUGTextDecoder.generate`).

        The decoder attends to what it was trained on: the latents of a masked view (``mask_ratio``
        None: the backbone's ratio; give ``latent`` to reuse a view) with ``caption_latents=
        'visible'``, else the unmasked pass; ``mask_ratio=0`` conditions on all patches.
        """
        img = self._image_batch(inputs)
        if self.caption_latents == 'full':
            memory = self.backbone(img, mask=None)[-1]
        elif latent is not None:
            memory = latent
        else:
            memory = self.encode(img, mask_ratio)[0]
        return self.text_decoder.generate(memory, **kwargs)
