"""Hierarchical grouping of the numba backend: hand-computed merges, LBP and histograms, and
exact agreement with a plain restatement of SoCo's official generator."""
import colorsys
import os.path as osp

import cv2
import numpy as np
import pytest

from mmvisrep.proposals import selective_search_numba
from mmvisrep.proposals.felzenszwalb import felzenszwalb
from mmvisrep.proposals.hierarchical_grouping import (HIST_LEN, LBP_DIAGONAL, adjacent_neighbours,
                                                      bbox_neighbours, bin_lut, group_regions,
                                                      region_boxes, region_features, similarity)


def _features(boxes, sizes, v_bins):
    """Hand-made region features: one V-histogram bin set to 1 per region, no texture."""
    hists = np.zeros((len(sizes), HIST_LEN))
    hists[np.arange(len(sizes)), v_bins] = 1.0
    return np.array(boxes, np.int64), np.array(sizes, np.int64), hists


def test_three_regions_merge_as_computed_by_hand():
    """A (left half, V bin 0), B (top right, bin 0), C (bottom right, bin 1); image of 100 px.

    sim = 2 + sum min(V) + sum min(texture) + (1 - (s_i + s_j) / 100) + (1 - (box - s_i - s_j)
    / 100), box = (max_x - min_x) * (max_y - min_y) of the union:
    A-B = 3 + 0 + 0.25 + 0.94 = 4.19, A-C = 2 + 0.25 + 0.94 = 3.19, B-C = 2 + 0.5 + 1.14 = 3.64.
    A and B merge first (region 3, all of V in bin 0); its one new pair, with C, scores
    2 + 0 + 1.19 = 3.19 and merges last.
    """
    boxes, sizes, hists = _features([[0, 0, 4, 9], [5, 0, 9, 4], [5, 5, 9, 9]], [50, 25, 25],
                                    [0, 0, 1])
    for (i, j), expected in (((0, 1), 4.19), ((0, 2), 3.19), ((1, 2), 3.64)):
        assert similarity(hists, sizes, boxes, i, j, 100) == pytest.approx(expected)
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    out, merges = group_regions(boxes, sizes, hists, pairs, 100)
    assert merges.tolist() == [[0, 1], [3, 2]]
    assert out.tolist() == [[0, 0, 4, 9], [5, 0, 9, 4], [5, 5, 9, 9], [0, 0, 9, 9], [0, 0, 9, 9]]
    # Without the A-B pair the best is B-C (3.64), then the merged BC with A.
    out, merges = group_regions(boxes, sizes, hists, pairs[1:], 100)
    assert merges.tolist() == [[1, 2], [3, 0]]  # new pairs are (new region, other)


def test_ties_go_to_the_pair_inserted_last():
    """Three identical regions: every pair scores the same; the official takes the last pair
    of its (stably sorted) dict, (1, 2), then the new pair (3, 0)."""
    boxes, sizes, hists = _features([[0, 0, 4, 4]] * 3, [10, 10, 10], [2, 2, 2])
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    assert group_regions(boxes, sizes, hists, pairs, 100)[1].tolist() == [[1, 2], [3, 0]]
    # Regions without any pair are never merged.
    out, merges = group_regions(boxes, sizes, hists, pairs[:0], 100)
    assert len(merges) == 0 and out.tolist() == boxes.tolist()


def test_bbox_neighbours_follow_the_official_corner_rule():
    """(a, b) pairs when one of b's corners lies strictly inside a's box; not symmetric."""
    boxes = np.array([
        [0, 0, 10, 10],  # 0
        [5, 5, 20, 20],  # 1: its top-left corner is inside 0
        [10, 0, 15, 5],  # 2: corner on 0's border only, and none of 1's corners inside it
        [-5, -5, 30, 30],  # 3: contains everything, but no corner of 3 is inside 0, 1 or 2
    ])
    assert bbox_neighbours(boxes).tolist() == [[0, 1]]
    assert bbox_neighbours(boxes[::-1].copy()).tolist() == [[0, 1], [0, 2], [0, 3], [2, 3]]


