"""Tests of SoCo's box geometry (box_ops) and view construction (SoCoViews), spec 1.3.

Hand-computed cases use the official conventions: inclusive pixel boxes (``w = x2 - x1 + 1``),
crops as (top, left, height, width), strict intersection, normalisation by the crop size.
"""
import json
import math
import random
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

import mmvisrep  # noqa: F401  (registers SoCoViews / SoCoProposalDataset)
from mmvisrep.datasets.transforms import SoCoViews
from mmvisrep.datasets.transforms import box_ops as bo
from mmvisrep.datasets.transforms.soco_views import BGR_MEAN

REPO = Path(__file__).resolve().parents[2]


class ScriptedRng:
    """A stand-in for ``np.random`` returning scripted values, for hand-computed cases."""

    def __init__(self, rand=(), uniform=(), choice=(), randint=()):
        self._rand, self._uniform = list(rand), list(uniform)
        self._choice, self._randint = list(choice), list(randint)

    def rand(self):
        return self._rand.pop(0)

    def uniform(self, low, high, size=None):
        return np.asarray(self._uniform.pop(0), dtype=np.float64)

    def choice(self, n, size=None, replace=True):
        return np.asarray(self._choice.pop(0))

    def randint(self, low, high):
        value = self._randint.pop(0)
        assert low <= value < high
        return value


# ---------------------------------------------------------------------------- box_ops
def test_xywh_to_xyxy_plus_one():
    np.testing.assert_array_equal(bo.xywh_to_xyxy([[10, 20, 30, 40]]), [[10, 20, 39, 59]])


def test_crop_overlap_and_strict_intersection():
    # V1 = whole 200x100 image, V2 = (top 10, left 50, h 30, w 40) -> rect [50, 10, 89, 39].
    np.testing.assert_array_equal(
        bo.crop_overlap((0, 0, 100, 200), (10, 50, 30, 40)), [50, 10, 89, 39])
    assert bo.crop_overlap((0, 0, 10, 10), (20, 20, 5, 5)) is None
    # Touching at x = 9 only: strict inequalities say no overlap.
    assert bo.crop_overlap((0, 0, 10, 10), (0, 9, 10, 10)) is None
    region = np.array([50, 10, 89, 39])
    boxes = np.array([[0, 0, 50, 50], [0, 0, 51, 50], [89, 10, 100, 20], [88, 10, 100, 20],
                      [60, 39, 70, 60], [60, 38, 70, 60]])
    np.testing.assert_array_equal(
        bo.intersecting(boxes, region), [False, True, False, True, False, True])
    assert not bo.intersecting(boxes, None).any()


def test_select_random_without_replacement():
    np.testing.assert_array_equal(bo.select_random(3, 4), [0, 1, 2])
    idx = bo.select_random(10, 4, rng=np.random.RandomState(0))
    np.testing.assert_array_equal(idx, np.random.RandomState(0).choice(10, 4, replace=False))
    assert len(set(idx.tolist())) == 4


def test_jitter_formula_hand_computed():
    box = np.array([[10, 20, 29, 59]])  # w = 20, h = 40
    rng = ScriptedRng(rand=[0.3], uniform=[[0.1, -0.1, 0.05, -0.05]])
    out = bo.jitter_boxes(box, prob=0.5, ratio=0.1, rng=rng)
    # x1' = 10 + 0.1 * 20, y1' = 20 - 0.1 * 40, w' = 21, h' = 38, x2' = x1' + w' - 1.
    np.testing.assert_allclose(out, [[12, 16, 32, 53]])
    # A draw above the probability leaves the box untouched (and draws no offsets).
    out = bo.jitter_boxes(box, prob=0.5, ratio=0.1, rng=ScriptedRng(rand=[0.5]))
    np.testing.assert_array_equal(out, box)


def test_jitter_statistics():
    boxes = np.tile([[100., 100., 199., 149.]], (4000, 1))
    out = bo.jitter_boxes(boxes, prob=0.5, ratio=0.1, rng=np.random.RandomState(1))
    moved = (out != boxes).any(axis=1)
    assert 0.45 < moved.mean() < 0.55
    w = out[:, 2] - out[:, 0] + 1
    assert np.abs(out[moved, 0] - 100).max() <= 0.1 * 100 + 1e-9
    assert w.min() >= 90 - 1e-9 and w.max() <= 110 + 1e-9


