"""Average precision of the VOC07 SVM benchmark (FAIR self-supervision benchmark, mmselfsup).

The benchmark scores each class by the area under the *interpolated* precision-recall curve:
precision is replaced by its running maximum from the right (the PASCAL VOC 2010+ "all points"
rule), then summed over the recall steps. This is not the 11-point VOC07 AP and not scikit-learn's
step-wise ``average_precision_score`` (which the benchmark uses only to pick the SVM cost by
cross-validation). Images labelled ``-1`` (VOC "difficult") are left out.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

IGNORE = -1  # VOC "difficult": neither positive nor negative for this class


def precision_recall(scores: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each image, images ranked by decreasing score.

    ``labels`` > 0 is a positive; everything else a negative (drop ignored images first).
    Ties keep the input order (a stable sort), so the result is deterministic.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positive = np.asarray(labels).ravel() > 0
    if scores.shape != positive.shape:
        raise ValueError(f'scores ({scores.shape[0]}) and labels ({positive.shape[0]}) differ in '
                         'length')
    order = np.argsort(-scores, kind='stable')
    tp = np.cumsum(positive[order], dtype=np.float64)
    fp = np.cumsum(~positive[order], dtype=np.float64)
    precision = tp / np.maximum(tp + fp, 1.0)
    num_pos = positive.sum()
    recall = tp / num_pos if num_pos else np.full_like(tp, np.nan)
    return precision, recall


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the interpolated precision-recall curve (``calculate_ap`` of the benchmark).

    The curve gets the end points (recall 0, precision 0) and (recall 1, precision 0); precision
    is made non-increasing by a right-to-left running maximum; the area is the sum of precision
    times the recall increment at every point where recall changes.
    """
    mrec = np.concatenate([[0.0], np.asarray(recall, np.float64), [1.0]])
    mpre = np.concatenate([[0.0], np.asarray(precision, np.float64), [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps]))


def voc07_svm_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    """AP of one class: ``labels`` in {1 (present), 0 (absent), -1 (ignore/difficult)}.

    Ignored images are removed before ranking. Returns ``nan`` when no positive remains (the AP
    is undefined; callers exclude the class from the mean and say so).
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f'scores ({scores.shape[0]}) and labels ({labels.shape[0]}) differ in '
                         'length')
    keep = labels != IGNORE
    if not np.any(labels[keep] > 0):
        return float('nan')
    precision, recall = precision_recall(scores[keep], labels[keep])
    return interpolated_ap(precision, recall)


def mean_ap(aps: Sequence[float],
            class_names: Optional[Sequence[str]] = None) -> Tuple[float, list]:
    """Mean of the defined per-class APs and the names of the classes left out (``nan`` AP)."""
    aps = np.asarray(aps, dtype=np.float64)
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(aps))]
    missing = [names[i] for i in np.flatnonzero(np.isnan(aps))]
    if missing and len(missing) == len(aps):
        return float('nan'), missing
    return float(np.nanmean(aps)), missing