def test_adjacent_neighbours_are_touching_segments():
    labels = np.array([[0, 0, 1], [0, 2, 1], [3, 3, 3]], np.int32)
    # Every pair touches through a horizontal, vertical or diagonal grid edge here.
    assert adjacent_neighbours(labels, 4).tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3],
                                                       [2, 3]]


def test_region_features_by_hand():
    """Boxes (exclusive extent in the output), sizes and the V histogram of two regions."""
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, 3:] = (10, 200, 30)  # V = 200 -> bin 19 of 25 over (0, 255)
    labels = np.zeros((4, 6), np.int32)
    labels[:, 3:] = 1
    labels[3, 5] = 2
    boxes, sizes, hists, pairs = region_boxes(labels, 3, img)
    assert boxes.tolist() == [[0, 0, 2, 3], [3, 0, 5, 3], [5, 3, 5, 3]]
    assert sizes.tolist() == [12, 11, 1] and bin_lut(25)[200] == 19
    assert hists[0, 0] == 1.0 and hists[1, 19] == 1.0 and hists[2, 19] == 1.0
    # Each of the three LBP histograms of a region sums to one.
    assert np.allclose(hists[:, 25:].reshape(3, 3, 10).sum(-1), 1.0)
    assert pairs.tolist() == []  # no corner strictly inside another box


def reference_lbp(channel):
    """skimage.feature.local_binary_pattern(channel, 8, 1) ('default'), restated per pixel."""
    rows, cols = channel.shape
    angles = 2 * np.pi * np.arange(8) / 8
    rp, cp = np.round(-np.sin(angles), 5), np.round(np.cos(angles), 5)

    def pixel(r, c):
        return channel[r, c] if 0 <= r < rows and 0 <= c < cols else 0.0

    out = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            code = 0
            for i in range(8):
                rr, cc = r + rp[i], c + cp[i]
                r0, r1, c0, c1 = (int(np.floor(rr)), int(np.ceil(rr)), int(np.floor(cc)),
                                  int(np.ceil(cc)))
                dr, dc = rr - r0, cc - c0
                top = (1 - dc) * pixel(r0, c0) + dc * pixel(r0, c1)
                bottom = (1 - dc) * pixel(r1, c0) + dc * pixel(r1, c1)
                if (1 - dr) * top + dr * bottom - channel[r, c] >= 0:
                    code += 2**i
            out[r, c] = code
    return out


