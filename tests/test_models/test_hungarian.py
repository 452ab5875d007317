"""Hungarian matching of the SVL set-prediction loss: brute-force parity (N, M <= 5, both
M > N and M < N), hand-made cases, batching, and bad input."""
import itertools

import numpy as np
import pytest
import torch

from mmvisrep.models.utils import hungarian_match, match_set_predictions, set_prediction_cost


def brute_force(cost: np.ndarray):
    """Minimum total cost over all injective matchings of the smaller side; (cost, pairs)."""
    n, m = cost.shape
    best, best_pairs = np.inf, None
    if n >= m:
        for perm in itertools.permutations(range(n), m):
            total = sum(cost[perm[j], j] for j in range(m))
            if total < best - 1e-12:
                best, best_pairs = total, sorted((perm[j], j) for j in range(m))
    else:
        for perm in itertools.permutations(range(m), n):
            total = sum(cost[i, perm[i]] for i in range(n))
            if total < best - 1e-12:
                best, best_pairs = total, sorted((i, perm[i]) for i in range(n))
    return (0. if best_pairs is None else best), (best_pairs or [])


@pytest.mark.parametrize('num_queries,num_labels',
                         [(n, m) for n in range(1, 6) for m in range(0, 6)])
def test_matches_brute_force(num_queries, num_labels):
    gen = torch.Generator().manual_seed(100 * num_queries + num_labels)
    for trial in range(3):
        probs = torch.rand(num_queries, 7, generator=gen).softmax(-1)
        labels = torch.randint(0, 7, (num_labels, ), generator=gen)  # duplicates allowed
        cost = set_prediction_cost(probs, labels)
        rows, cols = hungarian_match(cost)
        assert len(rows) == len(cols) == min(num_queries, num_labels)
        assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
        ours = float(cost[rows, cols].sum()) if len(rows) else 0.
        best, pairs = brute_force(cost.numpy().astype(np.float64))
        assert ours == pytest.approx(best, abs=1e-6)
        if len(set(labels.tolist())) == num_labels:  # distinct labels: the optimum is unique
            assert sorted(zip(rows.tolist(), cols.tolist())) == pairs


def test_cost_is_negative_probability():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    labels = torch.tensor([2, 0, 2])
    cost = set_prediction_cost(probs, labels)
    assert torch.allclose(cost, -torch.tensor([[0.1, 0.7, 0.1], [0.8, 0.1, 0.8]]))


def test_hand_case_more_labels_than_queries():
    # query 0 is sure of class 1, query 1 of class 0; the third label (class 2) stays unmatched
    probs = torch.tensor([[0.05, 0.9, 0.05], [0.8, 0.1, 0.1]])
    rows, cols = hungarian_match(set_prediction_cost(probs, torch.tensor([0, 1, 2])))
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]


def test_hand_case_fewer_labels_than_queries():
    probs = torch.tensor([[0.5, 0.5], [0.1, 0.9], [0.6, 0.4]])
    rows, cols = hungarian_match(set_prediction_cost(probs, torch.tensor([1])))
    assert rows.tolist() == [1] and cols.tolist() == [0]


def test_batched_equals_per_image():
    gen = torch.Generator().manual_seed(0)
    probs = torch.rand(4, 6, 9, generator=gen).softmax(-1)
    labels = [torch.randint(0, 9, (m, ), generator=gen) for m in (0, 3, 6, 8)]
    matches = match_set_predictions(probs, labels)
    for b, (q, t) in enumerate(matches):
        rows, cols = hungarian_match(set_prediction_cost(probs[b], labels[b]))
        assert q.tolist() == rows.tolist() and t.tolist() == cols.tolist()
    assert [len(q) for q, _ in matches] == [0, 3, 6, 6]
    assert all(q.dtype == torch.long for q, _ in matches)


def test_all_empty_and_bad_input():
    probs = torch.rand(2, 3, 4).softmax(-1)
    empty = torch.zeros(0, dtype=torch.long)
    assert all(len(q) == 0 for q, _ in match_set_predictions(probs, [empty, empty]))
    rows, cols = hungarian_match(np.zeros((3, 0)))
    assert rows.numel() == cols.numel() == 0
    with pytest.raises(ValueError, match='outside'):
        match_set_predictions(probs, [torch.tensor([4]), empty])
    with pytest.raises(ValueError, match='label sets'):
        match_set_predictions(probs, [empty])
    with pytest.raises(ValueError, match='NaN'):
        hungarian_match(torch.tensor([[float('nan'), 0.]]))
    with pytest.raises(ValueError, match='2-D'):
        hungarian_match(np.zeros(3))
