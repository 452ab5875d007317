"""Selective search's hierarchical grouping as SoCo's official generator runs it, numba-compiled.

The official (``selective_search/selective_search.py``, a port of the AlpacaDB ``selectivesearch``
package) starts from the Felzenszwalb segments and repeatedly merges the two neighbouring
regions with the highest similarity ``colour + texture + size + fill`` until no neighbouring
pair is left. Every region, the initial ones and each merge, is a proposal. Reproduced here:

* **colour**: 25-bin histograms over (0, 255) of the HSV image computed from RGB values in
  [0, 255], so H and S (in [0, 1]) always fall into their first bin and only V = max(R, G, B) is
  binned; the similarity is ``2 + sum(min(V bins))`` in the official summation order.
* **texture**: LBP codes (8 points, radius 1, bilinear samples, zero outside the image) of each
  RGB channel, 10-bin histograms over (0, 255) per channel (SoCo's range; AlpacaDB used (0, 1)).
* **size** ``1 - (s_i + s_j) / im_size`` and **fill** ``1 - (bbox_ij - s_i - s_j) / im_size``
  with the official (exclusive) box extent ``max - min``.
* histograms of a merged region are the size-weighted means; the float operations are those of
  the official, so similarities are bit-identical.
* **neighbours** (``'bbox'``): a pair (a, b), a before b, when one of b's box corners lies
  strictly inside a's box (AlpacaDB's ``intersect``; regions that touch are often not
  neighbours, and some that do not touch are). ``'adjacent'`` instead pairs regions joined by an
  edge of the 8-connected pixel grid. A merged region inherits its parts' neighbours.
* **order**: the pair picked is the highest similarity, ties going to the pair inserted last
  (the official sorts its dict stably and takes the last item); the merged region's new pairs
  are inserted in the order of the old pairs they replace.

Instead of the official's O(regions x pairs) rescans, pairs live in a max-heap keyed by
(similarity, insertion index) with lazy deletion, and each region keeps a list of its pairs.
"""
import functools

import numpy as np
from numba import njit

COLOR_BINS = 25
TEXTURE_BINS = 10
HIST_LEN = COLOR_BINS + 3 * TEXTURE_BINS  # V histogram + three LBP histograms
NEIGHBOURS = ('bbox', 'adjacent')


@functools.lru_cache()
def bin_lut(bins: int) -> np.ndarray:
    """Bin of each integer 0..255 in ``np.histogram(x, bins, (0.0, 255.0))``."""
    return np.array([np.histogram([v], bins, (0.0, 255.0))[0].argmax() for v in range(256)],
                    dtype=np.int64)


# skimage's LBP samples sit at (-sin, cos)(s * 45 deg) rounded to 5 decimals: the axis ones at
# exact pixels, the diagonal ones at +-0.70711.
LBP_DIAGONAL = float(np.round(np.sin(np.pi / 4), 5))


@njit(cache=True)
def _fractions(n, offset):
    """``(i + offset) - floor(i + offset)`` for i < n: skimage's bilinear weight along one axis."""
    frac = np.empty(n, np.float64)
    for i in range(n):
        pos = i + offset
        frac[i] = pos - np.floor(pos)
    return frac


@njit(cache=True)
def _lbp_row(up, mid, down, out, dr_up, dr_down, dc_left, dc_right):
    """LBP codes (P = 8, R = 1) of one image row, as ``skimage.feature.local_binary_pattern``.

    ``up``/``mid``/``down`` are rows y - 1, y, y + 1 of the image padded with one zero pixel on
    each side (skimage reads 0 outside the image). Samples s = 0..7 sit at angle ``s * 45``
    degrees: the four axis ones are pixels, the diagonal ones (offsets +-0.70711) are bilinear
    interpolations with skimage's weights ``dr``/``dc`` and operation order. Bit s is set when
    ``sample - center >= 0``.
    """
    for x in range(out.size):
        c = x + 1
        center = mid[c]
        # s = 1 (up-right), 3 (up-left): rows y-1 / y with weight dr_up; 5, 7 likewise downwards.
        ur = (1 - dr_up) * ((1 - dc_right[x]) * up[c] + dc_right[x] * up[c + 1]) + dr_up * (
            (1 - dc_right[x]) * mid[c] + dc_right[x] * mid[c + 1])
        ul = (1 - dr_up) * ((1 - dc_left[x]) * up[c - 1] + dc_left[x] * up[c]) + dr_up * (
            (1 - dc_left[x]) * mid[c - 1] + dc_left[x] * mid[c])
        dl = (1 - dr_down) * ((1 - dc_left[x]) * mid[c - 1] + dc_left[x] * mid[c]) + dr_down * (
            (1 - dc_left[x]) * down[c - 1] + dc_left[x] * down[c])
        dr = (1 - dr_down) * ((1 - dc_right[x]) * mid[c] + dc_right[x] * mid[c + 1]) + dr_down * (
            (1 - dc_right[x]) * down[c] + dc_right[x] * down[c + 1])
        out[x] = ((mid[c + 1] - center >= 0) * 1 + (ur - center >= 0) * 2 +
                  (up[c] - center >= 0) * 4 + (ul - center >= 0) * 8 +
                  (mid[c - 1] - center >= 0) * 16 + (dl - center >= 0) * 32 +
                  (down[c] - center >= 0) * 64 + (dr - center >= 0) * 128)