def test_clip_to_crop_hand_computed():
    crop = (10, 50, 30, 40)  # rect [50, 10, 89, 39]
    boxes = np.array([[40, 0, 60, 20], [60, 15, 100, 50], [0, 0, 50, 50]])
    out, ids = bo.clip_to_crop(boxes, np.array([3, 5, 7]), crop)
    np.testing.assert_array_equal(out, [[0, 0, 10, 10], [10, 5, 39, 29]])
    np.testing.assert_array_equal(ids, [3, 5])
    # Nothing survives: the whole view with id 1.
    out, ids = bo.clip_to_crop(boxes[2:], np.array([7]), crop)
    np.testing.assert_array_equal(out, [[0, 0, 39, 29]])
    np.testing.assert_array_equal(ids, [1])


def test_padding_with_common_ids():
    boxes = np.array([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]], dtype=float)
    ids = np.array([3, 5, 8])
    shared = bo.common_ids(ids, np.array([9, 8, 5]))
    np.testing.assert_array_equal(shared, [5, 8])
    # The pool is the boxes with shared ids (rows 1, 2); choice -> [1] picks row 2 (id 8).
    out, out_ids = bo.pad_with_common(boxes, ids, shared, 4, rng=ScriptedRng(choice=[[1]]))
    np.testing.assert_array_equal(out_ids, [3, 5, 8, 8])
    np.testing.assert_array_equal(out[3], boxes[2])
    # Random padding only ever duplicates shared boxes.
    out, out_ids = bo.pad_with_common(boxes[:1], ids[:1], np.array([3]), 4)
    np.testing.assert_array_equal(out_ids, [3, 3, 3, 3])
    # Already K boxes: unchanged.
    out, out_ids = bo.pad_with_common(boxes, ids, shared, 3)
    np.testing.assert_array_equal(out_ids, ids)
    # No shared id (the official code crashes): padded with the view's own boxes.
    out, out_ids = bo.pad_with_common(boxes[:2], ids[:2], np.array([], dtype=int), 4)
    assert len(out_ids) == 4 and set(out_ids.tolist()) <= {3, 5}


def test_rescale_to_view_truncates():
    # crop 200 wide, 100 high -> 224: x2 = 199 * 1.12 = 222.88, y2 = 99 * 2.24 = 221.76.
    out = bo.rescale_to_view(np.array([[0, 0, 199, 99]]), (100, 200), (224, 224))
    np.testing.assert_array_equal(out, [[0, 0, 222, 221]])
    assert out.dtype == np.int64


def test_level_assignment_at_thresholds():
    sides = [48, 49, 96, 97, 192, 193, 224, 225]
    boxes = np.array([[0, 0, s - 1, s - 1] for s in sides])  # size sqrt(s * s) = s
    ids = np.arange(1, 9)
    out = bo.assign_levels(boxes, ids, (48, 96, 192, 224), unused=-2).reshape(4, 8)
    expected = np.full((4, 8), -2)
    for k, level in enumerate([0, 1, 1, 2, 2, 3, 3, None]):  # 225 -> no level at all
        if level is not None:
            expected[level, k] = ids[k]
    np.testing.assert_array_equal(out, expected)
    # Non-square: 32 x 72 -> sqrt(2304) = 48 -> P2; 32 x 73 -> 48.33 -> P3.
    out = bo.assign_levels(
        np.array([[0, 0, 31, 71], [0, 0, 31, 72]]),
        np.array([4, 6]), (48, 96, 192, 224),
        unused=-1)
    np.testing.assert_array_equal(out, [4, -1, -1, 6, -1, -1, -1, -1])


def test_cross_level_correspondence_mask():
    # P = 2 levels, K = 2 boxes; slot l * K + k. V1: id 7 at P2, id 9 at P3.
    # V3: id 9 at P3 (slot 2), id 7 at P3 (slot 3): same proposal 7 matches across levels.
    ids_v1 = np.array([7, -1, -1, 9])
    ids_v3 = np.array([-3, -3, 9, 7])
    expected = np.zeros((4, 4), dtype=np.float32)
    expected[0, 3] = 1
    expected[3, 2] = 1
    np.testing.assert_array_equal(bo.correspondence(ids_v1, ids_v3), expected)
    # Unused slots never match each other (different sentinels per view).
    assert bo.correspondence([-1, -1], [-2, -2]).sum() == 0
    # Padded duplicates give several positives.
    np.testing.assert_array_equal(bo.correspondence([7, 7], [7, 5]), [[1, 0], [1, 0]])


