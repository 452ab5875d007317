"""SoCo's object-level BYOL loss: cosine similarity averaged over id-matched box pairs.

For one direction (a -> b) of a view pair, with online predictions ``q`` (N, M, C) of view a's
boxes, target projections ``k`` (N, M', C) of view b's boxes and the 0/1 correspondence ``C``
(N, M, M'), the loss is ``-2 * mean_n[sum_ij C_nij q_ni.k_nj / (sum_ij C_nij + eps)]`` (the
official ``regression_loss_bboxs_aware``): BYOL's ``2 - 2 cos`` minus the constant 2.
"""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


def soco_correspondence(ids_a: torch.Tensor, ids_b: torch.Tensor) -> torch.Tensor:
    """0/1 matrix ``C[n, i, j] = (ids_a[n, i] == ids_b[n, j])`` of two views' box-slot ids.

    Slots are level-major (``l * K + k``); unused slots hold a view-specific negative value,
    so they never match, and the same proposal matches across levels.

    Args:
        ids_a (Tensor): (N, M) integer ids of view a's slots.
        ids_b (Tensor): (N, M') integer ids of view b's slots.

    Returns:
        Tensor: float (N, M, M') correspondence matrix.
    """
    if ids_a.dim() != 2 or ids_b.dim() != 2 or ids_a.size(0) != ids_b.size(0):
        raise ValueError('soco_correspondence expects ids of shapes (N, M) and (N, M\'), got '
                         f'{tuple(ids_a.shape)} and {tuple(ids_b.shape)}')
    return (ids_a[:, :, None] == ids_b[:, None, :]).float()


@MODELS.register_module()
class SoCoCorrespondenceLoss(BaseModule):
    """Negative cosine similarity of matched box pairs, as in SoCo (spec 1.5).

    Args:
        loss_weight (float): scale of the loss; the official value is 2 (``-2 * mean``).
        eps (float): added to the number of matches of each image (official 1e-6), so an
            image without matches contributes 0.
    """

    def __init__(self, loss_weight: float = 2., eps: float = 1e-6) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                correspondence: torch.Tensor) -> torch.Tensor:
        """Loss of one direction a -> b.

        Args:
            pred (Tensor): (N, M, C) online predictions of view a (normalised here).
            target (Tensor): (N, M', C) target projections of view b (normalised here,
                gradients stopped).
            correspondence (Tensor): (N, M, M') 0/1 matrix of matched slots.

        Returns:
            Tensor: scalar loss.
        """
        expected = (pred.size(0), pred.size(1), target.size(1)) if pred.dim() == 3 else None
        if target.dim() != 3 or correspondence.shape != expected:
            raise ValueError(
                'SoCoCorrespondenceLoss expects pred (N, M, C), target (N, M\', C) and '
                f'correspondence (N, M, M\'), got {tuple(pred.shape)}, {tuple(target.shape)}, '
                f'{tuple(correspondence.shape)}')
        pred = F.normalize(pred, dim=-1)
        target = F.normalize(target.detach(), dim=-1)
        sim = torch.bmm(pred, target.transpose(1, 2))  # N, M, M'
        correspondence = correspondence.to(sim.dtype)
        per_image = (sim * correspondence).sum((1, 2)) / (correspondence.sum((1, 2)) + self.eps)
        return -self.loss_weight * per_image.mean()
