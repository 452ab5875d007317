"""Box geometry of SoCo's view construction (spec 1.3), on plain numpy arrays.

Conventions follow the official code (``contrast/data/bboxs_utils.py``, ``props_utils.py``):

* pixel boxes are ``[x1, y1, x2, y2]`` with *inclusive* corners, so a box is
  ``x2 - x1 + 1`` pixels wide, and a ``[x, y, w, h]`` proposal becomes ``x2 = x + w - 1``;
* a crop is ``(top, left, height, width)``, covering the inclusive pixel rectangle
  ``[left, top, left + width - 1, top + height - 1]`` of the original image;
* "intersects" is strict on both axes (``a1 < b2 and b1 < a2``), so boxes that only touch an
  edge do not count;
* boxes travel with integer ids (proposal index + 1); id 1 is also the id of the whole-view
  fallback box.

Random draws use ``rng`` (``np.random`` by default, i.e. the global numpy state that mmengine
seeds per dataloader worker); tests pass a ``np.random.RandomState``.
"""
import math
from typing import Optional, Sequence, Tuple

import numpy as np

Crop = Tuple[int, int, int, int]  # (top, left, height, width) in original-image pixels


def _rng(rng):
    """The random source: ``rng`` if given, else numpy's global state (seeded by mmengine)."""
    return np.random if rng is None else rng


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``[x, y, w, h]`` -> inclusive ``[x1, y1, x2, y2]`` with ``x2 = x + w - 1`` (float32)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    out = boxes.copy()
    out[:, 2] = boxes[:, 0] + boxes[:, 2] - 1
    out[:, 3] = boxes[:, 1] + boxes[:, 3] - 1
    return out


