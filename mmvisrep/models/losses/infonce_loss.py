"""Symmetric image-text InfoNCE with negatives gathered from every rank (CLIP / LocTex form).

``S = z_v z_t^T / tau``; ``L = 1/2 [CE(S, diag) + CE(S^T, diag)]`` (spec 2.3). Each rank scores
its own images and captions against the gathered batch of all ranks, so the negatives are the
global batch while the work per rank stays ``b x N``.
"""
import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, all_reduce, get_rank, get_world_size
from mmpretrain.registry import MODELS
from torch import nn


class _GatherWithGrad(torch.autograd.Function):
    """``mmengine.dist.all_gather`` that passes gradients back to every rank's slice.

    ``all_gather`` returns fresh tensors outside the autograd graph. Putting the local tensor back
    into its slot would keep the gradient of this rank's own loss, but lose the gradient that the
    *other* ranks' losses send to this rank's features (where they act as negatives), so DDP's
    averaged gradient would not be the gradient of the global loss. Here backward sums the
    gathered gradient over ranks (``all_reduce``) and returns this rank's slice: the local features
    receive ``sum_s dL_s / dz_r``, and DDP's average of the parameter gradients is exactly the
    gradient of the mean of the per-rank losses (the 1-process loss on the global batch).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, sizes: Tuple[int, ...], rank: int) -> torch.Tensor:
        ctx.sizes, ctx.rank = sizes, rank
        max_size = max(sizes)
        padded = x
        if x.size(0) < max_size:  # all_gather needs equal shapes on every rank
            padded = torch.cat([x, x.new_zeros((max_size - x.size(0), ) + x.shape[1:])])
        gathered = all_gather(padded.contiguous())
        return torch.cat([g[:n] for g, n in zip(gathered, sizes)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        all_reduce(grad, op='sum')
        start = sum(ctx.sizes[:ctx.rank])
        return grad[start:start + ctx.sizes[ctx.rank]], None, None


def gather_with_grad(x: torch.Tensor) -> Tuple[torch.Tensor, int, List[int]]:
    """Concatenate ``x`` (b_r, ...) of all ranks in rank order, differentiably.

    Returns ``(gathered, offset, sizes)``: the (N, ...) tensor, the row where this rank's slice
    starts and the per-rank batch sizes (which may differ, e.g. a short last batch). Outside
    distributed training it returns ``x`` itself.
    """
    world_size = get_world_size()
    if world_size == 1:
        return x, 0, [x.size(0)]
    size = torch.tensor([x.size(0)], device=x.device)
    sizes = [int(s) for s in all_gather(size)]
    rank = get_rank()
    return _GatherWithGrad.apply(x, tuple(sizes), rank), sum(sizes[:rank]), sizes


@MODELS.register_module()
class InfoNCELoss(nn.Module):
    """Symmetric InfoNCE between L2-normalised image and text embeddings.

    The loss of rank r is ``sum over its rows of the two cross-entropies / (2 N / W)`` (N global
    batch, W ranks), so the mean over ranks -- what DDP optimises -- is the 1-process loss on the
    global batch, and equals the local mean when every rank has the same batch size.

    Args:
        temperature (float): initial (learnable) or fixed tau. Defaults to 0.07 (CLIP's
            initial value; LocTex's value is not known, spec 2.2).
        learnable_temperature (bool): learn ``log(1 / tau)`` (CLIP), clamped so that
            ``1 / tau <= max_logit_scale``. Defaults to False.
        max_logit_scale (float): upper bound of ``1 / tau`` when learnable. Defaults to 100.
        gather (bool): use the embeddings of all ranks as negatives. Defaults to True.
        normalize (bool): L2-normalise the inputs first. Defaults to True.
        loss_weight (float): multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 0.07,
                 learnable_temperature: bool = False,
                 max_logit_scale: float = 100.,
                 gather: bool = True,
                 normalize: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'InfoNCELoss: temperature must be > 0, got {temperature}')
        init = torch.tensor(math.log(1. / temperature))
        if learnable_temperature:
            self.logit_scale = nn.Parameter(init)
        else:
            self.register_buffer('logit_scale', init)
        self.learnable_temperature = learnable_temperature
        self.max_log_scale = math.log(max_logit_scale)
        self.gather = gather
        self.normalize = normalize
        self.loss_weight = loss_weight

    @property
    def temperature(self) -> torch.Tensor:
        """Current tau (detached)."""
        return 1. / self._scale().detach()

    def _scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=self.max_log_scale).exp()

    def forward(self, img_emb: torch.Tensor, txt_emb: torch.Tensor) -> torch.Tensor:
        """Loss of this rank's (b, D) image and caption embeddings, row i paired with row i."""
        if img_emb.dim() != 2 or img_emb.shape != txt_emb.shape:
            raise ValueError(f'InfoNCELoss: image {tuple(img_emb.shape)} and text '
                             f'{tuple(txt_emb.shape)} embeddings must both be (B, D)')
        if self.normalize:
            img_emb = F.normalize(img_emb, dim=1)
            txt_emb = F.normalize(txt_emb, dim=1)
        if self.gather:
            all_img, offset, sizes = gather_with_grad(img_emb)
            all_txt, _, _ = gather_with_grad(txt_emb)
        else:
            all_img, all_txt, offset, sizes = img_emb, txt_emb, 0, [img_emb.size(0)]
        scale = self._scale()
        logits_i2t = scale * img_emb @ all_txt.t()  # local images vs all captions
        logits_t2i = scale * txt_emb @ all_img.t()  # local captions vs all images
        labels = torch.arange(img_emb.size(0), device=img_emb.device) + offset
        loss_sum = F.cross_entropy(logits_i2t, labels, reduction='sum') + \
            F.cross_entropy(logits_t2i, labels, reduction='sum')
        mean_batch = sum(sizes) / len(sizes)
        return self.loss_weight * loss_sum / (2 * mean_batch)
