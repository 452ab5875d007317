"""Label matrices of the VOC07 SVM benchmark and the low-shot samples drawn from them.

A label matrix has one row per image and one column per class with the values of the FAIR
benchmark's ``create_voc_data_files.py``: 1 = the class is present (a non-difficult object),
0 = absent, -1 = ignore (only "difficult" objects of the class).
"""
from typing import Sequence

import numpy as np

from .metrics import IGNORE

POSITIVE, NEGATIVE = 1, 0


def labels_from_data_info(info: dict, num_classes: int, source: str = 'dataset') -> np.ndarray:
    """One row of the label matrix from an mmpretrain data info.

    ``gt_label`` is a class index (single-label ``CustomDataset``: a one-hot row) or a list of
    indices (multi-label ``VOC``); ``gt_label_difficult`` (``VOC``) lists the classes seen only on
    difficult objects, which become -1 unless the class is also present.
    """
    row = np.full(num_classes, NEGATIVE, dtype=np.int8)
    where = f'{source}: image {info.get("img_path", info.get("sample_idx", "?"))}'
    if 'gt_label' not in info or info['gt_label'] is None:
        raise ValueError(f'{where} has no gt_label; the SVM benchmark needs labelled images')

    def _indices(value, key):
        values = np.asarray(value, dtype=np.int64).ravel()
        for v in values:
            if not 0 <= v < num_classes:
                raise ValueError(f'{where}: {key} {int(v)} is outside [0, {num_classes})')
        return [int(v) for v in values]

    positives = _indices(info['gt_label'], 'gt_label')
    for c in _indices(info.get('gt_label_difficult') or [], 'gt_label_difficult'):
        row[c] = IGNORE
    row[positives] = POSITIVE
    return row


def label_matrix(dataset, source: str = 'dataset') -> np.ndarray:
    """``(N, C)`` int8 label matrix of an mmpretrain dataset, read from its annotations only."""
    classes = dataset.metainfo.get('classes')
    if not classes:
        raise ValueError(f'{source} has no class names in its metainfo (pass classes=...)')
    return np.stack([
        labels_from_data_info(dataset.get_data_info(i), len(classes), source)
        for i in range(len(dataset))
    ]) if len(dataset) else np.zeros((0, len(classes)), np.int8)


def sample_low_shot(targets: np.ndarray,
                    k: int,
                    seed: Sequence[int],
                    class_names: Sequence[str] = None) -> np.ndarray:
    """One low-shot training sample: ``k`` positives and ``(C - 1) * k`` negatives per class.

    As the FAIR benchmark's ``create_voc_low_shot_challenge_samples.py``: every class column is
    sampled on its own, without replacement, among the images labelled 1 (positives) and 0
    (negatives) of that class; all other entries become -1 (not used for this class), so
    difficult images are never drawn. ``seed`` feeds ``numpy.random.default_rng``; the benchmark
    itself used unseeded ``random.sample`` once when the data was prepared.
    """
    targets = np.asarray(targets)
    if targets.ndim != 2:
        raise ValueError(f'targets must be (images, classes), got shape {targets.shape}')
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    num_classes = targets.shape[1]
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    rng = np.random.default_rng(seed)
    out = np.full(targets.shape, IGNORE, dtype=np.int8)
    for symbol, count in ((POSITIVE, k), (NEGATIVE, (num_classes - 1) * k)):
        for c in range(num_classes):
            pool = np.flatnonzero(targets[:, c] == symbol)
            if len(pool) < count:
                kind = 'positive' if symbol == POSITIVE else 'negative'
                raise ValueError(f'low-shot k={k}: class {names[c]!r} has {len(pool)} {kind} '
                                 f'training images, {count} are needed; use smaller k values')
            out[rng.choice(pool, size=count, replace=False), c] = symbol
    return out


def check_low_shot_feasible(targets: np.ndarray, ks: Sequence[int],
                            class_names: Sequence[str]) -> None:
    """Fail before any training if some ``k`` cannot be sampled for some class."""
    targets = np.asarray(targets)
    num_classes = targets.shape[1]
    num_pos = (targets == POSITIVE).sum(0)
    num_neg = (targets == NEGATIVE).sum(0)
    for k in ks:
        bad = [(name, int(p), int(n)) for name, p, n in zip(class_names, num_pos, num_neg)
               if p < k or n < (num_classes - 1) * k]
        if bad:
            detail = ', '.join(f'{name!r} ({p} pos, {n} neg)' for name, p, n in bad[:5])
            raise ValueError(
                f'low-shot k={k} needs {k} positive and {(num_classes - 1) * k} negative '
                f'training images per class; too few for {len(bad)} class(es): {detail}')
