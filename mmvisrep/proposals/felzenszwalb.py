"""Felzenszwalb-Huttenlocher graph segmentation with scikit-image's semantics, compiled by numba.

Same result as ``skimage.segmentation.felzenszwalb(img_as_float(rgb), scale, sigma, min_size)``,
which SoCo's official generator calls:

* the image is scaled to [0, 1] (``x * (1 / 255)``) and smoothed per channel by
  ``scipy.ndimage.gaussian_filter(sigma=(sigma, sigma, 0), mode='reflect', truncate=4)``,
  reproduced operation by operation (rows first, then columns; symmetric kernel sums), so the
  smoothed image is bit-identical to scipy's;
* the graph is 8-connected: every pixel is joined to its right, lower, lower-right and upper-right
  neighbour, with the Euclidean RGB distance as weight;
* edges are visited in increasing weight; two components merge when the weight is below
  ``min(Int(C) + k / |C|)`` over both, with ``k = scale / 255`` and the threshold rounded to
  float32, as skimage stores it; a second pass over the same sorted edges merges every component
  smaller than ``min_size`` with its neighbour;
* labels are numbered by the first pixel of each segment in raster order (skimage numbers them
  by the smallest pixel index of the segment, the same order).

One difference: skimage sorts edges with ``np.argsort`` (quicksort, unstable), so the order of
edges with *exactly equal* weights depends on numpy's sort implementation; here such ties keep
the order of their id ``pixel * 4 + direction``. Distinct weights are ordered exactly: each edge
is packed into one uint64 (the float64 bits of its weight with the low bits replaced by its id),
numpy sorts those integers, and an insertion sort on the exact weights fixes the rare runs whose
weights agree in every kept bit (``split_keys``). Smoothing and costs stay in float64 and are
computed operation by operation as scipy/numpy do, so on images without exact ties the labels
are identical to skimage's (tests/test_proposals/test_felzenszwalb.py, and the benchmark).
"""
import numpy as np
from numba import njit

TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter's default
# Edge directions as (dy, dx): right, down, down-right, up-right (skimage's four edge sets).
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def gaussian_kernel(sigma: float) -> np.ndarray:
    """The normalised 1-D Gaussian of ``scipy.ndimage.gaussian_filter1d`` (radius 4 sigma)."""
    radius = int(TRUNCATE * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    return phi / phi.sum()


@njit(cache=True)
def _reflect(i, n):
    """Index ``i`` of a line of length ``n`` extended in scipy's 'reflect' mode (dcba|abcd)."""
    period = 2 * n
    i = i % period
    if i >= n:
        i = period - 1 - i
    return i


@njit(cache=True)
def _accumulate(dst, a, b, weight):
    """``dst += (a + b) * weight`` element-wise (one row; a separate function so it vectorises)."""
    for j in range(dst.size):
        dst[j] += (a[j] + b[j]) * weight


@njit(cache=True)
def smooth_image(img, kernel):
    """``img`` (H, W, C) uint8 -> (H, W * C) float64 in [0, 1], smoothed along rows then columns.

    ``kernel`` is ``gaussian_kernel(sigma)`` (length 1: no smoothing). Per value the arithmetic is
    scipy's symmetric correlation: ``x[i] * w[0]``, then ``+= (x[i - k] + x[i + k]) * w[k]`` for
    ``k = r .. 1``; only the loop order differs, so the result is identical.
    """
    height, width, channels = img.shape
    row = width * channels
    flat = img.reshape(height, row)
    radius = (kernel.size - 1) // 2
    scaled = np.empty((height, row), np.float64)
    inv = 1.0 / 255.0
    for y in range(height):
        for j in range(row):
            scaled[y, j] = flat[y, j] * inv
    if radius == 0:
        return scaled
    w0 = kernel[radius]
    tmp = np.empty((height, row), np.float64)
    for y in range(height):  # along axis 0
        acc = tmp[y]
        src = scaled[y]
        for j in range(row):
            acc[j] = src[j] * w0
        for k in range(radius, 0, -1):
            _accumulate(acc, scaled[_reflect(y - k, height)], scaled[_reflect(y + k, height)],
                        kernel[radius + k])
    out = np.empty((height, row), np.float64)
    pad = radius * channels
    line = np.empty(row + 2 * pad, np.float64)
    for y in range(height):  # along axis 1, through a reflect-padded copy of the row
        for x in range(-radius, width + radius):
            src_x = _reflect(x, width) * channels
            for c in range(channels):
                line[pad + x * channels + c] = tmp[y, src_x + c]
        acc = out[y]
        for j in range(row):
            acc[j] = line[pad + j] * w0
        for k in range(radius, 0, -1):
            _accumulate(acc, line[pad - k * channels:pad - k * channels + row],
                        line[pad + k * channels:pad + k * channels + row], kernel[radius + k])
    return out


@njit(cache=True)
def edge_weights(smoothed, height, width, id_bits):
    """Weights of the 8-connected grid of an (H, W * 3) image, and the sort keys of its edges.

    Edge ``id = pixel * 4 + direction`` (directions as ``DIRECTIONS``). Returns ``weights``
    indexed by id (``sqrt(d0*d0 + d1*d1 + d2*d2)`` over the channels, summed in numpy's order as
    skimage does; entries of edges leaving the image stay 0 and are not used) and one ``uint64``
    key per edge: the IEEE-754 pattern of its weight (monotone for weights >= 0) with the low
    ``id_bits`` bits replaced by the id, so that sorting the keys sorts the edges by weight up to
    a relative 2**(id_bits - 52) (see ``split_keys``).
    """
    num = height * width
    count = (height * (width - 1) + (height - 1) * width + 2 * (height - 1) * (width - 1))
    weights = np.zeros(num * 4, np.float64)
    bits = weights.view(np.uint64)
    keys = np.empty(count, np.uint64)
    src = smoothed.reshape(num * 3)
    high = ~np.uint64((1 << id_bits) - 1)
    n = 0
    for y in range(height):
        for x in range(width):
            p = y * width + x
            for d in range(4):
                if d == 0:
                    if x + 1 >= width:
                        continue
                    q = p + 1
                elif d == 1:
                    if y + 1 >= height:
                        continue
                    q = p + width
                elif d == 2:
                    if y + 1 >= height or x + 1 >= width:
                        continue
                    q = p + width + 1
                else:
                    if y == 0 or x + 1 >= width:
                        continue
                    q = p - width + 1
                d0 = src[3 * q] - src[3 * p]
                d1 = src[3 * q + 1] - src[3 * p + 1]
                d2 = src[3 * q + 2] - src[3 * p + 2]
                e = p * 4 + d
                weights[e] = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
                keys[n] = (bits[e] & high) | np.uint64(e)
                n += 1
    return weights, keys


@njit(cache=True)
def split_keys(keys, weights, id_bits):
    """``(ids, lower)`` of the edges in exact ascending weight order, from sorted ``keys``.

    ``lower[i]`` is edge i's weight with the low ``id_bits`` mantissa bits cleared (a lower
    bound within a relative 2**(id_bits - 52)). Keys that agree above ``id_bits`` hold weights
    that close (nearly always equal ones); an insertion sort on the exact weights inside each
    such run makes the order exact, equal weights staying in id order (stable).
    """
    n = keys.size
    mask = np.uint64((1 << id_bits) - 1)
    ids = np.empty(n, np.int32)
    lower_bits = np.empty(n, np.uint64)
    for i in range(n):
        ids[i] = np.int32(keys[i] & mask)
        lower_bits[i] = keys[i] & ~mask
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and lower_bits[stop] == lower_bits[start]:
            stop += 1
        if stop - start > 1 and lower_bits[start] != 0:  # a zero prefix means weight 0 exactly
            for i in range(start + 1, stop):
                e = ids[i]
                w = weights[e]
                j = i - 1
                while j >= start and weights[ids[j]] > w:
                    ids[j + 1] = ids[j]
                    j -= 1
                ids[j + 1] = e
        start = stop
    return ids, lower_bits.view(np.float64)


@njit(cache=True)
def _find(parent, x):
    """Root of ``x`` with path halving."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True)
def segment_graph(ids, lower, weights, id_bits, height, width, k, min_size):
    """Felzenszwalb's merge pass, then skimage's ``min_size`` pass; (H, W) int32 labels, count.

    ``ids`` are the edges in ascending weight order, ``lower`` their truncated weights and
    ``weights`` the exact ones by id. Labels are numbered by each segment's first pixel (raster
    order).

    Exactness without reading ``weights`` at random: the thresholds are float32, whose spacing
    is 2**29 float64 steps, so for ``id_bits <= 29`` no threshold lies strictly inside
    ``[lower, lower + 2**id_bits steps)`` and ``weight < t`` equals ``lower < t``. The new
    threshold ``float32(weight + k / size)`` is taken from ``lower`` when rounding an upper
    bound of the weight gives the same float32; otherwise the exact weight is read.
    """
    num = height * width
    parent = np.arange(num).astype(np.int32)
    size = np.ones(num, np.int32)
    # Merge threshold Int(C) + k / |C| of each root, rounded to float32 as skimage stores it.
    threshold = np.full(num, np.float32(k), np.float32)
    offsets = np.array([1, width, width + 1, 1 - width], np.int64)
    bounded = id_bits <= 29
    slack = 2.0**(id_bits - 51)  # lower * (1 + slack) >= every weight with that prefix
    # Edges the first pass leaves between two segments, in order: the only candidates of the
    # min_size pass (an edge inside a segment stays inside).
    rejected = np.empty(ids.size, np.int32)
    num_rejected = 0
    for i in range(ids.size):
        e = ids[i]
        p = e >> 2
        a = _find(parent, p)
        b = _find(parent, p + offsets[e & 3])
        if a == b:
            continue
        weight = lower[i] if bounded else weights[e]
        if weight < min(threshold[a], threshold[b]):
            if size[a] < size[b]:
                a, b = b, a
            parent[b] = a
            size[a] += size[b]
            step = k / size[a]
            new = np.float32(weight + step)
            if not bounded or np.float32(weight + weight * slack + step) != new:
                new = np.float32(weights[e] + step)
            threshold[a] = new
        else:
            rejected[num_rejected] = e
            num_rejected += 1
    for i in range(num_rejected):
        e = rejected[i]
        p = e >> 2
        a = _find(parent, p)
        b = _find(parent, p + offsets[e & 3])
        if a != b and (size[a] < min_size or size[b] < min_size):
            if size[a] < size[b]:
                a, b = b, a
            parent[b] = a
            size[a] += size[b]
    labels = np.empty((height, width), np.int32)
    new_label = np.full(num, -1, np.int32)
    count = 0
    for y in range(height):
        for x in range(width):
            root = _find(parent, y * width + x)
            if new_label[root] < 0:
                new_label[root] = count
                count += 1
            labels[y, x] = new_label[root]
    return labels, count


def felzenszwalb(img: np.ndarray, scale: float = 300, sigma: float = 0.9, min_size: int = 100):
    """Segment an (H, W, 3) uint8 image; ``(labels (H, W) int32, number of segments)``.

    Parameters mean what they mean in ``skimage.segmentation.felzenszwalb`` (``scale`` is the
    paper's k for intensities in [0, 255]).
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 \
            or img.shape[2] != 3:
        desc = f'{img.dtype} {img.shape}' if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f'felzenszwalb needs an HxWx3 uint8 image, got {desc}')
    if not scale > 0 or not sigma >= 0 or min_size < 0:
        raise ValueError(f'felzenszwalb: need scale > 0, sigma >= 0, min_size >= 0, got '
                         f'{scale}, {sigma}, {min_size}')
    height, width = img.shape[:2]
    kernel = gaussian_kernel(sigma) if sigma > 1e-15 else np.ones(1)
    smoothed = smooth_image(np.ascontiguousarray(img), kernel)
    id_bits = max(1, int(height * width * 4 - 1).bit_length())
    weights, keys = edge_weights(smoothed, height, width, id_bits)
    keys.sort()  # numpy's (SIMD) integer sort; keys are unique, so the order is deterministic
    ids, lower = split_keys(keys, weights, id_bits)
    return segment_graph(ids, lower, weights, id_bits, height, width,
                         float(scale) / 255.0, int(min_size))