@njit(cache=True)
def region_features(img, labels, count, color_lut, texture_lut, diag):
    """Boxes, sizes and normalised histograms of the ``count`` segments of ``labels``.

    ``img`` is the (H, W, 3) uint8 RGB image, ``diag`` the diagonal LBP offset (0.70711, as
    skimage rounds sin 45 degrees). Returns ``boxes`` (count, 4) int64 as ``min_x, min_y,
    max_x, max_y``, ``sizes`` (count,) int64 and ``hists`` (count, HIST_LEN) float64: the V
    histogram, then the LBP histograms of R, G and B, each divided by the region size.
    """
    height, width = labels.shape
    boxes = np.empty((count, 4), np.int64)
    boxes[:, 0] = width
    boxes[:, 1] = height
    boxes[:, 2] = -1
    boxes[:, 3] = -1
    sizes = np.zeros(count, np.int64)
    counts = np.zeros((count, HIST_LEN), np.int64)
    planes = np.zeros((3, height + 2, width + 2), np.float64)  # zero border: mode 'C', cval 0
    for y in range(height):
        for x in range(width):
            for c in range(3):
                planes[c, y + 1, x + 1] = img[y, x, c]
    # Weights of the samples at row/column offsets -diag (floor = i - 1) and +diag (floor = i).
    rows_up, rows_down = _fractions(height, -diag), _fractions(height, diag)
    cols_left, cols_right = _fractions(width, -diag), _fractions(width, diag)
    codes = np.zeros((3, width), np.int64)
    for y in range(height):
        for c in range(3):
            _lbp_row(planes[c, y], planes[c, y + 1], planes[c, y + 2], codes[c], rows_up[y],
                     rows_down[y], cols_left, cols_right)
        for x in range(width):
            label = labels[y, x]
            if x < boxes[label, 0]:
                boxes[label, 0] = x
            if y < boxes[label, 1]:
                boxes[label, 1] = y
            if x > boxes[label, 2]:
                boxes[label, 2] = x
            boxes[label, 3] = y
            sizes[label] += 1
            value = max(img[y, x, 0], img[y, x, 1], img[y, x, 2])
            counts[label, color_lut[value]] += 1
            for c in range(3):
                counts[label, COLOR_BINS + c * TEXTURE_BINS + texture_lut[codes[c, x]]] += 1
    hists = np.empty((count, HIST_LEN), np.float64)
    for r in range(count):
        for b in range(HIST_LEN):
            hists[r, b] = counts[r, b] / sizes[r]
    return boxes, sizes, hists


@njit(cache=True)
def bbox_neighbours(boxes):
    """Pairs (a, b), a < b, where a corner of b lies strictly inside a's box (official order)."""
    n = boxes.shape[0]
    pairs = np.empty((max(n * 4, 16), 2), np.int64)
    m = 0
    for a in range(n - 1):
        ax0, ay0, ax1, ay1 = boxes[a, 0], boxes[a, 1], boxes[a, 2], boxes[a, 3]
        for b in range(a + 1, n):
            bx0, by0, bx1, by1 = boxes[b, 0], boxes[b, 1], boxes[b, 2], boxes[b, 3]
            in_x0 = ax0 < bx0 < ax1
            in_x1 = ax0 < bx1 < ax1
            in_y0 = ay0 < by0 < ay1
            in_y1 = ay0 < by1 < ay1
            if (in_x0 and in_y0) or (in_x1 and in_y1) or (in_x0 and in_y1) or (in_x1 and in_y0):
                if m == pairs.shape[0]:
                    grown = np.empty((2 * m, 2), np.int64)
                    grown[:m] = pairs
                    pairs = grown
                pairs[m, 0] = a
                pairs[m, 1] = b
                m += 1
    return pairs[:m].copy()


