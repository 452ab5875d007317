"""SSUL: the self-supervised visual loss of the semantic-visual-loss VLP (Yang et al., TMM 2023).

Random 32x32 patches of the input are masked (``mmvisrep.models.utils.vlp_masking.mask_patches``)
and the visual output predicts the mean colour of every masked patch; the loss is the squared L2
distance of the 3-value prediction to the mean of the original (normalised) patch, averaged over
the masked patches of the global batch.
"""
import torch
from mmengine.dist import all_reduce, get_world_size
from mmpretrain.registry import MODELS
from torch import nn


def average_over_valid(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``total / count`` with ``count`` averaged over ranks (mmdet's ``reduce_mean`` idiom).

    DDP averages the per-rank losses, so dividing by the rank-mean count makes the optimised
    quantity the average over every valid item of the global batch. A zero count gives
    ``total / 1`` (0 when there is nothing valid) and keeps ``total`` in the graph, so DDP sees
    the parameters that produced it.
    """
    count = count.to(total.dtype)
    if get_world_size() > 1:
        count = count.clone()
        all_reduce(count, op='mean')
    count = torch.where(count > 0, count, count.new_ones(()))
    return total / count


@MODELS.register_module()
class SSULLoss(nn.Module):
    """Mean over masked patches of ``||pred - target||^2`` (summed over the colour channels).

    Args:
        loss_weight (float): lambda_ssul. Defaults to 1.0 (the paper's value is not known).
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """Args: ``pred`` and ``target`` (B, C, h, w), ``mask`` (B, h, w) bool (True = masked)."""
        if pred.shape != target.shape or pred.dim() != 4 or mask.shape != (
                pred.shape[0], ) + tuple(pred.shape[2:]):
            raise ValueError(f'SSULLoss: pred {tuple(pred.shape)}, target {tuple(target.shape)} '
                             f'and mask {tuple(mask.shape)} do not match (expected (B, C, h, w) '
                             'twice and (B, h, w))')
        per_patch = (pred - target.detach()).pow(2).sum(1)
        mask = mask.bool()
        total = torch.where(mask, per_patch, per_patch.new_zeros(())).sum()
        return self.loss_weight * average_over_valid(total, mask.sum())
