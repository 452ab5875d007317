"""Cosine kNN image retrieval and top RoI-pair selection of ORL Stage 2.

Both return results in a deterministic order: decreasing similarity, ties broken by the lower
index (``torch.topk`` leaves the order of equal values unspecified, and it differs between CPU
and CUDA), so runs with different block sizes, shard counts or devices agree.
"""
from typing import Optional, Tuple

import numpy as np
import torch


def _stable_desc(values: torch.Tensor, index: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rows of ``(values, index)`` reordered by decreasing value, then increasing index."""
    order = torch.argsort(index, dim=1)
    values, index = values.gather(1, order), index.gather(1, order)
    order = torch.sort(values, dim=1, descending=True, stable=True).indices
    return values.gather(1, order), index.gather(1, order)


def knn_search(queries: torch.Tensor,
               bank: torch.Tensor,
               k: int,
               query_index: Optional[torch.Tensor] = None,
               block_size: int = 1024) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(index, similarity)`` of the ``k`` most similar ``bank`` rows of every query row.

    Similarity is the dot product (cosine for L2-normalised rows). ``query_index[i]`` is the bank
    row of query ``i`` itself, which is never returned: it is masked by index, not assumed to be
    the first hit (the official notebook drops the first hit, which returns the query itself and
    loses a real neighbour whenever another image scores at least as high, e.g. a duplicate).
    Queries are processed ``block_size`` rows at a time; results are on the queries' device.
    """
    if queries.ndim != 2 or bank.ndim != 2 or queries.shape[1] != bank.shape[1]:
        raise ValueError(f'queries {tuple(queries.shape)} and bank {tuple(bank.shape)} must be '
                         '2-D with the same feature dimension')
    available = bank.shape[0] - (query_index is not None)
    if k < 1 or k > available:
        raise ValueError(f'cannot retrieve k={k} neighbours from a bank of {bank.shape[0]} rows '
                         f'({available} candidates per query)')
    if query_index is not None:
        query_index = torch.as_tensor(query_index, dtype=torch.long, device=queries.device)
        if query_index.shape != (queries.shape[0], ):
            raise ValueError('query_index must hold one bank row per query')
    bank = bank.to(queries.device, queries.dtype)
    out_index, out_sim = [], []
    for start in range(0, queries.shape[0], block_size):
        sim = queries[start:start + block_size] @ bank.T
        rows = torch.arange(sim.shape[0], device=sim.device)
        if query_index is not None:
            sim[rows, query_index[start:start + block_size]] = float('-inf')
        values, index = torch.topk(sim, k, dim=1)
        values, index = _stable_desc(values, index)
        # a tie at the k-th value may have left out a lower index: redo those rows exactly
        tied = ((sim >= values[:, -1:]).sum(1) > k).nonzero().flatten()
        for r in tied.tolist():
            order = torch.sort(sim[r], descending=True, stable=True).indices[:k]
            index[r], values[r] = order, sim[r, order]
        out_index.append(index)
        out_sim.append(values)
    return torch.cat(out_index), torch.cat(out_sim)


def num_pairs(num_query_boxes: int, ratio: float) -> int:
    """ORL's pair count per (query, neighbour): ``int(ratio * B_q)``, at least 1."""
    n = int(ratio * num_query_boxes)
    return n if n > 0 else 1


def top_pairs(sim: torch.Tensor, ratio: float = 0.1) -> Tuple[np.ndarray, np.ndarray]:
    """``(query_rows, key_rows)`` of the ``int(ratio * B_q)`` (>= 1) largest entries of ``sim``.

    ``sim`` is the ``B_q x B_k`` RoI similarity matrix; entries are taken from the flattened
    matrix (a query RoI may pair with several key RoIs), largest first, ties by flat index.
    """
    if sim.ndim != 2 or sim.numel() == 0:
        raise ValueError(f'similarity matrix must be non-empty 2-D, got {tuple(sim.shape)}')
    n = min(num_pairs(sim.shape[0], ratio), sim.numel())
    flat = sim.flatten()
    values, index = torch.topk(flat, n)
    values, index = _stable_desc(values[None], index[None])
    if (flat >= values[0, -1]).sum() > n:  # a tie across the n-th place: exact stable sort
        index = torch.sort(flat, descending=True, stable=True).indices[:n][None]
    index = index[0].cpu().numpy()
    return index // sim.shape[1], index % sim.shape[1]