@njit(cache=True)
def adjacent_neighbours(labels, count):
    """Pairs (a, b), a < b, of segments joined by an 8-connected grid edge, sorted."""
    height, width = labels.shape
    codes = np.empty(4 * height * width, np.int64)
    m = 0
    for y in range(height):
        for x in range(width):
            a = labels[y, x]
            for dy, dx in ((0, 1), (1, 0), (1, 1), (-1, 1)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < height and xx < width:
                    b = labels[yy, xx]
                    if a != b:
                        codes[m] = min(a, b) * count + max(a, b)
                        m += 1
    codes = np.unique(codes[:m])
    pairs = np.empty((codes.size, 2), np.int64)
    for i in range(codes.size):
        pairs[i, 0] = codes[i] // count
        pairs[i, 1] = codes[i] % count
    return pairs


@njit(cache=True)
def similarity(hists, sizes, boxes, i, j, im_size):
    """Official ``sim_colour + sim_texture + sim_size + sim_fill`` of regions i and j.

    The colour sum starts at 2.0: the H and S histograms are each 1.0 in their first bin.
    """
    colour = 2.0
    for b in range(COLOR_BINS):
        colour += min(hists[i, b], hists[j, b])
    texture = 0.0
    for b in range(COLOR_BINS, HIST_LEN):
        texture += min(hists[i, b], hists[j, b])
    size = 1.0 - (sizes[i] + sizes[j]) / im_size
    box = ((max(boxes[i, 2], boxes[j, 2]) - min(boxes[i, 0], boxes[j, 0])) *
           (max(boxes[i, 3], boxes[j, 3]) - min(boxes[i, 1], boxes[j, 1])))
    fill = 1.0 - (box - sizes[i] - sizes[j]) / im_size
    return colour + texture + size + fill


@njit(cache=True)
def _heap_before(sims, a, b):
    """Whether entry a ranks above entry b: higher similarity, then inserted later."""
    return sims[a] > sims[b] or (sims[a] == sims[b] and a > b)


@njit(cache=True)
def _heap_push(heap, size, sims, entry):
    i = size
    heap[i] = entry
    while i > 0:
        parent = (i - 1) // 2
        if not _heap_before(sims, heap[i], heap[parent]):
            break
        heap[i], heap[parent] = heap[parent], heap[i]
        i = parent
    return size + 1


@njit(cache=True)
def _heap_pop(heap, size, sims):
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        best = left
        if left + 1 < size and _heap_before(sims, heap[left + 1], heap[left]):
            best = left + 1
        if not _heap_before(sims, heap[best], heap[i]):
            break
        heap[i], heap[best] = heap[best], heap[i]
        i = best
    return top, size


@njit(cache=True)
def _grow(arr, need):
    """``arr`` (1-D) with room for at least ``need`` items (doubling)."""
    if need <= arr.size:
        return arr
    grown = np.empty(max(need, 2 * arr.size), arr.dtype)
    grown[:arr.size] = arr
    return grown


@njit(cache=True)
def _link_pair(node_entry, node_next, head, num_nodes, entry, a, b):
    """Prepend pair ``entry`` to the entry lists of regions ``a`` and ``b``; new node count."""
    node_entry[num_nodes] = entry
    node_next[num_nodes] = head[a]
    head[a] = num_nodes
    node_entry[num_nodes + 1] = entry
    node_next[num_nodes + 1] = head[b]
    head[b] = num_nodes + 1
    return num_nodes + 2


@njit(cache=True)
def group_regions(boxes0, sizes0, hists0, pairs, im_size):
    """Merge regions greedily; ``(boxes, merges)`` of every region in the official order.

    ``boxes`` (2n - 1 at most, 4) int64 ``min_x, min_y, max_x, max_y``: the n initial regions,
    then one per merge. ``merges`` (merges, 2) holds the two regions each merge joined.
    """
    n = boxes0.shape[0]
    cap = max(2 * n - 1, 1)
    boxes = np.empty((cap, 4), np.int64)
    sizes = np.empty(cap, np.int64)
    hists = np.empty((cap, HIST_LEN), np.float64)
    boxes[:n] = boxes0
    sizes[:n] = sizes0
    hists[:n] = hists0
    alive = np.zeros(cap, np.bool_)
    alive[:n] = True
    # Pair entries in insertion order (their index is the tie-break), their similarity, and a
    # linked list of entries per region.
    m = pairs.shape[0]
    ent_a = np.empty(max(2 * m, 16), np.int64)
    ent_b = np.empty(max(2 * m, 16), np.int64)
    sims = np.empty(max(2 * m, 16), np.float64)
    node_entry = np.empty(max(4 * m, 16), np.int64)
    node_next = np.empty(max(4 * m, 16), np.int64)
    head = np.full(cap, -1, np.int64)
    heap = np.empty(max(2 * m, 16), np.int64)
    num_entries = 0
    num_nodes = 0
    heap_size = 0
    for p in range(m):
        a, b = pairs[p, 0], pairs[p, 1]
        ent_a[p] = a
        ent_b[p] = b
        sims[p] = similarity(hists, sizes, boxes, a, b, im_size)
        num_nodes = _link_pair(node_entry, node_next, head, num_nodes, p, a, b)
        heap_size = _heap_push(heap, heap_size, sims, p)
    num_entries = m
    merges = np.empty((max(n - 1, 0), 2), np.int64)
    num_regions = n
    mark = np.full(cap, -1, np.int64)
    found = np.empty(16, np.int64)
    while heap_size > 0:
        e, heap_size = _heap_pop(heap, heap_size, sims)
        i, j = ent_a[e], ent_b[e]
        if not (alive[i] and alive[j]):
            continue  # a pair of a region merged earlier (lazily deleted)
        t = num_regions
        num_regions += 1
        merges[t - n, 0] = i
        merges[t - n, 1] = j
        total = sizes[i] + sizes[j]
        sizes[t] = total
        boxes[t, 0] = min(boxes[i, 0], boxes[j, 0])
        boxes[t, 1] = min(boxes[i, 1], boxes[j, 1])
        boxes[t, 2] = max(boxes[i, 2], boxes[j, 2])
        boxes[t, 3] = max(boxes[i, 3], boxes[j, 3])
        for b in range(HIST_LEN):
            hists[t, b] = (hists[i, b] * sizes[i] + hists[j, b] * sizes[j]) / total
        alive[i] = False
        alive[j] = False
        alive[t] = True
        # The live pairs of i and j, in insertion order, become pairs of t.
        num_found = 0
        for r in (i, j):
            node = head[r]
            while node >= 0:
                entry = node_entry[node]
                other = ent_a[entry] if ent_b[entry] == r else ent_b[entry]
                if alive[other]:
                    found = _grow(found, num_found + 1)
                    found[num_found] = entry
                    num_found += 1
                node = node_next[node]
        found[:num_found].sort()
        for f in range(num_found):
            entry = found[f]
            other = ent_b[entry] if alive[ent_b[entry]] else ent_a[entry]
            if mark[other] == t:
                continue  # a neighbour of both i and j keeps its first position
            mark[other] = t
            ent_a = _grow(ent_a, num_entries + 1)
            ent_b = _grow(ent_b, num_entries + 1)
            sims = _grow(sims, num_entries + 1)
            heap = _grow(heap, heap_size + 1)
            node_entry = _grow(node_entry, num_nodes + 2)
            node_next = _grow(node_next, num_nodes + 2)
            ent_a[num_entries] = t
            ent_b[num_entries] = other
            sims[num_entries] = similarity(hists, sizes, boxes, t, other, im_size)
            num_nodes = _link_pair(node_entry, node_next, head, num_nodes, num_entries, t, other)
            heap_size = _heap_push(heap, heap_size, sims, num_entries)
            num_entries += 1
    return boxes[:num_regions].copy(), merges[:num_regions - n].copy()


def region_boxes(labels: np.ndarray, count: int, img: np.ndarray, neighbours: str = 'bbox'):
    """Initial region features and neighbour pairs of a segmentation (see ``group_regions``)."""
    if neighbours not in NEIGHBOURS:
        raise ValueError(f'neighbours must be one of {NEIGHBOURS}, got {neighbours!r}')
    boxes, sizes, hists = region_features(img, labels, count, bin_lut(COLOR_BINS),
                                          bin_lut(TEXTURE_BINS), LBP_DIAGONAL)
    pairs = bbox_neighbours(boxes) if neighbours == 'bbox' else adjacent_neighbours(labels, count)
    return boxes, sizes, hists, pairs
