"""Pixel-statistics reference for the object probes: what colour alone tells about a box.

Each object is described by a joint RGB histogram of the pixels inside its box (normalised), plus
the per-channel mean and standard deviation. A probe that this reference solves does not need
learned features; the toy benchmark reports it next to every method.
"""
from typing import Sequence

import numpy as np

from .objects import ImageObjects, read_image


def box_colour_features(img_rgb: np.ndarray, box: np.ndarray, bins: int = 4) -> np.ndarray:
    """``bins**3 + 6`` features of the pixels of ``img_rgb`` (H, W, 3 uint8) inside ``box``."""
    h, w = img_rgb.shape[:2]
    x1, y1 = int(np.floor(max(box[0], 0))), int(np.floor(max(box[1], 0)))
    x2, y2 = int(np.ceil(min(box[2], w))), int(np.ceil(min(box[3], h)))
    pixels = img_rgb[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)].reshape(-1, 3).astype(np.int64)
    q = pixels * bins // 256
    hist = np.bincount((q[:, 0] * bins + q[:, 1]) * bins + q[:, 2], minlength=bins**3)
    hist = hist / max(len(pixels), 1)
    stats = np.concatenate([pixels.mean(0), pixels.std(0)]) / 255.0
    return np.concatenate([hist, stats]).astype(np.float32)


def extract_pixel_features(records: Sequence[ImageObjects], bins: int = 4):
    """``(features (N, bins**3 + 6), labels (N,))`` for every object of ``records``."""
    feats, labels = [], []
    for rec in records:
        img = read_image(rec.path)[..., ::-1]
        feats.extend(box_colour_features(img, b, bins) for b in rec.boxes)
        labels.append(rec.labels)
    return np.stack(feats), np.concatenate(labels)
