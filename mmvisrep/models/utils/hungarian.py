"""Hungarian matching of set predictions to label sets (the SPL of the semantic-visual-loss VLP).

The cost of giving query ``i`` the label ``c_j`` is ``-p_i(c_j)`` (eq. 3 of Yang et al., DETR's
``cost_class`` without the constant "1 -"), solved per image with
``scipy.optimize.linear_sum_assignment``. With more labels than queries the surplus labels stay
unmatched; with fewer, the surplus queries do.
"""
from typing import List, Sequence, Tuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def hungarian_match(cost) -> Tuple[torch.Tensor, torch.Tensor]:
    """Minimum-cost matching of a ``(num_rows, num_cols)`` cost matrix.

    Returns ``(rows, cols)`` int64 tensors of ``min(num_rows, num_cols)`` pairs, rows ascending.
    An empty side gives two empty tensors. Non-finite costs raise a ``ValueError``.
    """
    if isinstance(cost, torch.Tensor):
        cost = cost.detach().to('cpu', torch.float64).numpy()
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f'hungarian_match: the cost must be a 2-D matrix, got shape {cost.shape}')
    if cost.size == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty.clone()
    if not np.isfinite(cost).all():
        raise ValueError('hungarian_match: the cost matrix has NaN or infinite entries '
                         '(check the predicted probabilities for NaN)')
    rows, cols = linear_sum_assignment(cost)
    return torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)


def set_prediction_cost(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cost ``C[i, j] = -probs[i, labels[j]]`` of one image, ``(num_queries, num_labels)``."""
    if probs.dim() != 2 or labels.dim() != 1:
        raise ValueError(f'set_prediction_cost: probs (N, K) and labels (M,) expected, got '
                         f'{tuple(probs.shape)} and {tuple(labels.shape)}')
    return -probs[:, labels.long()]


@torch.no_grad()
def match_set_predictions(
        probs: torch.Tensor,
        labels: Sequence[torch.Tensor]) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """Match the queries of every image to its labels.

    Args:
        probs (Tensor): ``(B, N, K)`` class probabilities (softmax of the set-predictor logits;
            with a no-object class K includes it and it is never a label).
        labels (list[Tensor]): B int64 tensors ``(M_b,)`` of class ids in ``[0, K)``; duplicates
            allowed, ``M_b`` may be 0 or larger than N.

    Returns:
        list[tuple[Tensor, Tensor]]: per image ``(query_idx, label_idx)`` on ``probs.device``,
        ``min(N, M_b)`` pairs each.

    The costs of the whole batch are gathered on the device and moved to the CPU at once, so a
    GPU run pays a single transfer of ``B x N x max(M_b)`` values.
    """
    if probs.dim() != 3:
        raise ValueError(
            f'match_set_predictions: probs must be (B, N, K), got {tuple(probs.shape)}')
    if len(labels) != probs.size(0):
        raise ValueError(f'match_set_predictions: {probs.size(0)} images but {len(labels)} label '
                         'sets')
    num_classes, device = probs.size(2), probs.device
    labels = [lab.to(device=device, dtype=torch.long).reshape(-1) for lab in labels]
    sizes = torch.tensor([lab.numel() for lab in labels], device=device)
    max_m = int(sizes.max()) if len(labels) else 0
    if max_m == 0 or probs.size(1) == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return [(empty, empty) for _ in labels]
    flat = torch.cat(labels)
    if int(flat.min()) < 0 or int(flat.max()) >= num_classes:
        bad = next(b for b, lab in enumerate(labels)
                   if lab.numel() and (int(lab.min()) < 0 or int(lab.max()) >= num_classes))
        raise ValueError(f'match_set_predictions: image {bad} has labels in '
                         f'[{int(labels[bad].min())}, {int(labels[bad].max())}] outside '
                         f'[0, {num_classes})')
    # (B, N, max_m) costs gathered on the device, one device-to-host copy
    valid = torch.arange(max_m, device=device)[None, :] < sizes[:, None]
    padded = torch.zeros(len(labels), max_m, dtype=torch.long, device=device)
    padded[valid] = flat
    costs = -torch.gather(probs, 2, padded[:, None, :].expand(-1, probs.size(1), -1))
    costs = costs.double().cpu().numpy()
    if not np.isfinite(costs).all():
        raise ValueError('match_set_predictions: NaN or infinite probabilities')
    out = []
    for b, m in enumerate(sizes.tolist()):
        rows, cols = linear_sum_assignment(costs[b, :, :m])
        out.append((torch.from_numpy(rows).to(device=device, dtype=torch.long),
                    torch.from_numpy(cols).to(device=device, dtype=torch.long)))
    return out
