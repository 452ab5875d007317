"""Detector pseudo-label files for the SPL loss (``tools/data/extract_pseudo_labels.py``).

One JSON object per image set (see docs/pseudo_labels.md)::

    {"info": {"config": ..., "checkpoint": {"name", "bytes"}, "score_thr": 0.2,
              "min_labels": 10, "max_labels": 100, "classes": [...], "num_images": N,
              "failed": [{"key": ..., "error": ...}, ...]},
     "images": {key: {"labels": [int, ...], "scores": [float, ...],
                      "boxes": [[x, y, w, h], ...]}, ...}}

``key`` is the image path relative to the image folder (the COCO ``file_name``); entries are
sorted by descending score. SPL reads ``labels`` as ``pseudo_labels`` / ``num_pseudo_labels``
(:func:`pad_labels`); scores and boxes (original-image pixels) are kept for inspection.
"""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from mmvisrep.utils.atomic_io import atomic_write_json, load_json

INFO_KEYS = ('classes', 'score_thr', 'min_labels', 'max_labels')


def select_labels(scores: Sequence[float], score_thr: float, min_labels: int,
                  max_labels: int) -> np.ndarray:
    """Indices of the detections to keep, by descending score (ties: lower index first).

    Detections with ``score >= score_thr``; if fewer than ``min_labels``, the top
    ``min_labels`` by score whatever their score (all, if there are fewer); at most
    ``max_labels``.
    """
    if not 0 <= min_labels <= max_labels:
        raise ValueError(f'need 0 <= min_labels <= max_labels, got {min_labels}, {max_labels}')
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind='stable')
    num_above = int((scores >= score_thr).sum())
    keep = min(max(num_above, min_labels), max_labels, len(scores))
    return order[:keep]


def pad_labels(labels: Sequence[int], length: int) -> Tuple[np.ndarray, int]:
    """``(pseudo_labels, num_pseudo_labels)`` of SPL: int64 ``(length,)`` padded with -1.

    Labels beyond ``length`` are dropped (they come by descending score).
    """
    out = np.full(length, -1, dtype=np.int64)
    num = min(len(labels), length)
    out[:num] = np.asarray(labels[:num], dtype=np.int64)
    return out, num


def _check_record(key: str, rec, num_classes: int, where: str) -> None:
    if not isinstance(rec, dict):
        raise ValueError(f'{where}: image {key!r} is not an object')
    missing = [k for k in ('labels', 'scores', 'boxes') if k not in rec]
    if missing:
        raise ValueError(f'{where}: image {key!r} lacks {missing}')
    labels, scores, boxes = rec['labels'], rec['scores'], rec['boxes']
    if not (len(labels) == len(scores) == len(boxes)):
        raise ValueError(f'{where}: image {key!r} has {len(labels)} labels, {len(scores)} '
                         f'scores and {len(boxes)} boxes')
    for label in labels:
        if not isinstance(label, int) or isinstance(label, bool) or not \
                0 <= label < num_classes:
            raise ValueError(f'{where}: image {key!r} has label {label!r} outside '
                             f'[0, {num_classes})')
    for box in boxes:
        if len(box) != 4:
            raise ValueError(f'{where}: image {key!r} has box {box!r}, expected [x, y, w, h]')


def validate_pseudo_labels(data, where: str = 'pseudo-label file') -> dict:
    """Check the structure of a loaded file (``where`` names it in errors); return it."""
    if not isinstance(data, dict) or 'info' not in data or 'images' not in data:
        raise ValueError(f'{where}: expected an object with "info" and "images"')
    info = data['info']
    missing = [k for k in INFO_KEYS if k not in info]
    if missing:
        raise ValueError(f'{where}: "info" lacks {missing}')
    if not isinstance(data['images'], dict):
        raise ValueError(f'{where}: "images" must map image keys to records')
    num_classes = len(info['classes'])
    for key, rec in data['images'].items():
        _check_record(key, rec, num_classes, where)
    return data


def write_pseudo_labels(path: str, info: dict, images: Dict[str, dict]) -> str:
    """Validate and write a pseudo-label file atomically."""
    data = validate_pseudo_labels(dict(info=info, images=images), path)
    return atomic_write_json(data, path)


def read_pseudo_labels(path: str) -> dict:
    """Load and validate a pseudo-label file; errors name the file and the image."""
    return validate_pseudo_labels(load_json(path, 'pseudo-label file'), path)


def load_pseudo_labels(path: str, keys: Optional[Iterable[str]] = None) -> Dict[str, List[int]]:
    """``{key: labels}`` for ``keys`` (default: every image) of the file at ``path``.

    A key the file lacks raises a KeyError naming the key and the file (and the detector's
    error, for an image that failed to load during extraction).
    """
    data = read_pseudo_labels(path)
    images = data['images']
    if keys is None:
        return {k: rec['labels'] for k, rec in images.items()}
    failed = {f['key']: f.get('error', '') for f in data['info'].get('failed', [])}
    out = {}
    for key in keys:
        if key not in images:
            why = (f' (it failed during extraction: {failed[key]})' if key in failed else '')
            raise KeyError(f'image {key!r} has no pseudo-labels in {path}{why}')
        out[key] = images[key]['labels']
    return out
