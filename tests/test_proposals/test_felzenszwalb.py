"""Numba Felzenszwalb segmentation: scipy-identical smoothing, exact edge order, skimage parity."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from mmvisrep.proposals.felzenszwalb import (edge_weights, felzenszwalb, gaussian_kernel,
                                             smooth_image, split_keys)


def _smooth_noise(shape, seed):
    """A random image with some structure (ties between edge weights are then absent)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, shape).astype(np.float64)
    img[:shape[0] // 2] = img[:shape[0] // 2] * 0.3 + 150  # two broad zones
    return img.astype(np.uint8)


def reference_felzenszwalb(img, scale, sigma, min_size):
    """skimage's ``_felzenszwalb_cython`` restated in numpy/Python (small images only).

    Same edges and weights, float32 thresholds, the min_size pass over the same sorted edges,
    labels ordered by each segment's smallest index. skimage breaks exact weight ties with an
    unstable argsort; here they go by ``pixel * 4 + direction``, the documented rule of ours.
    """
    image = img * (1.0 / 255)
    if sigma > 0:
        image = ndi.gaussian_filter(image, sigma=[sigma, sigma, 0], mode='reflect', truncate=4.0)
    height, width = image.shape[:2]

    def cost(a, b):
        return np.sqrt(np.sum((a - b) * (a - b), axis=-1)).ravel()

    costs = np.hstack([
        cost(image[:, 1:], image[:, :-1]),
        cost(image[1:], image[:-1]),
        cost(image[1:, 1:], image[:-1, :-1]),
        cost(image[1:, :-1], image[:-1, 1:])
    ])
    seg = np.arange(height * width).reshape(height, width)
    edges = np.vstack([
        np.c_[seg[:, 1:].ravel(), seg[:, :-1].ravel()], np.c_[seg[1:].ravel(), seg[:-1].ravel()],
        np.c_[seg[1:, 1:].ravel(), seg[:-1, :-1].ravel()], np.c_[seg[:-1, 1:].ravel(),
                                                                 seg[1:, :-1].ravel()]
    ])
    ids = np.hstack([
        seg[:, :-1].ravel() * 4, seg[:-1].ravel() * 4 + 1, seg[:-1, :-1].ravel() * 4 + 2,
        seg[1:, :-1].ravel() * 4 + 3
    ])
    order = np.lexsort((ids, costs))
    parent = list(range(height * width))
    size = [1] * (height * width)
    internal = [0.0] * (height * width)

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    def join(a, b):  # the lower index becomes the root, as skimage's join_trees
        a, b = min(a, b), max(a, b)
        parent[b] = a
        size[a] += size[b]
        return a

    k = scale / 255.0
    for e in order:
        a, b = find(edges[e, 0]), find(edges[e, 1])
        if a == b:
            continue
        t_a = np.float32(internal[a] + k / size[a])
        t_b = np.float32(internal[b] + k / size[b])
        if costs[e] < min(t_a, t_b):
            internal[join(a, b)] = costs[e]
    for e in order:
        a, b = find(edges[e, 0]), find(edges[e, 1])
        if a != b and (size[a] < min_size or size[b] < min_size):
            join(a, b)
    roots = np.array([find(p) for p in range(height * width)])
    return np.unique(roots, return_inverse=True)[1].reshape(height, width), costs


@pytest.mark.parametrize('shape', [(40, 30, 3), (7, 9, 3), (2, 3, 3), (3, 2, 3)])
def test_smoothing_is_bit_identical_to_scipy(shape):
    """Same float64 values as skimage's smoothing (scipy, reflect mode, truncate 4), including
    lines shorter than the kernel radius."""
    img = _smooth_noise(shape, 1)
    for sigma in (0.9, 0.5, 2.0):
        ref = ndi.gaussian_filter(
            img * (1.0 / 255), sigma=[sigma, sigma, 0], mode='reflect', truncate=4.0)
        ours = smooth_image(img, gaussian_kernel(sigma)).reshape(shape)
        assert np.array_equal(ours, ref), sigma
    assert np.array_equal(smooth_image(img, np.ones(1)).reshape(shape), img * (1.0 / 255))


@pytest.mark.parametrize('seed,size', [(0, (24, 31)), (1, (17, 40)), (2, (30, 30))])
def test_segmentation_matches_the_skimage_algorithm(seed, size):
    """Labels equal to a plain restatement of skimage's algorithm (and to skimage if present)."""
    img = _smooth_noise(size + (3, ), seed)
    for scale, sigma, min_size in ((300, 0.9, 20), (100, 0.5, 5), (800, 0.0, 30)):
        ref, costs = reference_felzenszwalb(img, scale, sigma, min_size)
        # With smoothing the weights have no ties; without, many are equal.
        assert (len(np.unique(costs)) == len(costs)) == (sigma > 0)
        labels, count = felzenszwalb(img, scale, sigma, min_size)
        assert labels.dtype == np.int32 and count == ref.max() + 1 > 1
        assert np.array_equal(labels, ref), (scale, sigma, min_size)
    import skimage.segmentation as skimage  # requirements/tests.txt
    assert np.array_equal(
        felzenszwalb(img, 300, 0.9, 20)[0],
        skimage.felzenszwalb(img * (1.0 / 255), scale=300, sigma=0.9, min_size=20))


def test_colour_blocks_give_exact_segments():
    """Flat blocks with sharp edges (sigma 0) are exactly the segments, numbered by first pixel.

    A 3x3 block of 9 pixels stays alone with min_size 9 and joins a neighbour with min_size 10.
    """
    img = np.zeros((20, 30, 3), np.uint8)
    img[2:8, 20:28] = (255, 0, 0)  # first pixel (2, 20): label 1
    img[10:19, 3:12] = (0, 0, 255)  # first pixel (10, 3): label 2
    img[15:18, 25:28] = (0, 255, 0)  # 3x3 block, first pixel (15, 25): label 3
    labels, count = felzenszwalb(img, 300, 0, 9)
    expected = np.zeros((20, 30), np.int32)
    expected[2:8, 20:28] = 1
    expected[10:19, 3:12] = 2
    expected[15:18, 25:28] = 3
    assert count == 4 and np.array_equal(labels, expected)
    labels, count = felzenszwalb(img, 300, 0, 10)
    expected[15:18, 25:28] = 0  # merged into the background around it
    assert count == 3 and np.array_equal(labels, expected)
    # A larger k merges the blocks too: everything is one segment.
    assert felzenszwalb(img, 1e6, 0, 0)[1] == 1


def test_edge_order_is_exact_and_stable():
    """The packed integer sort plus the run fix-up gives np.argsort(kind='stable')'s order,
    with weights that differ only below the packed bits, and with exact ties."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (9, 11, 3)).astype(np.uint8)
    height, width = img.shape[:2]
    id_bits = int(height * width * 4 - 1).bit_length()
    weights, keys = edge_weights(smooth_image(img, gaussian_kernel(0.9)), height, width, id_bits)
    valid = np.sort(keys & np.uint64((1 << id_bits) - 1)).astype(np.int64)
    # Near-ties: weights 1 + i * 2**-50 agree in every bit the keys keep.
    weights[valid[:20]] = 1.0 + np.arange(20)[::-1] * 2.0**-50
    weights[valid[20:30]] = 0.25  # exact ties keep the id order
    weights[valid[30:35]] = 0.0
    high = ~np.uint64((1 << id_bits) - 1)
    keys = (weights[valid].view(np.uint64) & high) | valid.astype(np.uint64)
    ids, lower = split_keys(np.sort(keys), weights, id_bits)
    expected = valid[np.argsort(weights[valid], kind='stable')]
    assert np.array_equal(ids, expected)
    assert np.all(lower <= weights[ids]) and np.all(weights[ids] - lower <= weights[ids] * 2e-9)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match='HxWx3 uint8'):
        felzenszwalb(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match='HxWx3 uint8'):
        felzenszwalb(np.zeros((8, 8, 3), np.float64))
    with pytest.raises(ValueError, match='scale > 0'):
        felzenszwalb(np.zeros((8, 8, 3), np.uint8), scale=0)
    with pytest.raises(ValueError, match='min_size >= 0'):
        felzenszwalb(np.zeros((8, 8, 3), np.uint8), min_size=-1)
