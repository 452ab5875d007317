"""Trace geometry and rendering (spec 2.5): windows, crop/flip, hand-computed maps, cv2 parity."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmcv.transforms import RandomFlip
from mmengine.registry import init_default_scope
from mmpretrain.datasets.transforms import RandomResizedCrop

from mmvisrep.datasets.localized_narratives import parse_record
from mmvisrep.datasets.transforms.traces import (LNRandomFlip, LNRandomResizedCrop,
                                                 RenderTraceMaps, TraceRenderer, area_pool_matrix,
                                                 blur_matrix, check_trace_pipeline, crop_points,
                                                 flip_points, grid_for, select_utterance_points)

# The synthetic, schema-exact record of spec 2.4 (one line of JSON).
SPEC_RECORD = json.loads((Path(__file__).resolve().parents[1] / 'data' / 'localized_narratives' /
                          'spec_example.jsonl').read_text())


def _render(points, times, size, seg=None, **kwargs):
    """Render (x, y, t) points with a TraceRenderer; one segment unless ``seg`` is given."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    seg = np.zeros(len(pts), np.int32) if seg is None else np.asarray(seg, np.int32)
    renderer = TraceRenderer(**kwargs)
    return renderer.render(pts[:, :2], pts[:, 2], seg, np.asarray(times, float), size)


def _centre(row, col, size):
    """Normalised coordinates of a pixel centre in a size x size raster."""
    return ((col + 0.5) / size, (row + 0.5) / size)


