"""ORL's Stage-2 RoI filter: hand-computed cases and a plain-loop reference on random boxes."""
import numpy as np
import pytest

from mmvisrep.correspondence import BoxFilter, filter_boxes


def _reference(boxes, min_size, max_ratio, max_iou_thr, topn):
    """The rule as written in the spec, one box at a time (float64 IoU, areas w*h)."""
    kept = []
    for i, (x, y, w, h) in enumerate(boxes):
        if w <= 0 or h <= 0:
            continue
        if min_size and (w < min_size or h < min_size):
            continue
        if max_ratio and (w / h > max_ratio or h / w > max_ratio):
            continue
        if max_iou_thr and kept:
            ious = []
            for j in kept:
                xj, yj, wj, hj = boxes[j]
                iw = max(min(x + w, xj + wj) - max(x, xj), 0.)
                ih = max(min(y + h, yj + hj) - max(y, yj), 0.)
                inter = iw * ih
                ious.append(inter / (w * h + wj * hj - inter))
            if max(ious) > max_iou_thr:
                continue
        kept.append(i)
    if topn:
        kept = kept[:topn]
    return kept or [0]


BOXES = [
    [0, 0, 5, 20],  # 0: w < 10 -> dropped by size
    [0, 0, 20, 20],  # 1: kept (first survivor)
    [2, 0, 20, 20],  # 2: IoU with 1 = 360 / 440 = 0.818 > 0.5 -> dropped
    [10, 0, 20, 20],  # 3: IoU with 1 = 200 / 600 = 0.333 -> kept
    [0, 0, 50, 20],  # 4: w/h = 2.5 > 2 -> dropped by ratio
    [0, 0, 40, 20],  # 5: w/h = 2 (not > 2); IoU with 1 and with 3 = 400/800 = 0.5 (not > 0.5)
    [100, 100, 30, 30],  # 6: no overlap -> kept, 4th survivor
    [0, 0, 10, 10],  # 7: w = h = 10 (not < 10); IoU <= 0.25 with 1, 3, 5 -> kept, 5th
]


def test_filter_hand_made_boxes():
    assert filter_boxes(BOXES, 10, 2, 0.5, 3).tolist() == [1, 3, 5]
    assert filter_boxes(BOXES, 10, 2, 0.5, None).tolist() == [1, 3, 5, 6, 7]
    assert filter_boxes(BOXES, 10, 2, 0.5, 100).tolist() == [1, 3, 5, 6, 7]
    # rules switched off one at a time (0 / None = off, as in the official code)
    assert filter_boxes(BOXES, 0, 2, 0.5, None).tolist() == [1, 3, 5, 6, 7]  # box 0: h/w = 4
    assert filter_boxes(BOXES, 10, 2, None, None).tolist() == [1, 2, 3, 5, 6, 7]
    assert filter_boxes(BOXES, 0, 0, 0, 0).tolist() == list(range(8))
    # a threshold just below 0.5 now drops box 5 (IoU exactly 0.5 with box 1)
    assert filter_boxes(BOXES, 10, 2, 0.49, None).tolist() == [1, 3, 6, 7]
    # the ORL defaults (min side 96) keep nothing here -> the first raw box is the fallback
    index, fallback = BoxFilter()(BOXES, return_fallback=True)
    assert index.tolist() == [0] and fallback
    assert not BoxFilter(10, 2, 0.5, 3)(BOXES, return_fallback=True)[1]


def test_box_4_iou_when_ratio_rule_is_off():
    # with max_ratio off, box 4 (50x20) passes; IoU with box 1 = 400 / 1000 = 0.4 and with
    # box 3 = 400 / 1000 = 0.4 -> kept; box 5 then has IoU 800 / 1000 = 0.8 with box 4 -> dropped
    assert filter_boxes(BOXES, 10, 0, 0.5, None).tolist() == [1, 3, 4, 6, 7]
    assert filter_boxes(BOXES, 10, None, 0.5, None).tolist() == [1, 3, 4, 6, 7]


def test_dedup_compares_with_kept_boxes_only():
    boxes = [[0, 0, 10, 10], [2, 0, 10, 10], [4, 0, 10, 10]]
    # B vs A: 80 / 120 = 0.667 -> dropped; C vs A: 60 / 140 = 0.43 -> kept even though
    # C vs the dropped B is 0.667
    assert filter_boxes(boxes, 0, 0, 0.5, None).tolist() == [0, 2]


def test_degenerate_empty_and_malformed_boxes():
    # zero-size boxes are always dropped, even with every rule off
    assert filter_boxes([[0, 0, 0, 5], [1, 1, 4, 0], [2, 2, 3, 3]], 0, 0, 0, 0).tolist() == [2]
    with pytest.raises(ValueError, match='no boxes'):
        filter_boxes([])
    with pytest.raises(ValueError, match=r'\[x, y, w, h\]'):
        filter_boxes([[0, 0, 10]])
    with pytest.raises(ValueError, match='non-finite'):
        filter_boxes([[0, 0, float('nan'), 10]])


@pytest.mark.parametrize('params', [(96, 3, 0.5, 100), (20, 2, 0.3, 10), (0, 0, 0.7, 0),
                                    (30, 3, 0.5, None)])
def test_filter_matches_reference_loop_on_random_boxes(params):
    rng = np.random.default_rng(sum(hash(p) for p in params) % 2**32)
    for _ in range(5):
        n = int(rng.integers(1, 300))
        wh = rng.integers(1, 400, size=(n, 2))
        xy = rng.integers(-20, 600, size=(n, 2))
        boxes = np.concatenate([xy, wh], axis=1).tolist()
        assert filter_boxes(boxes, *params).tolist() == _reference(boxes, *params)
    # float boxes too
    boxes = (rng.random((200, 4)) * [500, 500, 300, 300] + [0, 0, 1, 1]).tolist()
    assert filter_boxes(boxes, *params).tolist() == _reference(boxes, *params)


def test_info_fields():
    assert BoxFilter().as_info() == dict(
        bbox_min_size=96, bbox_max_aspect_ratio=3, bbox_max_iou=0.5, intra_bbox_num=100)
