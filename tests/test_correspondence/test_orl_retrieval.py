"""kNN retrieval (self excluded by index, ties, duplicates) and top RoI-pair selection."""
import numpy as np
import pytest
import torch

from mmvisrep.correspondence import knn_search, num_pairs, top_pairs

# Vectors with exactly representable products, so ties are exact ties whatever the BLAS path;
# rows 1 and 4 are duplicates. Similarity = dot product.
BANK = torch.tensor([[1, 0], [0.75, 0.5], [0.5, 0.75], [0, 1], [0.75, 0.5]])


def test_knn_hand_made_vectors_self_excluded_and_ordered():
    index, sims = knn_search(BANK, BANK, 3, torch.arange(5))
    expected = [
        [1, 4, 2],  # .75 (tie, lower index first), .75, .5
        [4, 0, 2],  # its duplicate .8125 (= its own score), then .75 (tie: 0 before 2)
        [1, 3, 4],  # three-way tie at .75
        [2, 1, 4],  # .75, then .5 (tie)
        [1, 0, 2],  # the duplicate: row 1 (.8125), then .75 (tie)
    ]
    assert index.tolist() == expected
    assert sims.tolist() == [[.75, .75, .5], [.8125, .75, .75], [.75, .75, .75], [.75, .5, .5],
                             [.8125, .75, .75]]
    for q, row in enumerate(index.tolist()):
        assert q not in row and len(set(row)) == 3
    # a tie across the k-th place is resolved by index, not left to topk's order
    assert knn_search(BANK, BANK, 2, torch.arange(5))[0].tolist() == [[1, 4], [4, 0], [1, 3],
                                                                      [2, 1], [1, 0]]
    # block size does not matter
    assert knn_search(BANK, BANK, 3, torch.arange(5), block_size=2)[0].tolist() == expected


def test_knn_duplicates_never_return_the_query_itself():
    # the notebook's "topk(k+1), drop the first hit" keeps the query itself when a duplicate
    # scores at least as high; masking by index cannot
    bank = torch.nn.functional.normalize(
        torch.randn(6, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    bank = torch.cat([bank, bank[:3]])  # rows 6, 7, 8 duplicate rows 0, 1, 2
    index, sims = knn_search(bank, bank, 4, torch.arange(9))
    for q, row in enumerate(index.tolist()):
        assert q not in row
    for q, dup in [(0, 6), (1, 7), (2, 8), (6, 0), (7, 1), (8, 2)]:
        assert index[q, 0].item() == dup
        assert sims[q, 0].item() == pytest.approx(1.0, abs=1e-6)
    # brute force: the returned neighbours are the 4 best non-self rows
    sim = (bank @ bank.T).numpy()
    np.fill_diagonal(sim, -np.inf)
    for q in range(9):
        best = np.sort(sim[q])[::-1][:4]
        np.testing.assert_allclose(sims[q].numpy(), best, atol=1e-6)


def test_knn_queries_subset_and_errors():
    index, _ = knn_search(BANK[[3]], BANK, 1, torch.tensor([3]))
    assert index.tolist() == [[2]]
    # without query_index nothing is masked: a bank row finds itself
    assert knn_search(BANK[[3]], BANK, 1)[0].tolist() == [[3]]
    with pytest.raises(ValueError, match='k=5'):
        knn_search(BANK, BANK, 5, torch.arange(5))  # only 4 candidates once self is out
    with pytest.raises(ValueError, match='feature dimension'):
        knn_search(BANK, torch.zeros(5, 3), 1)


def test_num_pairs_follows_the_official_int_rule():
    assert [num_pairs(b, 0.1) for b in (1, 3, 9, 10, 25, 30, 99, 100)] == \
        [1, 1, 1, 1, 2, 3, 9, 10]
    assert num_pairs(7, 0.5) == 3


def test_top_pairs_hand_made_matrix():
    sim = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.9, 0.3]])
    # int(0.7 * 3) = 2 pairs: both 0.9 entries, flat order (0, 1) before (2, 0)
    q, k = top_pairs(sim, 0.7)
    assert q.tolist() == [0, 2] and k.tolist() == [1, 0]
    # int(0.1 * 3) = 0 -> at least one pair
    q, k = top_pairs(sim, 0.1)
    assert q.tolist() == [0] and k.tolist() == [1]
    # int(1.0 * 3) = 3: then 0.8 at (1, 0)
    q, k = top_pairs(sim, 1.0)
    assert list(zip(q.tolist(), k.tolist())) == [(0, 1), (2, 0), (1, 0)]
    # a query RoI may pair with several key RoIs; never more pairs than entries
    q, k = top_pairs(torch.tensor([[0.5, 0.4, 0.3]]), 5.0)
    assert q.tolist() == [0, 0, 0] and k.tolist() == [0, 1, 2]
    with pytest.raises(ValueError):
        top_pairs(torch.zeros(0, 3))


def test_tie_heavy_random_matrices_match_a_full_stable_sort():
    """Small integer similarities (many ties): same result as sorting everything stably."""
    for trial in range(100):
        gen = torch.Generator().manual_seed(trial)
        rows, cols = torch.randint(1, 20, (2, ), generator=gen).tolist()
        sim = torch.randint(0, 4, (rows, cols), generator=gen).float()
        ratio = float(torch.rand(1, generator=gen)) * 2
        q, k = top_pairs(sim, ratio)
        n = min(max(1, int(ratio * rows)), rows * cols)
        ref = torch.sort(sim.flatten(), descending=True, stable=True).indices[:n]
        assert (q * cols + k).tolist() == ref.tolist()
        # kNN on integer vectors: the k best non-self rows, lower index first on ties
        bank = torch.randint(0, 3, (rows + 2, 3), generator=gen).float()
        kk = int(torch.randint(1, rows + 2, (1, ), generator=gen))
        index, _ = knn_search(bank, bank, kk, torch.arange(rows + 2), block_size=3)
        full = bank @ bank.T
        full.fill_diagonal_(float('-inf'))
        ref = torch.sort(full, dim=1, descending=True, stable=True).indices[:, :kk]
        assert index.tolist() == ref.tolist()