def test_time_window_selection():
    t = np.array([0.0, 0.4, 0.41, 1.2, 1.3, 3.0])
    times = np.array([[0.0, 0.4], [0.4, 1.2], [2.5, 2.9]])
    sel = select_utterance_points(t, times)
    np.testing.assert_array_equal(sel,
                                  [[1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]])
    # pad widens every window on both sides: 3.0 is within 0.1 s of [2.5, 2.9].
    sel = select_utterance_points(t, times, pad=0.1)
    np.testing.assert_array_equal(sel[2], [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(sel[1], [0, 1, 1, 1, 1, 0])


def test_crop_and_flip_points():
    xy = np.array([[0.5, 0.5], [0.0, 1.0], [-0.05, 1.08], [0.25, 0.75]])
    # 200 x 100 image, crop x0=50, y0=20, 100 x 50 px.
    out = crop_points(xy, (50, 20, 100, 50), (200, 100))
    np.testing.assert_allclose(out[0], [(100 - 50) / 100, (50 - 20) / 50])
    np.testing.assert_allclose(out[1], [-0.5, (100 - 20) / 50])
    np.testing.assert_allclose(out[3], [0.0, (75 - 20) / 50])
    # Flip: x -> 1 - x (horizontal), y -> 1 - y (vertical), both (diagonal); twice = identity.
    np.testing.assert_allclose(flip_points(xy, 'horizontal')[:, 0], 1 - xy[:, 0])
    np.testing.assert_allclose(flip_points(xy, 'vertical')[:, 1], 1 - xy[:, 1])
    np.testing.assert_allclose(flip_points(xy, 'diagonal'), 1 - xy)
    for d in ('horizontal', 'vertical', 'diagonal'):
        np.testing.assert_allclose(flip_points(flip_points(xy, d), d), xy, atol=1e-15)
    with pytest.raises(ValueError, match='direction'):
        flip_points(xy, 'sideways')
    with pytest.raises(ValueError, match='empty crop'):
        crop_points(xy, (0, 0, 0, 10), (10, 10))


def _results(seed=0, size=(60, 80)):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size + (3, ), dtype=np.uint8)
    xy = rng.uniform(-0.1, 1.1, (40, 2))
    return dict(
        img=img,
        img_shape=size,
        ori_shape=size,
        trace_xy=xy,
        trace_t=np.linspace(0, 4, 40),
        trace_seg=np.zeros(40, np.int32),
        utterances=['on the left', 'Right side', 'a bright star'],
        utterance_times=np.array([[0, 1], [1, 2], [2, 4.0]]),
        caption='on the left Right side a bright star')


def test_ln_random_resized_crop_matches_stock_and_moves_points():
    res = _results()
    xy0 = res['trace_xy'].copy()
    np.random.seed(3)
    out = LNRandomResizedCrop(scale=32, crop_ratio_range=(0.2, 0.5))(dict(res))
    np.random.seed(3)
    ref = RandomResizedCrop(scale=32, crop_ratio_range=(0.2, 0.5))(dict(_results()))
    np.testing.assert_array_equal(out['img'], ref['img'])  # same randomness and pixels
    x0, y0, x1, y1 = out['crop_bbox']
    assert (x1 - x0) * (y1 - y0) < 0.5 * 60 * 80
    np.testing.assert_allclose(out['trace_xy'],
                               crop_points(xy0, (x0, y0, x1 - x0, y1 - y0), (80, 60)))
    # A pixel's centre lands on the same content: mark a pixel, crop, find it again.
    img = np.zeros((60, 80, 3), np.uint8)
    r, c = int(y0) + 3, int(x0) + 5
    img[r, c] = 255
    pt = np.array([[(c + 0.5) / 80, (r + 0.5) / 60]])
    np.random.seed(3)
    out = LNRandomResizedCrop(
        scale=(64, 64), crop_ratio_range=(0.2, 0.5), interpolation='nearest')(
            dict(_results(), img=img, trace_xy=pt))
    rr, cc = np.unravel_index(np.argmax(out['img'][..., 0]), (64, 64))
    np.testing.assert_allclose(out['trace_xy'][0] * 64, [cc + 0.5, rr + 0.5], atol=1.5)


def test_ln_random_flip_points_words_and_identity():
    res = _results()
    flip = LNRandomFlip(prob=1.0, direction='horizontal')
    once = flip(dict(res, trace_xy=res['trace_xy'].copy()))
    ref = RandomFlip(prob=1.0, direction='horizontal')(dict(_results()))
    np.testing.assert_array_equal(once['img'], ref['img'])
    np.testing.assert_allclose(once['trace_xy'][:, 0], 1 - res['trace_xy'][:, 0])
    assert once['utterances'] == ['on the right', 'Left side', 'a bright star']
    assert once['caption'] == 'on the right Left side a bright star'
    twice = flip(dict(once))
    np.testing.assert_allclose(twice['trace_xy'], res['trace_xy'], atol=1e-15)
    np.testing.assert_array_equal(twice['img'], res['img'])
    assert twice['utterances'] == res['utterances'] and twice['caption'] == res['caption']
    # A vertical flip mirrors y and leaves the words.
    vert = LNRandomFlip(prob=1.0, direction='vertical')(dict(_results()))
    np.testing.assert_allclose(vert['trace_xy'][:, 1], 1 - res['trace_xy'][:, 1])
    assert vert['utterances'] == res['utterances']
    # prob=0: nothing changes.
    same = LNRandomFlip(prob=0.0)(dict(_results()))
    assert same['flip'] is False and same['utterances'] == res['utterances']


def test_operators_are_blur_then_area_pool():
    # Area pooling 14 -> 7 averages pairs; 10 -> 4 uses fractional overlaps like INTER_AREA.
    np.testing.assert_allclose(area_pool_matrix(14, 7)[2], [0] * 4 + [0.5, 0.5] + [0] * 8)
    src = np.random.default_rng(0).random((3, 10)).astype(np.float32)
    ref = cv2.resize(src, (4, 3), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(src @ area_pool_matrix(10, 4).T, ref, rtol=1e-5)
    # Blur rows sum to 1 with reflect-101 (mass kept) and match cv2 on an impulse.
    mat = blur_matrix(9, 1.5)
    np.testing.assert_allclose(mat.sum(1), 1)
    imp = np.zeros((1, 9), np.float64)
    imp[0, 1] = 1
    ref = cv2.GaussianBlur(imp, (0, 0), sigmaX=1.5, sigmaY=1e-9, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(imp @ mat.T, ref, atol=1e-12)
    np.testing.assert_array_equal(blur_matrix(5, 0), np.eye(5))
    assert grid_for(224) == 7 and grid_for(96) == 3 and grid_for(64) == 2


def test_hand_computed_7x7_maps():
    # R = 7, no blur: a line along row 3 from the centre of col 1 to the centre of col 5 covers
    # five pixels, each 1/5; a point alone covers one pixel.
    maps, valid = _render([_centre(3, 1, 7) +
                           (0.0, ), _centre(3, 5, 7) + (1.0, )], [[0, 1]], (7, 7),
                          grid=7,
                          sigma=0)
    expected = np.zeros((7, 7))
    expected[3, 1:6] = 0.2
    np.testing.assert_allclose(maps[0], expected, atol=1e-7)
    assert valid.tolist() == [True]
    # R = 14 pooled to 7: a line along row 6 over cols 2..9 (8 pixels); every 2x2 cell it
    # touches holds 2 of its 4 pixels, so cells (3, 1..4) get 1/4 each.
    maps, _ = _render([_centre(6, 2, 14) +
                       (0.0, ), _centre(6, 9, 14) + (1.0, )], [[0, 1]], (14, 14),
                      grid=7,
                      sigma=0)
    expected = np.zeros((7, 7))
    expected[3, 1:5] = 0.25
    np.testing.assert_allclose(maps[0], expected, atol=1e-7)
    # A point at the centre, sigma 0.5: kernel size 5, no border reached, so the map is the
    # outer product of w = [e^-8, e^-2, 1, e^-2, e^-8] / sum around (3, 3).
    maps, _ = _render([_centre(3, 3, 7) + (0.5, )], [[0, 1]], (7, 7), grid=7, sigma=0.5)
    w = np.exp(-np.arange(-2, 3)**2 / (2 * 0.25))
    w /= w.sum()
    expected = np.zeros((7, 7))
    expected[1:6, 1:6] = np.outer(w, w)
    np.testing.assert_allclose(maps[0], expected, atol=1e-7)
    # Line width 3: the 3x3 block around the point's pixel, 1/9 each.
    maps, _ = _render([_centre(3, 4, 7) + (0.5, )], [[0, 1]], (7, 7),
                      grid=7,
                      sigma=0,
                      line_width=3)
    expected = np.zeros((7, 7))
    expected[2:5, 3:6] = 1 / 9
    np.testing.assert_allclose(maps[0], expected, atol=1e-7)


def test_spec_record_maps_by_hand():
    """The spec 2.4 record at R = 7, no blur, worked out by hand."""
    rec = parse_record(SPEC_RECORD)
    maps, valid = TraceRenderer(
        grid=7, sigma=0).render(rec['trace_xy'], rec['trace_t'], rec['trace_seg'],
                                rec['utterance_times'], (7, 7))
    # 'In this' [0, 0.4]: its only point (t 0.022) has y < 0 -> dropped -> masked out.
    # 'image there are' [0.4, 1.2]: (0.30, 0.20) -> pixel (row 1, col 2).
    # 'group of cows' [1.2, 2.0]: (3.15, 3.85) -> (3.85, 4.2) px, 0.78 px long: samples at 0,
    #     1/2, 1 -> pixels (3, 3), (4, 3), (4, 3) -> 1/2 each.
    # 'standing.' [2.0, 2.5]: (0.60, 0.70) -> (4, 4); (1.04, 0.72) is outside -> dropped.
    assert valid.tolist() == [False, True, True, True]
    expected = np.zeros((4, 7, 7))
    expected[1, 1, 2] = 1
    expected[2, 3, 3] = expected[2, 4, 3] = 0.5
    expected[3, 4, 4] = 1
    np.testing.assert_allclose(maps, expected, atol=1e-7)


def test_segments_and_dropped_points_break_lines():
    a, b = _centre(1, 1, 7), _centre(1, 5, 7)
    joined, _ = _render([a + (0.0, ), b + (0.5, )], [[0, 1]], (7, 7), grid=7, sigma=0)
    assert (joined[0] > 0).sum() == 5
    # Same points in two segments: no line between them, two pixels of 1/2.
    apart, _ = _render([a + (0.0, ), b + (0.5, )], [[0, 1]], (7, 7), seg=[0, 1], grid=7, sigma=0)
    expected = np.zeros((7, 7))
    expected[1, 1] = expected[1, 5] = 0.5
    np.testing.assert_allclose(apart[0], expected, atol=1e-7)
    # A point outside the image between them splits the line the same way.
    split, _ = _render([a + (0.0, ), (0.5, -0.2, 0.2), b + (0.5, )], [[0, 1]], (7, 7),
                       grid=7,
                       sigma=0)
    np.testing.assert_allclose(split[0], expected, atol=1e-7)


def test_maps_sum_to_one_and_masking():
    rng = np.random.default_rng(1)
    n = 300
    t = np.sort(rng.uniform(0, 10, n))
    xy = np.cumsum(rng.normal(0, 0.03, (n, 2)), 0) + 0.5
    seg = (t > 5).astype(np.int32)
    times = np.array([[0, 2], [2, 4], [4, 6], [6, 8], [8, 10], [11, 12], [3, 3.0001]])
    maps, valid = TraceRenderer(grid=7).render(xy, t, seg, times, (224, 224))
    assert maps.shape == (7, 7, 7) and maps.dtype == np.float32
    assert not valid[5]  # no point in [11, 12]
    np.testing.assert_allclose(maps[valid].sum((1, 2)), 1, rtol=1e-5)
    assert (maps[~valid] == 0).all() and (maps >= 0).all()
    # All points outside the image -> every utterance masked.
    maps, valid = TraceRenderer(grid=7).render(xy + 5, t, seg, times, (224, 224))
    assert not valid.any() and not maps.any()
    # No utterances / no points.
    maps, valid = TraceRenderer(grid=7).render(
        np.zeros((0, 2)), np.zeros(0), np.zeros(0), times, (64, 64))
    assert maps.shape == (7, 7, 7) and not valid.any()


def test_matches_cv2_blur_and_area_resize():
    """Separable operator == cv2.GaussianBlur(reflect-101) + cv2.resize(INTER_AREA) on the
    full raster, including non-square rasters and non-integer pooling."""
    rng = np.random.default_rng(2)
    n = 200
    t = np.sort(rng.uniform(0, 8, n))
    xy = np.cumsum(rng.normal(0, 0.04, (n, 2)), 0) + 0.5
    seg = np.repeat(np.arange(4), 50).astype(np.int32)
    times = np.array([[0, 3], [3, 5], [5, 8]])
    for size, grid, sigma, width in [((56, 56), 7, None, 1), ((50, 70), (7, 5), (2.0, 3.5), 2),
                                     ((40, 40), 3, 1.0, 3)]:
        r = TraceRenderer(grid=grid, sigma=sigma, line_width=width)
        maps, valid = r.render(xy, t, seg, times, size)
        keys = r.rasterize(xy, t, seg, times, size)
        canvas = np.zeros((len(times), ) + size)
        canvas.reshape(-1)[keys] = 1
        sy, sx = r.sigma if r.sigma else (size[0] / 32, size[1] / 32)
        gh, gw = r.grid
        for k in range(len(times)):
            blurred = cv2.GaussianBlur(
                canvas[k], (0, 0), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT_101)
            ref = cv2.resize(blurred, (gw, gh), interpolation=cv2.INTER_AREA)
            assert valid[k] == (ref.sum() > 0)
            if valid[k]:
                np.testing.assert_allclose(maps[k], ref / ref.sum(), atol=1e-6)


def test_flip_equivariance_of_rendering():
    rng = np.random.default_rng(4)
    n = 120
    t = np.sort(rng.uniform(0, 6, n))
    xy = np.cumsum(rng.normal(0, 0.05, (n, 2)), 0) + 0.5
    seg = (t > 3).astype(np.int32)
    times = np.array([[0, 2], [2, 4], [4, 6]])
    r = TraceRenderer(grid=7)
    maps, valid = r.render(xy, t, seg, times, (224, 224))
    fmaps, fvalid = r.render(flip_points(xy, 'horizontal'), t, seg, times, (224, 224))
    np.testing.assert_array_equal(valid, fvalid)
    np.testing.assert_allclose(fmaps, maps[:, :, ::-1], atol=1e-6)


def test_render_trace_maps_transform_pads_and_truncates():
    rec = parse_record(SPEC_RECORD)
    results = dict(img=np.zeros((14, 14, 3), np.uint8), **rec)
    out = RenderTraceMaps(grid=7, sigma=0, max_utterances=6)(dict(results))
    assert tuple(out['trace_maps'].shape) == (6, 7, 7)
    assert str(out['trace_maps'].dtype) == 'torch.float32'
    assert out['utterance_valid'].tolist() == [False, True, True, True, False, False]
    np.testing.assert_allclose(
        out['trace_maps'].sum((1, 2)).numpy(), [0, 1, 1, 1, 0, 0], atol=1e-6)
    assert (out['trace_maps'][4:] == 0).all()
    # U = 2 < K = 4: the last two utterances are dropped and counted.
    tr = RenderTraceMaps(grid=7, sigma=0, max_utterances=2)
    out = tr(dict(results))
    assert tuple(out['trace_maps'].shape) == (2, 7, 7)
    assert out['utterance_valid'].tolist() == [False, True]
    assert tr.drops.counts['utterances beyond max_utterances dropped'] == 2
    # Explicit render size: same maps at 7 px as at the image's 14 px when sigma = 0 here.
    out7 = RenderTraceMaps(grid=7, sigma=0, render_size=7)(dict(results))
    assert out7['utterance_valid'][:4].tolist() == [False, True, True, True]
    with pytest.raises(KeyError, match='LocalizedNarrativesDataset'):
        RenderTraceMaps()(dict(img=results['img']))
    with pytest.raises(ValueError, match='smaller than the grid'):
        RenderTraceMaps(grid=7, render_size=4)(dict(results))


def test_pipeline_check_refuses_stock_geometry():
    init_default_scope('mmpretrain')
    from mmcv.transforms import Compose
    ok = Compose([
        dict(type='LNRandomResizedCrop', scale=32),
        dict(type='LNRandomFlip', prob=0.5),
        dict(type='RenderTraceMaps', grid=1)
    ])
    check_trace_pipeline(ok.transforms)
    for bad in (dict(type='RandomResizedCrop', scale=32), dict(type='RandomFlip', prob=0.5),
                dict(type='RandomApply', transforms=[dict(type='RandomFlip', prob=0.5)])):
        pipe = Compose([bad, dict(type='RenderTraceMaps', grid=1)])
        with pytest.raises(ValueError, match='LNRandomResizedCrop'):
            check_trace_pipeline(pipe.transforms)
    # Without trace rendering stock transforms are fine.
    check_trace_pipeline(Compose([dict(type='RandomFlip', prob=0.5)]).transforms)


def test_crop_can_be_called_indefinitely():
    """Regression: wrapping mmcv's cache_random_params piled up a wrapper per call (mmpretrain
    lists rand_crop_params twice) and hit the recursion limit after ~1,000 samples a worker."""
    import sys
    crop = LNRandomResizedCrop(scale=16)
    img = np.zeros((24, 32, 3), np.uint8)
    for _ in range(sys.getrecursionlimit() + 100):
        out = crop.transform(dict(img=img))
    assert out['img'].shape == (16, 16, 3)
    assert 'rand_crop_params' not in vars(crop)