def test_normalise_and_flip():
    np.testing.assert_allclose(
        bo.normalise(np.array([[0, 0, 39, 29]]), (30, 40)), [[0, 0, 0.975, 29 / 30]])
    box = np.array([[0.1, 0.2, 0.4, 0.5]])
    np.testing.assert_allclose(bo.hflip_normalised(box), [[0.6, 0.2, 0.9, 0.5]])
    np.testing.assert_allclose(bo.hflip_normalised(bo.hflip_normalised(box)), box)


def test_clip_to_image():
    boxes = np.array([[-5, 10, 20, 60], [100, 0, 120, 10], [10, 10, 20, 20], [np.nan, 0, 5, 5],
                      [0, 0, -1, 5]])
    out, keep, changed = bo.clip_to_image(boxes, height=50, width=100)
    np.testing.assert_array_equal(keep, [True, False, True, False, False])
    np.testing.assert_array_equal(changed, [True, False, False, False, False])
    np.testing.assert_array_equal(out[0], [0, 10, 20, 49])
    np.testing.assert_array_equal(out[2], [10, 10, 20, 20])


def test_cutout_square_hand_computed():
    # Box 20 x 20 (area 400), ratio 0.2 -> side round(sqrt(80)) = 9 -> centre -/+ 4.
    rng = ScriptedRng(uniform=[0.2], randint=[15, 25])
    assert bo.cutout_square(
        np.array([10, 20, 29, 39]), (0.1, 0.3), 64, 64, rng=rng) == (21, 29, 11, 19)
    # Centre at the image corner: clipped to the image, 3 x 3 of the 5 x 5 square.
    rng = ScriptedRng(uniform=[0.3], randint=[0, 0])
    assert bo.cutout_square(np.array([0, 0, 9, 9]), (0.1, 0.3), 64, 64, rng=rng) == (0, 2, 0, 2)


