"""Selective search with SoCo's parameters on OpenCV's ``cv2.ximgproc.segmentation``.

SoCo generates its proposals with a pure-Python port of the AlpacaDB ``selectivesearch``
package (Felzenszwalb scale 300, sigma 0.9, min_size 100, one colour space, the colour + texture
+ size + fill similarities). Here the same configuration runs on OpenCV's C++ implementation;
the remaining differences are listed in docs/proposals.md.
"""
from typing import Sequence

import cv2
import numpy as np

# Segmentation parameters of the official generator (generate_imagenet_ss_proposals.py).
SOCO_SS_PARAMS = dict(scale=300, sigma=0.9, min_size=100)
# One image per run, in one colour space. The official segments the RGB image.
COLOR_SPACES = ('rgb', 'hsv', 'lab')
# Similarities the official sums with equal weights (colour, texture, size, fill).
STRATEGIES = ('color', 'texture', 'size', 'fill')


class ProposalError(RuntimeError):
    """An image that cannot be turned into proposals (unreadable, wrong shape, ...)."""


def _segmentation_module():
    """OpenCV's ximgproc segmentation module; fail clearly when opencv-contrib is missing."""
    ximgproc = getattr(cv2, 'ximgproc', None)
    if ximgproc is None or not hasattr(ximgproc, 'segmentation'):
        raise ImportError('cv2.ximgproc.segmentation is not available: install '
                          'opencv-contrib-python(-headless) instead of opencv-python')
    return ximgproc.segmentation


def _make_strategy(seg, name):
    """One OpenCV similarity strategy by name."""
    factories = dict(
        color=seg.createSelectiveSearchSegmentationStrategyColor,
        texture=seg.createSelectiveSearchSegmentationStrategyTexture,
        size=seg.createSelectiveSearchSegmentationStrategySize,
        fill=seg.createSelectiveSearchSegmentationStrategyFill)
    return factories[name]()


def check_ss_params(scale, sigma, min_size, color_space='rgb', strategies=STRATEGIES):
    """Validate the selective-search parameters; raise ValueError naming the bad one."""
    if not scale > 0:
        raise ValueError(f'selective search: scale must be > 0, got {scale}')
    if not sigma >= 0:
        raise ValueError(f'selective search: sigma must be >= 0, got {sigma}')
    if int(min_size) != min_size or min_size < 0:
        raise ValueError(f'selective search: min_size must be an integer >= 0, got {min_size}')
    if color_space not in COLOR_SPACES:
        raise ValueError(f'selective search: color_space must be one of {COLOR_SPACES}, '
                         f'got {color_space!r}')
    strategies = tuple(strategies)
    bad = [s for s in strategies if s not in STRATEGIES]
    if not strategies or bad or len(set(strategies)) != len(strategies):
        raise ValueError(f'selective search: strategies must be distinct names among '
                         f'{STRATEGIES}, got {list(strategies)}')


def selective_search(img: np.ndarray,
                     scale: float = 300,
                     sigma: float = 0.9,
                     min_size: int = 100,
                     color_space: str = 'rgb',
                     strategies: Sequence[str] = STRATEGIES) -> np.ndarray:
    """Selective-search boxes of an RGB uint8 image as an int64 ``(N, 4)`` array of ``x, y, w, h``.

    ``w = max_x - min_x`` and ``h = max_y - min_y`` (SoCo's convention: the last pixel column and
    row are not counted), so a region covering pixels 0..31 has ``w = 31``. Rows are unique and
    sorted (x, y, w, h) so that results do not depend on OpenCV's random region ranking.
    """
    check_ss_params(scale, sigma, min_size, color_space, strategies)
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 \
            or img.shape[2] != 3:
        desc = f'{img.dtype} {img.shape}' if isinstance(img, np.ndarray) else type(img).__name__
        raise ProposalError(f'selective search needs an HxWx3 uint8 RGB image, got {desc}')
    if min(img.shape[:2]) < 2:
        raise ProposalError(f'selective search needs an image of at least 2x2 pixels, '
                            f'got {img.shape[1]}x{img.shape[0]}')
    seg = _segmentation_module()
    if color_space == 'hsv':
        img = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    elif color_space == 'lab':
        img = cv2.cvtColor(img, cv2.COLOR_RGB2Lab)
    search = seg.createSelectiveSearchSegmentation()
    search.addImage(np.ascontiguousarray(img))
    # Felzenszwalb with the official k (skimage's `scale`), sigma and min_size.
    search.addGraphSegmentation(
        seg.createGraphSegmentation(sigma=float(sigma), k=float(scale), min_size=int(min_size)))
    # One strategy: the equal-weight mean of the requested similarities (the official sums
    # them, which ranks merges identically).
    search.addStrategy(
        seg.createSelectiveSearchSegmentationStrategyMultiple(
            *[_make_strategy(seg, name) for name in strategies]))
    rects = np.asarray(search.process(), dtype=np.int64).reshape(-1, 4)
    # OpenCV's boundingRect width is max_x - min_x + 1; SoCo's is max_x - min_x.
    rects[:, 2:] -= 1
    order = np.lexsort((rects[:, 3], rects[:, 2], rects[:, 1], rects[:, 0]))
    return rects[order]
