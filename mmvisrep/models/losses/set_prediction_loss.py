"""SPL: the knowledge-distillation set prediction loss of the semantic-visual-loss VLP.

The N set predictions of an image are matched to its detector pseudo-labels by the Hungarian
algorithm with cost ``-p_i(c_j)`` (eq. 3, :mod:`mmvisrep.models.utils.hungarian`), then a
cross-entropy is taken on the matched pairs (eq. 4). Two variants:

* ``no_object=False`` (default, the paper's wording "CE on the matched pairs"): softmax over the
  detector classes; only matched queries get a loss, averaged over the matched pairs of the
  global batch; unmatched queries and surplus labels get none.
* ``no_object=True`` (DETR's criterion): one extra "no object" logit; unmatched queries are
  trained towards it with class weight ``eos_coef`` and the weighted CE is averaged over all
  queries (``F.cross_entropy`` with class weights divides by the summed weights).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn

from ..utils.hungarian import match_set_predictions
from .ssul_loss import average_over_valid


@MODELS.register_module()
class SetPredictionLoss(nn.Module):
    """Hungarian-matched cross-entropy between set predictions and pseudo-label sets.

    Args:
        num_classes (int): detector classes (1600 for the Bottom-Up-Attention VG vocabulary).
        no_object (bool): add the "no object" class (the logits then have ``num_classes + 1``
            entries, the last one "no object"). Defaults to False.
        eos_coef (float): CE weight of the "no object" class. Defaults to 0.1 (DETR).
        loss_weight (float): lambda_spl. Defaults to 1.0 (the paper's value is not known).
    """

    def __init__(self,
                 num_classes: int,
                 no_object: bool = False,
                 eos_coef: float = 0.1,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f'SetPredictionLoss: num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
        self.no_object = no_object
        self.eos_coef = eos_coef
        self.loss_weight = loss_weight
        if no_object:
            weight = torch.ones(num_classes + 1)
            weight[-1] = eos_coef
            self.register_buffer('class_weight', weight, persistent=False)
        else:
            self.class_weight = None

    @property
    def num_logits(self) -> int:
        return self.num_classes + int(self.no_object)

    def _check(self, logits: torch.Tensor, labels: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        if logits.dim() != 3 or logits.size(-1) != self.num_logits:
            raise ValueError(f'SetPredictionLoss: logits must be (B, N, {self.num_logits}) '
                             f'({self.num_classes} classes'
                             f'{" + no-object" if self.no_object else ""}), got '
                             f'{tuple(logits.shape)}')
        if len(labels) != logits.size(0):
            raise ValueError(f'SetPredictionLoss: {logits.size(0)} predictions but '
                             f'{len(labels)} label sets')
        out = [torch.as_tensor(lab, device=logits.device).long().reshape(-1) for lab in labels]
        flat = torch.cat(out) if out else logits.new_zeros(0, dtype=torch.long)
        if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= self.num_classes):
            b = next(b for b, lab in enumerate(out)
                     if lab.numel() and (int(lab.min()) < 0 or int(lab.max()) >= self.num_classes))
            raise ValueError(f'SetPredictionLoss: image {b} has pseudo-labels in '
                             f'[{int(out[b].min())}, {int(out[b].max())}] outside the '
                             f'{self.num_classes} detector classes')
        return out

    def match(self, logits: torch.Tensor,
              labels: Sequence[torch.Tensor]) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """Per image ``(query_idx, label_idx)`` of the optimal matching (no gradient)."""
        labels = self._check(logits, labels)
        return match_set_predictions(logits.detach().float().softmax(-1), labels)

    def forward(self,
                logits: torch.Tensor,
                labels: Sequence[torch.Tensor],
                matches: Optional[List[Tuple[torch.Tensor, torch.Tensor]]] = None) -> torch.Tensor:
        """Args: ``logits`` (B, N, K[+1]); ``labels`` B int64 tensors (M_b,), M_b may be 0.

        ``matches`` (from :meth:`match`) skips the matching when given.
        """
        labels = self._check(logits, labels)
        if matches is None:
            matches = match_set_predictions(logits.detach().float().softmax(-1), labels)
        batch_idx = torch.cat([torch.full_like(q, b)
                               for b, (q,
                                       _) in enumerate(matches)]) if matches else logits.new_zeros(
                                           0, dtype=torch.long)
        query_idx = torch.cat([q for q, _ in matches]) if matches else batch_idx
        target = torch.cat([lab[t] for lab, (_, t) in zip(labels, matches)]) if matches \
            else batch_idx
        logits = logits.float()
        if self.no_object:
            full = torch.full(
                logits.shape[:2], self.num_classes, dtype=torch.long, device=logits.device)
            full[batch_idx, query_idx] = target
            loss = F.cross_entropy(logits.flatten(0, 1), full.flatten(), self.class_weight)
            return self.loss_weight * loss
        total = F.cross_entropy(logits[batch_idx, query_idx], target, reduction='sum')
        total = total + 0. * logits.sum()  # in the graph even without any matched pair
        return self.loss_weight * average_over_valid(total, batch_idx.new_tensor(target.numel()))