def box_sizes(boxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Widths and heights of inclusive boxes: ``x2 - x1 + 1``, ``y2 - y1 + 1``."""
    return boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1


def crop_rect(crop: Crop) -> np.ndarray:
    """The inclusive pixel rectangle ``[x1, y1, x2, y2]`` covered by a crop."""
    top, left, height, width = crop
    return np.array([left, top, left + width - 1, top + height - 1], dtype=np.float64)


def crop_overlap(crop_a: Crop, crop_b: Crop) -> Optional[np.ndarray]:
    """Overlap rectangle of two crops (``cal_overlap_params``), None if they do not intersect.

    With V1 being the whole image, the overlap of (V1, Vn) is Vn's crop rectangle.
    """
    a, b = crop_rect(crop_a), crop_rect(crop_b)
    if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
        return np.array([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])
    return None


def intersecting(boxes: np.ndarray, region: Optional[np.ndarray]) -> np.ndarray:
    """Bool mask of the boxes that intersect ``region`` (strictly, ``get_overlap_props``)."""
    if region is None or len(boxes) == 0:
        return np.zeros(len(boxes), dtype=bool)
    x1, y1, x2, y2 = region
    return ((x1 < boxes[:, 2]) & (boxes[:, 0] < x2) & (y1 < boxes[:, 3]) & (boxes[:, 1] < y2))


def select_random(num: int, k: int, rng=None) -> np.ndarray:
    """Indices of ``k`` of ``num`` items drawn without replacement; all of them if ``num <= k``.

    ``select_props(..., 'random', k)``: the order is the draw order; when fewer than ``k``
    candidates exist they are all kept in their original order.
    """
    if num <= k:
        return np.arange(num)
    return _rng(rng).choice(num, size=k, replace=False)


def jitter_boxes(boxes: np.ndarray, prob: float, ratio: float, rng=None) -> np.ndarray:
    """V1's box jitter (``jitter_props``): each box, with probability ``prob``, becomes

    ``x1' = x1 + u0 w``, ``y1' = y1 + u1 h``, ``x2' = x1' + w (1 + u2) - 1``,
    ``y2' = y1' + h (1 + u3) - 1`` with ``u ~ U(-ratio, ratio)^4`` and ``w = x2 - x1 + 1``.
    Returns a float64 copy; boxes left alone are unchanged.
    """
    rng = _rng(rng)
    out = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    for i in range(len(out)):
        if rng.rand() < prob:
            u = rng.uniform(-ratio, ratio, size=4)
            x1, y1, x2, y2 = out[i]
            w, h = x2 - x1 + 1, y2 - y1 + 1
            nx1, ny1 = x1 + u[0] * w, y1 + u[1] * h
            out[i] = [nx1, ny1, nx1 + w * (1 + u[2]) - 1, ny1 + h * (1 + u[3]) - 1]
    return out


def clip_to_crop(boxes: np.ndarray, ids: np.ndarray, crop: Crop) -> Tuple[np.ndarray, np.ndarray]:
    """Clip boxes to a crop and shift them into crop pixels (``clip_bboxs``).

    Boxes that do not intersect the crop are dropped. If none survives, the whole view
    ``[0, 0, width - 1, height - 1]`` becomes the single box, with id 1.
    Returns float64 boxes (N, 4) and int64 ids (N,).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    top, left, height, width = crop
    rect = crop_rect(crop)
    keep = intersecting(boxes, rect)
    if not keep.any():
        whole = np.array([[0, 0, width - 1, height - 1]], dtype=np.float64)
        return whole, np.array([1], dtype=np.int64)
    kept = boxes[keep]
    x1 = np.maximum(kept[:, 0], rect[0]) - left
    y1 = np.maximum(kept[:, 1], rect[1]) - top
    x2 = np.minimum(kept[:, 2], rect[2]) - left
    y2 = np.minimum(kept[:, 3], rect[3]) - top
    return np.stack([x1, y1, x2, y2], axis=1), ids[keep]


def common_ids(ids_a: np.ndarray, ids_b: np.ndarray) -> np.ndarray:
    """Ids of ``ids_a`` also in ``ids_b``, in ``ids_a``'s order (``get_common_bboxs_ids``)."""
    ids_a = np.asarray(ids_a)
    return ids_a[np.isin(ids_a, ids_b)]


def pad_with_common(boxes: np.ndarray,
                    ids: np.ndarray,
                    shared: np.ndarray,
                    k: int,
                    rng=None) -> Tuple[np.ndarray, np.ndarray]:
    """Pad a view's boxes to ``k`` with duplicates drawn with replacement among the boxes whose
    ids are in ``shared`` (``pad_bboxs_with_common``); nothing happens if there are already ``k``.

    If no box of the view is shared (the official code crashes there), the duplicates are
    drawn among all of the view's boxes; they then match nothing in the other view.
    """
    need = k - len(boxes)
    if need <= 0:
        return boxes, ids
    pool = np.flatnonzero(np.isin(ids, shared))
    if len(pool) == 0:
        pool = np.arange(len(boxes))
    pick = pool[_rng(rng).choice(len(pool), need)]
    return np.concatenate([boxes, boxes[pick]]), np.concatenate([ids, ids[pick]])


def rescale_to_view(boxes: np.ndarray, crop_hw: Tuple[int, int],
                    view_hw: Tuple[int, int]) -> np.ndarray:
    """Crop pixels -> view pixels, cast to int (``resize_bboxs(...).astype(int)``: truncation)."""
    (ch, cw), (vh, vw) = crop_hw, view_hw
    scale = np.array([vw / cw, vh / ch, vw / cw, vh / ch])
    return (np.asarray(boxes, dtype=np.float64) * scale).astype(np.int64)


def assign_levels(view_boxes: np.ndarray, ids: np.ndarray, aware_range: Sequence[int],
                  unused: int) -> np.ndarray:
    """Scale-aware level ids (``assign_bboxs_to_feature_map``), a vector of length P*K.

    ``view_boxes`` are integer boxes in view pixels. A box of size
    ``s = sqrt((x2 - x1 + 1) (y2 - y1 + 1))`` goes to the first level ``l`` with
    ``s <= aware_range[l]``; slot ``l * K + k`` holds box ``k``'s id at its level and ``unused``
    everywhere else (a box larger than the last bound gets no level at all).
    """
    num_levels, k = len(aware_range), len(view_boxes)
    out = np.full((num_levels, k), unused, dtype=np.int64)
    w, h = box_sizes(np.asarray(view_boxes, dtype=np.float64))
    for i in range(k):
        size = math.sqrt(w[i] * h[i])
        for level, bound in enumerate(aware_range):
            if size <= bound:
                out[level, i] = ids[i]
                break
    return out.reshape(-1)


def correspondence(ids_a: np.ndarray, ids_b: np.ndarray) -> np.ndarray:
    """The (len_a, len_b) 0/1 matrix ``C[i, j] = ids_a[i] == ids_b[j]``
    (``get_aware_correspondence_matrix``; with level ids it matches across levels)."""
    return (np.asarray(ids_a)[:, None] == np.asarray(ids_b)[None, :]).astype(np.float32)


def normalise(boxes: np.ndarray, crop_hw: Tuple[int, int]) -> np.ndarray:
    """Crop pixels -> [0, 1] by the crop's width and height (``bboxs_to_tensor``: x / w)."""
    ch, cw = crop_hw
    return np.asarray(boxes, dtype=np.float64) / np.array([cw, ch, cw, ch])


def hflip_normalised(boxes: np.ndarray) -> np.ndarray:
    """Mirror normalised boxes: ``x1 <- 1 - x2``, ``x2 <- 1 - x1`` (y unchanged)."""
    out = np.array(boxes, copy=True)
    out[..., 0] = 1.0 - boxes[..., 2]
    out[..., 2] = 1.0 - boxes[..., 0]
    return out


def clip_to_image(boxes: np.ndarray, height: int,
                  width: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sanitise proposals against an image: clip into ``[0, W-1] x [0, H-1]``.

    Returns the clipped boxes, a mask of the boxes kept (finite and still at least one pixel
    wide and high after clipping) and a mask of the kept boxes that clipping changed.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    finite = np.isfinite(boxes).all(axis=1)
    lo = np.zeros(4)
    hi = np.array([width - 1, height - 1, width - 1, height - 1], dtype=np.float64)
    clipped = np.clip(np.where(finite[:, None], boxes, 0), lo, hi)
    keep = finite & (clipped[:, 2] >= clipped[:, 0]) & (clipped[:, 3] >= clipped[:, 1])
    keep &= (boxes[:, 2] >= 0) & (boxes[:, 3] >= 0) & (boxes[:, 0] <= width - 1) & (
        boxes[:, 1] <= height - 1)
    changed = keep & (np.abs(clipped - np.where(finite[:, None], boxes, 0)) > 0).any(axis=1)
    return clipped, keep, changed


def cutout_square(box_px: np.ndarray,
                  area_ratio: Tuple[float, float],
                  height: int,
                  width: int,
                  rng=None) -> Tuple[int, int, int, int]:
    """One in-box cutout square (``RandomCutoutInBbox``), as inclusive pixel rows/cols.

    ``box_px`` is a box in view pixels (normalised box times the view size). The square has
    side ``s = round(sqrt(U(area_ratio) * box_area))`` with the +1 box area, is centred at an
    integer point drawn uniformly inside the box and spans ``centre -/+ s // 2`` (so
    ``2 * (s // 2) + 1`` pixels, as the official slicing), clipped to the image.
    The official code draws the centre with ``random.randint`` on float coordinates, which
    Python rejects; here the box corners are truncated to pixel indices (inside the image) first.
    Returns ``(y1, y2, x1, x2)`` inclusive.
    """
    rng = _rng(rng)
    x1, y1, x2, y2 = (float(v) for v in box_px)
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    side = int(round(math.sqrt(rng.uniform(*area_ratio) * area)))
    ix1, ix2 = (min(max(int(v), 0), width - 1) for v in (x1, x2))
    iy1, iy2 = (min(max(int(v), 0), height - 1) for v in (y1, y2))
    cx = int(rng.randint(ix1, ix2 + 1))
    cy = int(rng.randint(iy1, iy2 + 1))
    half = side // 2
    y1, y2 = max(cy - half, 0), min(cy + half, height - 1)
    x1, x2 = max(cx - half, 0), min(cx + half, width - 1)
    return y1, y2, x1, x2