def reference_selective_search(img, labels):
    """The official ``selective_search`` (SoCo's texture range) after the segmentation, restated
    with dicts and Python sums as the original, on a given label map."""
    img = img.astype(np.float64)
    size_all = img.shape[0] * img.shape[1]
    hsv = np.array([[colorsys.rgb_to_hsv(*px) for px in row] for row in img])
    lbp = np.stack([reference_lbp(img[:, :, c]) for c in range(3)], -1)
    regions = {}
    for label in range(labels.max() + 1):
        mask = labels == label
        ys, xs = np.nonzero(mask)
        regions[label] = dict(
            min_x=xs.min(),
            min_y=ys.min(),
            max_x=xs.max(),
            max_y=ys.max(),
            size=int(mask.sum()),
            hist_c=np.concatenate(
                [np.histogram(hsv[mask][:, c], 25, (0.0, 255.0))[0]
                 for c in range(3)]) / mask.sum(),
            hist_t=np.concatenate(
                [np.histogram(lbp[mask][:, c], 10, (0.0, 255.0))[0]
                 for c in range(3)]) / mask.sum())

    def sim(a, b):
        box = ((max(a['max_x'], b['max_x']) - min(a['min_x'], b['min_x'])) *
               (max(a['max_y'], b['max_y']) - min(a['min_y'], b['min_y'])))
        return (sum([min(x, y) for x, y in zip(a['hist_c'], b['hist_c'])]) +
                sum([min(x, y) for x, y in zip(a['hist_t'], b['hist_t'])]) +
                (1.0 - (a['size'] + b['size']) / size_all) +
                (1.0 - (box - a['size'] - b['size']) / size_all))

    def inside(a, b, x, y):
        return a['min_x'] < b[x] < a['max_x'] and a['min_y'] < b[y] < a['max_y']

    items = list(regions.items())
    sims = {}
    for n, (i, a) in enumerate(items[:-1]):
        for j, b in items[n + 1:]:
            if (inside(a, b, 'min_x', 'min_y') or inside(a, b, 'max_x', 'max_y')
                    or inside(a, b, 'min_x', 'max_y') or inside(a, b, 'max_x', 'min_y')):
                sims[(i, j)] = sim(a, b)
    while sims:
        i, j = sorted(sims.items(), key=lambda kv: kv[1])[-1][0]
        t = max(regions) + 1
        a, b = regions[i], regions[j]
        total = a['size'] + b['size']
        regions[t] = dict(
            min_x=min(a['min_x'], b['min_x']),
            min_y=min(a['min_y'], b['min_y']),
            max_x=max(a['max_x'], b['max_x']),
            max_y=max(a['max_y'], b['max_y']),
            size=total,
            hist_c=(a['hist_c'] * a['size'] + b['hist_c'] * b['size']) / total,
            hist_t=(a['hist_t'] * a['size'] + b['hist_t'] * b['size']) / total)
        stale = [k for k in sims if i in k or j in k]
        for k in stale:
            del sims[k]
        for k in stale:
            if k != (i, j):
                sims[(t, k[1] if k[0] in (i, j) else k[0])] = sim(
                    regions[t], regions[k[1] if k[0] in (i, j) else k[0]])
    return [[r['min_x'], r['min_y'], r['max_x'] - r['min_x'], r['max_y'] - r['min_y']]
            for r in regions.values()]


def test_lbp_codes_match_skimage_semantics():
    """Texture histograms equal those of the restated skimage LBP on a random image."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (9, 13, 3)).astype(np.uint8)
    img[3:6, 4:9] = 77  # flat patch: interpolated samples equal the centre up to rounding
    labels = np.arange(9 * 13, dtype=np.int32).reshape(9, 13)  # one region per pixel
    _, _, hists = region_features(img, labels, 9 * 13, bin_lut(25), bin_lut(10), LBP_DIAGONAL)
    lut = bin_lut(10)
    for c in range(3):
        codes = reference_lbp(img[:, :, c].astype(np.float64)).astype(int).ravel()
        assert np.array_equal(hists[:, 25 + 10 * c:35 + 10 * c].argmax(1), lut[codes])
    import skimage.feature as skimage  # requirements/tests.txt
    for c in range(3):
        assert np.array_equal(
            reference_lbp(img[:, :, c].astype(np.float64)),
            skimage.local_binary_pattern(img[:, :, c].astype(np.float64), 8, 1.0))


def test_pipeline_equals_the_official_restatement(toy_scenes):
    """Boxes, their order and their duplicates equal the restated official generator on a
    toy-scene crop and on a block image, given the same segmentation."""
    img = cv2.imread(osp.join(str(toy_scenes), 'train2017', '000000000001.jpg'))
    assert img is not None
    crops = [cv2.cvtColor(img, cv2.COLOR_BGR2RGB)[20:68, 60:124].copy()]  # 14 segments
    blocks = np.full((30, 40, 3), 240, np.uint8)
    blocks[3:12, 4:20] = (200, 40, 40)
    blocks[15:27, 10:35] = (40, 40, 200)
    blocks[5:10, 25:38] = (40, 200, 40)
    crops.append(blocks)
    for crop in crops:
        labels, count = felzenszwalb(crop, 300, 0.9, 20)
        assert count >= 4
        expected = reference_selective_search(crop, labels)
        ours = selective_search_numba(crop, 300, 0.9, 20)
        assert ours.tolist() == expected
        assert len(expected) > count  # merges happened; duplicates are kept
        deduped = selective_search_numba(crop, 300, 0.9, 20, dedupe=True)
        first = [b for n, b in enumerate(expected) if b not in expected[:n]]
        assert deduped.tolist() == first