def test_cutout_square_inside_box_and_area():
    rng = np.random.RandomState(0)
    box = np.array([20.0, 10.0, 59.0, 39.0])  # 40 x 30, area 1200
    for _ in range(200):
        y1, y2, x1, x2 = bo.cutout_square(box, (0.1, 0.3), 64, 80, rng=rng)
        side_y, side_x = y2 - y1 + 1, x2 - x1 + 1
        cy, cx = (y1 + y2) / 2, (x1 + x2) / 2
        # Far from the image border: never clipped, so the centre is the drawn point,
        # inside the box, and the area is the official (2 * (s // 2) + 1)^2.
        assert side_x == side_y
        assert 20 <= cx <= 59 and 10 <= cy <= 39
        s_min = int(round(math.sqrt(0.1 * 1200)))
        s_max = int(round(math.sqrt(0.3 * 1200)))
        assert 2 * (s_min // 2) + 1 <= side_x <= 2 * (s_max // 2) + 1
        assert side_x % 2 == 1


# ---------------------------------------------------------------------------- SoCoViews
def _image(h=60, w=120, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8)


def _results(img, xywh):
    props = bo.xywh_to_xyxy(np.asarray(xywh, dtype=np.float32))
    return dict(
        img=img,
        img_path='mem.jpg',
        proposals=props,
        proposal_ids=np.arange(1, len(props) + 1, dtype=np.int64))


def _scripted(t, draws):
    """Make ``t._sample_crop`` return ``draws`` ({view: crop} per draw) in order, the last
    draw again and again once they run out."""
    state = dict(n=0)

    def sample(view, img):
        draw = draws[min(state['n'] // len(t.crop_views), len(draws) - 1)]
        state['n'] += 1
        return draw[view]

    t._sample_crop = sample
    return t


def test_v1_squash_geometry_and_levels():
    img = _image(60, 120)
    t = SoCoViews(variant='c4', view_sizes=(224, 224), flip_prob=0., jitter_prob=0.)
    _scripted(t, [{1: (0, 0, 60, 120)}])
    out = t(_results(img, [[30, 15, 30, 30]]))
    assert out['img'][0].shape == (224, 224, 3)
    np.testing.assert_array_equal(
        out['img'][0], mmcv.imresize(img, (224, 224), interpolation='bilinear', backend='pillow'))
    # [30, 15, 59, 44] normalised by the whole 120 x 60 image (aspect not kept).
    np.testing.assert_allclose(
        out['soco_boxes'][0, 0, 0], [0.25, 0.25, 59 / 120, 44 / 60], rtol=1e-6)
    # FPN variant: the box in V1 pixels is [56, 56, 110, 164] -> sqrt(55 * 109) = 77.4 -> P3.
    t = SoCoViews(variant='fpn', view_sizes=(224, 224, 112), flip_prob=0., jitter_prob=0.)
    _scripted(t, [{1: (0, 0, 60, 120), 2: (0, 0, 60, 120)}])
    out = t(_results(img, [[30, 15, 30, 30]]))
    ids_v1 = out['soco_ids'][0, 0].reshape(4, 4)
    np.testing.assert_array_equal(ids_v1[1], [1, 1, 1, 1])  # padded copies of box 1 at P3
    assert (ids_v1[[0, 2, 3]] == -1).all()
    # V3 (112 px) sees the same crop: [28, 28, 55, 82] -> sqrt(28 * 55) = 39.2 -> P2.
    ids_v3 = out['soco_ids'][1, 1].reshape(4, 4)
    np.testing.assert_array_equal(ids_v3[0], [1, 1, 1, 1])
    assert (ids_v3[1:] == -3).all()


def test_crop_view_boxes_and_pixels():
    img = _image(60, 120)
    t = SoCoViews(
        variant='fpn',
        view_sizes=(224, 224, 112),
        flip_prob=0.,
        jitter_prob=0.,
        select_k=2,
        padding_k=2)
    crops = {1: (10, 20, 40, 80), 2: (0, 60, 60, 60)}
    _scripted(t, [crops])
    # V2 covers [20, 10, 99, 49]. Box A [10, 5, 49, 34] crosses its top-left corner, box B
    # [90, 30, 109, 49] its right edge; both are clipped, then shifted by (20, 10).
    out = t(_results(img, [[10, 5, 40, 30], [90, 30, 20, 20]]))
    np.testing.assert_array_equal(out['img'][1],
                                  mmcv.imresize(img[10:50, 20:100], (224, 224), backend='pillow'))
    np.testing.assert_array_equal(out['img'][2],
                                  mmcv.imresize(img[0:60, 60:120], (112, 112), backend='pillow'))
    ids_v2 = out['soco_ids'][0, 1].reshape(4, 2).max(axis=0)  # the id of each box
    boxes_v2 = out['soco_boxes'][0, 1]
    expected = {1: [0, 0, 29 / 80, 24 / 40], 2: [70 / 80, 20 / 40, 79 / 80, 39 / 40]}
    for k in range(2):
        np.testing.assert_allclose(boxes_v2[k], expected[int(ids_v2[k])], rtol=1e-6)
    # Pair (V1, V3): only B intersects V3 ([60, 0, 119, 59]); A ends at x = 49.
    ids_v3 = out['soco_ids'][1, 1]
    assert set(ids_v3[ids_v3 > 0].tolist()) == {2}
    np.testing.assert_allclose(
        out['soco_boxes'][1, 1, 0], [30 / 60, 30 / 60, 49 / 60, 49 / 60], rtol=1e-6)


def test_jitter_only_on_v1():
    img = _image(60, 120)
    t = SoCoViews(
        variant='fpn',
        view_sizes=(224, 224, 112),
        flip_prob=0.,
        jitter_prob=1.,
        select_k=1,
        padding_k=1)
    _scripted(t, [{1: (0, 0, 60, 120), 2: (0, 0, 60, 120)}])
    np.random.seed(3)
    out = t(_results(img, [[30, 15, 30, 30]]))
    whole = np.array([30 / 120, 15 / 60, 59 / 120, 44 / 60])
    np.testing.assert_allclose(out['soco_boxes'][0, 1, 0], whole, rtol=1e-6)  # V2 untouched
    np.testing.assert_allclose(out['soco_boxes'][1, 1, 0], whole, rtol=1e-6)  # V3 untouched
    assert np.abs(out['soco_boxes'][:, 0, 0] - whole).max() > 1e-3  # V1 jittered
    # Per pair independently.
    assert np.abs(out['soco_boxes'][0, 0, 0] - out['soco_boxes'][1, 0, 0]).max() > 1e-6


def test_retry_until_least_common():
    img = _image(60, 120)
    xywh = [[0, 0, 20, 20], [5, 5, 20, 20], [2, 30, 20, 20]]  # all in the left part
    far_right = (0, 100, 60, 20)  # [100, 0, 119, 59]: no proposal
    left = (0, 0, 60, 40)
    t = SoCoViews(variant='fpn', view_sizes=(64, 64, 32), flip_prob=0., jitter_prob=0.)
    _scripted(t, [{1: far_right, 2: left}, {1: far_right, 2: far_right}, {1: left, 2: left}])
    out = t(_results(img, xywh))
    assert out['soco_tries'] == 3
    # The third draw is used: V2 = [0, 0, 39, 59] holds all three proposals.
    ids = out['soco_ids'][0, 1]
    assert set(ids[ids > 0].tolist()) == {1, 2, 3}
    assert out['img'][1].shape == (64, 64, 3)

    # least_common halves: 2 for the first draw, 1 for the second, so one proposal per pair
    # fails first and passes on the identical second draw.
    only_a = (0, 0, 15, 15)  # [0, 0, 14, 14]: proposals 1 and 2 intersect; pick K=4 -> 2
    single = (40, 0, 20, 30)  # [0, 40, 29, 59]: only proposal 3
    t = SoCoViews(variant='fpn', view_sizes=(64, 64, 32), flip_prob=0., jitter_prob=0.)
    _scripted(t, [{1: only_a, 2: single}, {1: only_a, 2: single}])
    assert t(_results(img, xywh))['soco_tries'] == 2

    # Never met: the last draw is kept; no candidate -> whole views with id 1, counted.
    t = SoCoViews(variant='fpn', view_sizes=(64, 64, 32), flip_prob=0., jitter_prob=0.)
    _scripted(t, [{1: far_right, 2: far_right}] * 5)
    out = t(_results(img, xywh))
    assert out['soco_tries'] == 5
    assert set(out['soco_ids'][out['soco_ids'] > 0].tolist()) == {1}
    np.testing.assert_allclose(out['soco_boxes'][0, 0, 0], [0, 0, 119 / 120, 59 / 60], rtol=1e-6)
    np.testing.assert_allclose(out['soco_boxes'][0, 1, 0], [0, 0, 19 / 20, 59 / 60], rtol=1e-6)
    assert sum(v for k, v in t.counts.items() if k.startswith('least_common')) == 1


def test_padding_uses_common_ids_per_pair():
    img = _image(60, 120)
    t = SoCoViews(variant='fpn', view_sizes=(64, 64, 32), flip_prob=0., jitter_prob=0.)
    _scripted(t, [{1: (0, 0, 60, 50), 2: (0, 0, 60, 50)}])
    out = t(_results(img, [[0, 0, 20, 20], [10, 30, 20, 20]]))
    for p in range(2):
        for side in range(2):
            ids = out['soco_ids'][p, side].reshape(4, 4).max(axis=0)  # id of each box
            assert sorted(ids[:2].tolist()) == [1, 2]  # the two originals first
            assert set(ids[2:].tolist()) <= {1, 2}  # then duplicates of shared boxes


def test_v4_is_v2_downsampled_with_v2_boxes():
    img = _image(90, 120)
    t = SoCoViews(variant='fpn_star', view_sizes=(224, 224, 192, 112), flip_prob=0.)
    np.random.seed(0)
    out = t(_results(img, [[10, 5, 40, 30], [60, 30, 40, 40], [30, 40, 50, 40]]))
    assert [v.shape[0] for v in out['img']] == [224, 224, 192, 112]
    np.testing.assert_array_equal(out['img'][3],
                                  mmcv.imresize(out['img'][1], (112, 112), backend='pillow'))
    assert out['soco_boxes'].shape == (3, 2, 4, 4) and out['soco_ids'].shape == (3, 2, 16)
    np.testing.assert_array_equal(out['soco_boxes'][2], out['soco_boxes'][0])
    np.testing.assert_array_equal(out['soco_ids'][2, 0], out['soco_ids'][0, 0])
    # Same ids as V2, levels from 112 px, sentinel -4.
    ids_v2, ids_v4 = out['soco_ids'][0, 1], out['soco_ids'][2, 1]
    assert set(ids_v4[ids_v4 < 0].tolist()) <= {-4} and set(ids_v2[ids_v2 < 0].tolist()) <= {-2}
    assert sorted(ids_v4[ids_v4 > 0].tolist()) == sorted(ids_v2[ids_v2 > 0].tolist())
    lv2 = ids_v2.reshape(4, 4).argmax(axis=0)
    lv4 = ids_v4.reshape(4, 4).argmax(axis=0)
    assert (lv4 <= lv2).all()  # half the pixels: never a higher level


def test_flips_mirror_boxes_and_pixels():
    img = _image(60, 120)
    xywh = [[10, 5, 40, 30], [60, 30, 40, 20], [30, 10, 50, 40]]
    kwargs = dict(variant='fpn', view_sizes=(64, 64, 32), jitter_prob=0.5)
    np.random.seed(7)
    plain = SoCoViews(flip_prob=0., **kwargs)(_results(img, xywh))
    np.random.seed(7)  # the same draws: flips are drawn whatever flip_prob is
    flipped = SoCoViews(flip_prob=1., **kwargs)(_results(img, xywh))
    assert flipped['flip'] == [True] * 3 and plain['flip'] == [False] * 3
    np.testing.assert_allclose(
        flipped['soco_boxes'], bo.hflip_normalised(plain['soco_boxes']), atol=1e-6)
    np.testing.assert_array_equal(flipped['soco_ids'], plain['soco_ids'])
    for a, b in zip(plain['img'], flipped['img']):
        np.testing.assert_array_equal(b, a[:, ::-1])
    # p = 0.5: flips are independent per view, and V1's boxes of every pair flip together.
    t = SoCoViews(flip_prob=0.5, **kwargs)
    flags = []
    for seed in range(40):
        np.random.seed(seed)
        out = t(_results(img, xywh))
        flags.append(out['flip'])
        for p in range(2):
            ref = SoCoViews(flip_prob=0., **kwargs)
            np.random.seed(seed)
            base = ref(_results(img, xywh))['soco_boxes']
            want = bo.hflip_normalised(base[p, 0]) if out['flip'][0] else base[p, 0]
            np.testing.assert_allclose(out['soco_boxes'][p, 0], want, atol=1e-6)
            want = bo.hflip_normalised(base[p, 1]) if out['flip'][p + 1] else base[p, 1]
            np.testing.assert_allclose(out['soco_boxes'][p, 1], want, atol=1e-6)
    flags = np.array(flags)
    assert 0.2 < flags.mean() < 0.8
    assert (flags[:, 0] != flags[:, 1]).any() and (flags[:, 1] != flags[:, 2]).any()


def test_colour_pipelines_per_view():
    img = _image(60, 120)
    invert = [dict(type='Solarize', thr=0, prob=1.)]  # 255 - x everywhere
    t = SoCoViews(
        variant='fpn', view_sizes=(64, 64, 32), flip_prob=0.,
        colour_pipelines=[[], invert])  # the last pipeline repeats for V3
    out = t(_results(img, [[10, 5, 40, 30]]))
    np.testing.assert_array_equal(out['img'][0], mmcv.imresize(img, (64, 64), backend='pillow'))
    ref = SoCoViews(variant='fpn', view_sizes=(64, 64, 32), flip_prob=0.)
    np.random.seed(5)
    a = ref(_results(img, [[10, 5, 40, 30]]))
    np.random.seed(5)
    b = t(_results(img, [[10, 5, 40, 30]]))
    np.testing.assert_array_equal(b['img'][0], a['img'][0])
    np.testing.assert_array_equal(b['img'][1], 255 - a['img'][1])
    np.testing.assert_array_equal(b['img'][2], 255 - a['img'][2])


def test_cutout_mean_fill_uint8_and_exact_float():
    img = np.full((64, 64, 3), 200, dtype=np.uint8)
    xywh = [[8, 8, 40, 40]]
    t = SoCoViews(
        variant='fpn',
        view_sizes=(64, 64, 32),
        flip_prob=0.5,
        select_k=1,
        padding_k=1,
        cutout_prob=1.)
    for seed in range(10):
        np.random.seed(seed)
        out = t(_results(img, xywh))
        assert (out['img'][0] == 200).all()  # never on V1
        for v in (1, 2):
            view = out['img'][v]
            size = view.shape[0]
            painted = (view != 200).any(axis=2)
            np.testing.assert_array_equal(view[painted],
                                          np.broadcast_to([104, 116, 124], (painted.sum(), 3)))
            ys, xs = np.nonzero(painted)
            assert painted.sum() == (np.ptp(ys) + 1) * (np.ptp(xs) + 1)  # one rectangle
            # Its centre (when not clipped by the border) lies inside the flipped box.
            x1, y1, x2, y2 = out['soco_boxes'][v - 1, 1, 0] * size
            s = np.ptp(ys) + 1
            if ys.min() > 0 and xs.min() > 0 and ys.max() < size - 1 and xs.max() < size - 1:
                assert np.ptp(xs) + 1 == s and s % 2 == 1
                assert int(x1) <= xs.mean() <= int(min(x2, size - 1))
                assert int(y1) <= ys.mean() <= int(min(y2, size - 1))
                area = (x2 - x1 + 1) * (y2 - y1 + 1)
                lo, hi = (int(round(math.sqrt(r * area))) for r in (0.1, 0.3))
                assert 2 * (lo // 2) + 1 <= s <= 2 * (hi // 2) + 1

    # Exact: float32 views painted with the mean normalise to exactly 0.
    from mmpretrain.models.utils import SelfSupDataPreprocessor
    t = SoCoViews(
        variant='fpn',
        view_sizes=(64, 64, 32),
        flip_prob=0.,
        select_k=1,
        padding_k=1,
        cutout_prob=1.,
        cutout_float=True)
    np.random.seed(0)
    out = t(_results(img, xywh))
    assert out['img'][0].dtype == np.uint8 and out['img'][1].dtype == np.float32
    painted = (out['img'][1] != 200).any(axis=2)
    assert painted.any()
    np.testing.assert_array_equal(out['img'][1][painted][0], np.float32(BGR_MEAN))
    pre = SelfSupDataPreprocessor(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
    inputs = [
        torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1)))[None] for v in out['img']
    ]
    normed = pre(dict(inputs=inputs, data_samples=None))['inputs']
    assert (normed[1][0][:, torch.from_numpy(painted)] == 0).all()


def test_c4_two_views_plain_ids_no_jitter():
    img = _image(60, 120)
    t = SoCoViews(variant='c4', view_sizes=(64, 64), flip_prob=0.)
    assert t.jitter_prob == 0. and not t.with_levels
    np.random.seed(0)
    out = t(_results(img, [[10, 5, 40, 30], [60, 30, 40, 20]]))
    assert len(out['img']) == 2
    assert out['soco_boxes'].shape == (1, 2, 4, 4) and out['soco_ids'].shape == (1, 2, 4)
    # No jitter: V1's boxes are the proposals over the whole image.
    whole = {1: [10 / 120, 5 / 60, 49 / 120, 34 / 60], 2: [60 / 120, 30 / 60, 99 / 120, 49 / 60]}
    for k, i in enumerate(out['soco_ids'][0, 0]):
        np.testing.assert_allclose(out['soco_boxes'][0, 0, k], whole[int(i)], rtol=1e-6)
    assert set(out['soco_ids'][0, 0].tolist()) == set(out['soco_ids'][0, 1].tolist())


def test_proposal_sanitising_and_fallback():
    img = _image(60, 120)
    t = SoCoViews(variant='c4', view_sizes=(32, 32), flip_prob=0.)
    _scripted(t, [{1: (0, 0, 60, 120)}])
    res = _results(img, [[100, 50, 40, 40], [200, 0, 10, 10]])  # clipped / outside
    out = t(res)
    np.testing.assert_allclose(
        out['soco_boxes'][0, 0, 0], [100 / 120, 50 / 60, 119 / 120, 59 / 60], rtol=1e-6)
    assert set(out['soco_ids'][0, 0].tolist()) == {1}
    assert t.counts['proposals clipped to the image'] == 1
    assert t.counts['proposals outside the image dropped'] == 1
    # No proposals at all: the whole image, id 1.
    _scripted(t, [{1: (0, 0, 60, 120)}])
    out = t(
        dict(
            img=img,
            proposals=np.zeros((0, 4), np.float32),
            proposal_ids=np.zeros((0, ), np.int64)))
    np.testing.assert_allclose(
        out['soco_boxes'][0, 0], np.tile([0, 0, 119 / 120, 59 / 60], (4, 1)), rtol=1e-6)
    assert t.counts['no usable proposal, whole image used'] == 1
    with pytest.raises(KeyError, match='proposals'):
        t(dict(img=img, img_path='x.jpg'))


def test_bad_arguments():
    with pytest.raises(ValueError, match='variant'):
        SoCoViews(variant='fpn2')
    with pytest.raises(ValueError, match='view_sizes'):
        SoCoViews(variant='fpn', view_sizes=(224, 224))
    with pytest.raises(ValueError, match='select_k'):
        SoCoViews(select_k=5, padding_k=4)


def test_seeded_determinism():
    img = _image(60, 120)
    cfg = dict(
        variant='fpn',
        view_sizes=(64, 64, 32),
        cutout_prob=0.5,
        colour_pipelines=[[dict(type='RandomGrayscale', prob=0.5, keep_channels=True)]])
    outs = []
    for _ in range(2):  # mmengine's worker_init_fn seeds both (mmcv's grayscale uses random)
        np.random.seed(11)
        random.seed(11)
        outs.append(SoCoViews(**cfg)(_results(img, [[10, 5, 40, 30], [60, 30, 40, 20]])))
    for a, b in zip(outs[0]['img'], outs[1]['img']):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(outs[0]['soco_boxes'], outs[1]['soco_boxes'])


# ---------------------------------------------------------------------------- toy pipeline
@pytest.mark.parametrize('variant',
                         ['train_pipeline_fpn', 'train_pipeline_fpn_star', 'train_pipeline_c4'])
def test_toy_pipeline_contract(toy_scenes, tmp_path, variant):
    """Dataset + SoCoViews + PackInputs + default_collate on toy scenes, proposals = GT boxes."""
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS

    coco = json.loads((toy_scenes / 'annotations' / 'instances_train2017.json').read_text())
    names = {im['id']: im['file_name'].rsplit('.', 1)[0] for im in coco['images']}
    props = {}
    for ann in coco['annotations']:
        props.setdefault(names[ann['image_id']], []).append([int(round(v)) for v in ann['bbox']])
    (tmp_path / 'proposals').mkdir()
    (tmp_path / 'proposals' / 'train2017_ratio3size0308post.json').write_text(json.dumps(props))

    cfg = Config.fromfile(REPO / 'configs/_base_/datasets/toy_scenes_soco.py')
    ds_cfg = dict(cfg.train_dataloader.dataset)
    ds_cfg.update(
        data_root=str(toy_scenes) + '/',
        proposal_file=str(tmp_path / 'proposals' / 'train2017_ratio3size0308post.json'),
        pipeline=cfg[variant])
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 12
    np.random.seed(0)
    batch = default_collate([dataset[i] for i in range(4)])
    soco = [p for p in cfg[variant] if p['type'] == 'SoCoViews'][0]
    sizes = soco['view_sizes']
    assert [tuple(x.shape) for x in batch['inputs']] == [(4, 3, s, s) for s in sizes]
    num_pairs = len(sizes) - 1
    num_slots = 4 * 4 if soco['variant'] != 'c4' else 4
    for sample in batch['data_samples']:
        assert sample.soco_boxes.shape == (num_pairs, 2, 4, 4)
        assert sample.soco_boxes.dtype == np.float32
        assert sample.soco_ids.shape == (num_pairs, 2, num_slots)
        assert sample.soco_ids.dtype == np.int64
        assert (sample.soco_boxes >= -1e-6).all() and (sample.soco_boxes <= 1 + 1e-6).all()
        for p in range(num_pairs):
            a, b = sample.soco_ids[p]
            assert bo.correspondence(a, b).sum() > 0  # every pair has a matched box
            if soco['variant'] != 'c4':
                assert set(a[a < 0].tolist()) <= {-1}
                assert set(b[b < 0].tolist()) <= {-(p + 2)}
    # The model's preprocessor takes the batch as is.
    from mmpretrain.models.utils import SelfSupDataPreprocessor
    pre = SelfSupDataPreprocessor(**{
        k: v
        for k, v in cfg.data_preprocessor.items() if k != 'type'
    })
    inputs = pre(batch)['inputs']
    assert [x.dtype for x in inputs] == [torch.float32] * len(sizes)
