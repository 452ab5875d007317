"""ORL's Stage-2 RoI filter: minimum side, aspect ratio, greedy IoU de-duplication, first N.

A port of ``box_filter`` in ORL's ``openselfsup/datasets/correspondence.py``. Boxes are
``[x, y, w, h]`` in selective-search output order and are visited in that order:

1. drop a box with ``w < min_size or h < min_size``;
2. drop a box with ``w / h > max_ratio or h / w > max_ratio``;
3. drop a box whose IoU with any box kept so far is ``> max_iou_thr`` (areas ``w * h``, no +1);
4. keep the first ``topn`` survivors; if none survive, keep the first raw box.

As in the official code a rule whose parameter is ``0`` or ``None`` is off. Unlike it, boxes with
``w <= 0`` or ``h <= 0`` are always dropped (the official divides by zero on them, and such a box
cannot be cropped).
"""
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from torchvision.ops import nms


@dataclass(frozen=True)
class BoxFilter:
    """Parameters of the RoI filter; the defaults are ORL's (Stage-2 config)."""
    min_size: Optional[float] = 96
    max_ratio: Optional[float] = 3
    max_iou_thr: Optional[float] = 0.5
    topn: Optional[int] = 100

    def as_info(self) -> dict:
        """The ``info`` fields of the official correspondence json."""
        return dict(
            bbox_min_size=self.min_size,
            bbox_max_aspect_ratio=self.max_ratio,
            bbox_max_iou=self.max_iou_thr,
            intra_bbox_num=self.topn)

    def as_dict(self) -> dict:
        return asdict(self)

    def __call__(self, boxes, return_fallback: bool = False):
        return filter_boxes(boxes, self.min_size, self.max_ratio, self.max_iou_thr, self.topn,
                            return_fallback)


def as_box_array(boxes, what: str = 'boxes') -> np.ndarray:
    """``(N, 4)`` float64 array of ``[x, y, w, h]`` boxes; a malformed list raises ValueError."""
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{what} is not a list of [x, y, w, h] numbers: {err}') from None
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f'{what} is not a list of [x, y, w, h] boxes (shape {arr.shape})')
    if not np.isfinite(arr).all():
        raise ValueError(f'{what} holds non-finite coordinates')
    return arr


def greedy_dedup(boxes: np.ndarray, max_iou_thr: float) -> np.ndarray:
    """Indices of the boxes kept by in-order greedy de-duplication (IoU ``> max_iou_thr`` drops).

    This is NMS with the scores decreasing along the list: a box survives iff no earlier kept box
    overlaps it by more than the threshold. torchvision's CPU kernel runs it in float64.
    """
    if len(boxes) <= 1:
        return np.arange(len(boxes))
    xyxy = torch.from_numpy(np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1))
    scores = -torch.arange(len(boxes), dtype=torch.float64)
    keep = nms(xyxy, scores, float(max_iou_thr)).numpy()
    return np.sort(keep)


def filter_boxes(boxes: Sequence,
                 min_size: Optional[float] = 96,
                 max_ratio: Optional[float] = 3,
                 max_iou_thr: Optional[float] = 0.5,
                 topn: Optional[int] = 100,
                 return_fallback: bool = False):
    """Indices (into ``boxes``) of the RoIs ORL keeps, in input order (see the module doc).

    With ``return_fallback`` also returns whether no box survived (the first box was kept).
    Raises ValueError for an empty or malformed box list: the official fallback needs a box.
    """
    arr = as_box_array(boxes)
    if len(arr) == 0:
        raise ValueError('no boxes to filter (the fallback needs at least one proposal)')
    w, h = arr[:, 2], arr[:, 3]
    keep = (w > 0) & (h > 0)
    if min_size:
        keep &= (w >= min_size) & (h >= min_size)
    if max_ratio:
        ww, hh = np.where(keep, w, 1.0), np.where(keep, h, 1.0)
        keep &= ~((ww / hh > max_ratio) | (hh / ww > max_ratio))
    index = np.flatnonzero(keep)
    if max_iou_thr and len(index) > 1:
        index = index[greedy_dedup(arr[index], max_iou_thr)]
    if topn:
        index = index[:topn]
    fallback = len(index) == 0
    if fallback:
        index = np.zeros(1, dtype=np.int64)
    index = index.astype(np.int64)
    return (index, fallback) if return_fallback else index
