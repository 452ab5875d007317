"""SoCo's proposal filters at their exact boundaries, and the order of the post fallback."""
import numpy as np
import pytest

from mmvisrep.proposals import FilterReport, filter_boxes, filter_proposals, parse_strategy
from mmvisrep.proposals.filters import parse_rule

# Image of 320 x 320: sqrt(W*H) = 320, so relative sizes 0.3 and 0.8 are sides 96 and 256.
IMG = (320, 320)


def keep(rule, boxes, img_wh=IMG):
    return parse_rule(rule).mask(np.array(boxes), img_wh).tolist()


def test_min_side_is_inclusive_32():
    boxes = [[0, 0, 32, 32], [0, 0, 31, 32], [0, 0, 32, 31], [5, 5, 300, 32]]
    assert keep('none', boxes) == [True, False, False, True]


def test_ratio_bounds_are_inclusive():
    # w/h exactly 3 and 1/3 are kept; one pixel beyond is not.
    boxes = [[0, 0, 96, 32], [0, 0, 97, 32], [0, 0, 32, 96], [0, 0, 32, 97], [0, 0, 50, 50]]
    assert keep('ratio3', boxes) == [True, False, True, False, True]
    assert keep('ratio2', [[0, 0, 64, 32], [0, 0, 65, 32]]) == [True, False]


def test_relative_size_bounds_are_inclusive():
    # sqrt(w*h) / 320: 96 -> 0.3 and 256 -> 0.8 exactly; 95 and 257 fall outside.
    boxes = [[0, 0, 96, 96], [0, 0, 95, 95], [0, 0, 256, 256], [0, 0, 257, 257]]
    assert keep('ratio3size0308', boxes) == [True, False, True, False]
    # A non-square image: W*H = 400*100, sqrt = 200; 0.3 -> 60, 0.8 -> 160 (geometric mean).
    assert keep('ratio3size0308', [[0, 0, 60, 60], [0, 0, 90, 40], [0, 0, 59, 60]],
                (400, 100)) == [True, True, False]


def test_all_three_conditions_combine():
    # Big enough relative size but aspect 4 -> dropped; right aspect but 31 px side -> dropped.
    boxes = [[0, 0, 240, 60], [0, 0, 31, 93], [10, 10, 120, 100]]
    assert keep('ratio3size0308', boxes) == [False, False, True]


def test_size_rule_has_only_a_lower_bound():
    # Official filter_size(min_ratio) keeps max_ratio = 1.0.
    assert keep('size01', [[0, 0, 32, 32], [0, 0, 320, 320], [0, 0, 31, 320]]) == \
        [True, True, False]


def test_bad_strategy_names_the_rule():
    with pytest.raises(ValueError, match='ratio3size03'):
        parse_strategy('ratio3size03')


def test_post_fallback_order():
    # Strict rule keeps something: fallbacks unused.
    boxes = [[0, 0, 100, 100], [0, 0, 40, 200]]
    kept, rule = filter_boxes(boxes, IMG)
    assert rule == 'ratio3size0308' and kept.tolist() == [[0, 0, 100, 100]]
    # Nothing in the size band, but an aspect-valid small box: ratio3 decides.
    boxes = [[0, 0, 40, 40], [0, 0, 40, 200], [0, 0, 10, 10]]
    kept, rule = filter_boxes(boxes, IMG)
    assert rule == 'ratio3' and kept.tolist() == [[0, 0, 40, 40]]
    # Only elongated boxes: none (minimum side only) decides.
    kept, rule = filter_boxes([[0, 0, 40, 200], [0, 0, 10, 10]], IMG)
    assert rule == 'none' and kept.tolist() == [[0, 0, 40, 200]]
    # Nothing of 32 px: stays empty.
    kept, rule = filter_boxes([[0, 0, 10, 10]], IMG)
    assert rule is None and kept.shape == (0, 4)
    # Without "post" there is no fallback.
    kept, rule = filter_boxes([[0, 0, 40, 40]], IMG, 'ratio3size0308')
    assert rule is None and len(kept) == 0


def test_filter_proposals_counts_rules_and_empty_images():
    proposals = {
        'a': [[0, 0, 100, 100]],
        'b': [[0, 0, 40, 40]],
        'c': [[0, 0, 40, 200]],
        'd': [[0, 0, 5, 5]],
        'e': []
    }
    sizes = {k: IMG for k in proposals}
    filtered, report = filter_proposals(proposals, sizes)
    assert filtered == {
        'a': [[0, 0, 100, 100]],
        'b': [[0, 0, 40, 40]],
        'c': [[0, 0, 40, 200]],
        'd': [],
        'e': []
    }
    stats = report.as_dict()
    assert stats['images_by_rule'] == {'ratio3size0308': 1, 'ratio3': 1, 'none': 1}
    assert stats['empty'] == ['d', 'e'] and stats['images_empty'] == 2
    assert (stats['boxes_in'], stats['boxes_out']) == (4, 3)
    # Accumulating into one report over two calls gives the same totals.
    acc = FilterReport('ratio3size0308post')
    filter_proposals({k: proposals[k] for k in 'ab'}, sizes, report=acc)
    filter_proposals({k: proposals[k] for k in 'cde'}, sizes, report=acc)
    assert acc.as_dict() == stats


def test_size_rule_needs_the_image_size():
    with pytest.raises(KeyError, match="'x'"):
        filter_proposals({'x': [[0, 0, 40, 40]]}, {})
