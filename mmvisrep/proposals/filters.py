"""SoCo's proposal filters (``selective_search/filters.py`` and the ``post`` fallback).

Boxes are ``[x, y, w, h]`` with SoCo's width convention. Every rule keeps a box only if
``w >= 32 and h >= 32``; ``ratio<R>`` adds ``1/R <= w/h <= R``; ``size<AA><BB>`` adds
``AA/10 <= sqrt(w*h) / sqrt(W*H) <= BB/10`` with (W, H) the image size; bounds are inclusive and
computed in float64 exactly as the official Python does. A ``post`` suffix refills images left
empty: first with ``ratio3`` (aspect ratio only), then with ``none`` (minimum side only).
"""
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

MIN_SIDE = 32
# The official post step hard-codes filter_ratio(r=3) and then filter_none.
POST_FALLBACKS = ('ratio3', 'none')
_RULE_RE = re.compile(r'^(?:none|ratio(\d)|size(\d\d)|ratio(\d)size(\d\d)(\d\d))$')


@dataclass(frozen=True)
class FilterRule:
    """One filter rule: minimum side, optional aspect-ratio bound, optional relative-size band."""
    name: str
    ratio: Optional[float] = None
    min_rel: Optional[float] = None
    max_rel: Optional[float] = None

    def mask(self, boxes: np.ndarray, img_wh: Optional[Sequence[int]] = None) -> np.ndarray:
        """Boolean keep-mask of ``(N, 4)`` xywh boxes; ``img_wh`` = (W, H) for size rules."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        w, h = boxes[:, 2], boxes[:, 3]
        keep = (w >= MIN_SIDE) & (h >= MIN_SIDE)
        if self.ratio is not None:
            aspect = np.divide(w, h, out=np.zeros_like(w), where=keep)
            keep &= (1.0 / self.ratio <= aspect) & (aspect <= self.ratio)
        if self.min_rel is not None:
            if img_wh is None:
                raise ValueError(f'filter {self.name} needs the image size')
            img_w, img_h = img_wh
            if not (img_w > 0 and img_h > 0):
                raise ValueError(f'filter {self.name}: bad image size {list(img_wh)}')
            rel = np.sqrt(w * h) / np.sqrt(float(img_w) * float(img_h))
            keep &= (self.min_rel <= rel) & (rel <= self.max_rel)
        return keep


def parse_rule(name: str) -> FilterRule:
    """Rule from SoCo's naming: ``none``, ``ratio3``, ``size01``, ``ratio3size0308``."""
    match = _RULE_RE.match(name)
    if match is None:
        raise ValueError(f'unknown filter rule {name!r}: expected none, ratio<R>, size<AA> or '
                         f'ratio<R>size<AA><BB> (e.g. ratio3size0308), optionally + "post"')
    ratio, size_min, ratio2, min2, max2 = match.groups()
    if ratio is not None:
        return FilterRule(name, ratio=float(ratio))
    if size_min is not None:
        # Official filter_size: only the lower bound is given, max_ratio stays 1.0.
        return FilterRule(name, min_rel=float(size_min) / 10, max_rel=1.0)
    if ratio2 is not None:
        return FilterRule(
            name, ratio=float(ratio2), min_rel=float(min2) / 10, max_rel=float(max2) / 10)
    return FilterRule(name)


def parse_strategy(strategy: str) -> Tuple[FilterRule, Tuple[FilterRule, ...]]:
    """(main rule, fallback rules) of a strategy name such as ``ratio3size0308post``."""
    post = strategy.endswith('post')
    main = parse_rule(strategy[:-4] if post else strategy)
    fallbacks = tuple(parse_rule(n) for n in POST_FALLBACKS) if post else ()
    return main, fallbacks


def filter_boxes(boxes, img_wh=None, strategy: str = 'ratio3size0308post'):
    """Filtered ``(M, 4)`` boxes of one image and the name of the rule that produced them.

    The rule is the main rule, else the first fallback that keeps a box; an image that stays
    empty reports the main rule (no fallback) or the last fallback.
    """
    main, fallbacks = parse_strategy(strategy)
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    rule = main
    kept = boxes[main.mask(boxes, img_wh)]
    if not len(kept):
        for rule in fallbacks:
            kept = boxes[rule.mask(boxes, img_wh)]
            if len(kept):
                break
    return kept, (rule.name if len(kept) else None)


@dataclass
class FilterReport:
    """What a filter pass did: images per deciding rule, images left empty, box counts."""
    strategy: str
    images: int = 0
    boxes_in: int = 0
    boxes_out: int = 0
    by_rule: Dict[str, int] = None
    empty: List[str] = None

    def __post_init__(self):
        main, fallbacks = parse_strategy(self.strategy)
        if self.by_rule is None:
            self.by_rule = {r.name: 0 for r in (main, ) + fallbacks}
        if self.empty is None:
            self.empty = []

    def as_dict(self) -> dict:
        """JSON-serialisable summary (``empty`` is the list of image keys left empty)."""
        return dict(
            strategy=self.strategy,
            images=self.images,
            boxes_in=self.boxes_in,
            boxes_out=self.boxes_out,
            images_by_rule=dict(self.by_rule),
            images_empty=len(self.empty),
            empty=list(self.empty))


def filter_proposals(proposals: Dict[str, list],
                     sizes: Dict[str, Sequence[int]],
                     strategy: str = 'ratio3size0308post',
                     report: Optional[FilterReport] = None):
    """Filter ``{key: [[x, y, w, h], ...]}`` with ``sizes = {key: [W, H]}``.

    Returns ``(filtered, report)``; every key stays in ``filtered`` (an empty list when nothing
    survives, as the official json does). Pass ``report`` to accumulate over several calls.
    """
    report = report or FilterReport(strategy)
    main, _ = parse_strategy(strategy)
    filtered = {}
    for key, boxes in proposals.items():
        img_wh = sizes.get(key)
        if img_wh is None and main.min_rel is not None:
            raise KeyError(f'filter {strategy}: no image size for {key!r}')
        kept, rule = filter_boxes(boxes, img_wh, strategy)
        filtered[key] = kept.tolist()
        report.images += 1
        report.boxes_in += len(boxes)
        report.boxes_out += len(kept)
        if rule is None:
            report.empty.append(key)
        else:
            report.by_rule[rule] += 1
    return filtered, report
