"""Selective search backends: a numba port of SoCo's official generator, and OpenCV's ximgproc.

* ``backend='numba'`` (default, ``method='soco'``): the official pure-Python/scikit-image
  generator (AlpacaDB ``selectivesearch`` with SoCo's texture range), reimplemented in
  ``felzenszwalb.py`` and ``hierarchical_grouping.py``; same boxes, same order, 20x faster.
* ``backend='opencv', method='soco'``: OpenCV's C++ selective search configured like the
  official (one Felzenszwalb segmentation, one colour space, colour + texture + size + fill);
  different segmentation graph and features, see docs/proposals.md.
* ``backend='opencv', method='fast'|'quality'``: OpenCV's ``switchToSelectiveSearchFast`` /
  ``Quality`` presets on the BGR image, as ORL's stage 2 runs them (``--preset orl``).

Boxes are ``[x, y, w, h]``. The ``soco`` methods use SoCo's width ``max_x - min_x``; the OpenCV
presets keep OpenCV's ``max_x - min_x + 1`` and its output order, which is what ORL stores.
"""
import ctypes
import ctypes.util
import time
from typing import Optional, Sequence

import cv2
import numpy as np

# Segmentation parameters of the official generator (generate_imagenet_ss_proposals.py).
SOCO_SS_PARAMS = dict(scale=300, sigma=0.9, min_size=100)
# Defaults of OpenCV's switchToSelectiveSearchFast/Quality, which ORL calls without arguments.
OPENCV_PRESET_PARAMS = dict(base_k=150, inc_k=150, sigma=0.8)
BACKENDS = ('numba', 'opencv')
METHODS = ('soco', 'fast', 'quality')
# One image per run, in one colour space. The official segments the RGB image.
COLOR_SPACES = ('rgb', 'hsv', 'lab')
# Similarities the official sums with equal weights (colour, texture, size, fill).
STRATEGIES = ('color', 'texture', 'size', 'fill')
NEIGHBOURS = ('bbox', 'adjacent')


class ProposalError(RuntimeError):
    """An image that cannot be turned into proposals (unreadable, wrong shape, ...)."""


def check_image(img) -> np.ndarray:
    """``img`` if it is an HxWx3 uint8 array of at least 2x2 pixels, else ProposalError."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 \
            or img.shape[2] != 3:
        desc = f'{img.dtype} {img.shape}' if isinstance(img, np.ndarray) else type(img).__name__
        raise ProposalError(f'selective search needs an HxWx3 uint8 RGB image, got {desc}')
    if min(img.shape[:2]) < 2:
        raise ProposalError(f'selective search needs an image of at least 2x2 pixels, '
                            f'got {img.shape[1]}x{img.shape[0]}')
    return np.ascontiguousarray(img)


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


# --------------------------------------------------------------------------- numba backend
def selective_search_numba(img: np.ndarray,
                           scale: float = 300,
                           sigma: float = 0.9,
                           min_size: int = 100,
                           neighbours: str = 'bbox',
                           dedupe: bool = False) -> np.ndarray:
    """SoCo's official selective search: int64 ``(N, 4)`` ``x, y, w, h`` with ``w = max - min``.

    Rows come in the official order (the Felzenszwalb segments by first pixel, then one box
    per merge), duplicates included. ``neighbours='adjacent'`` pairs regions that touch instead
    of the official box-corner rule; ``dedupe`` keeps only the first of equal boxes.
    """
    from .felzenszwalb import felzenszwalb
    from .hierarchical_grouping import group_regions, region_boxes
    check_ss_params(scale, sigma, min_size)
    if neighbours not in NEIGHBOURS:
        raise ValueError(f'selective search: neighbours must be one of {NEIGHBOURS}, '
                         f'got {neighbours!r}')
    img = check_image(img)
    labels, count = felzenszwalb(img, scale, sigma, min_size)
    boxes, sizes, hists, pairs = region_boxes(labels, count, img, neighbours)
    boxes, _ = group_regions(boxes, sizes, hists, pairs, img.shape[0] * img.shape[1])
    boxes[:, 2:] -= boxes[:, :2]
    if dedupe:
        _, first = np.unique(boxes, axis=0, return_index=True)
        boxes = boxes[np.sort(first)]
    return boxes


def warmup_numba() -> float:
    """Compile (or load from numba's on-disk cache) the numba backend; seconds it took."""
    tic = time.perf_counter()
    img = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    for neighbours in NEIGHBOURS:
        selective_search_numba(img, min_size=10, neighbours=neighbours, dedupe=True)
    return time.perf_counter() - tic


# --------------------------------------------------------------------------- OpenCV backend
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


def selective_search_opencv(img: np.ndarray,
                            scale: float = 300,
                            sigma: float = 0.9,
                            min_size: int = 100,
                            color_space: str = 'rgb',
                            strategies: Sequence[str] = STRATEGIES) -> np.ndarray:
    """OpenCV selective search configured like SoCo's: int64 ``(N, 4)`` ``x, y, w, h``.

    ``w = max_x - min_x`` and ``h = max_y - min_y`` (SoCo's convention: the last pixel column and
    row are not counted), so a region covering pixels 0..31 has ``w = 31``. Rows are unique and
    sorted (x, y, w, h) so that results do not depend on OpenCV's random region ranking.
    """
    check_ss_params(scale, sigma, min_size, color_space, strategies)
    img = check_image(img)
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


_LIBC = None


def seed_c_rand(seed: int) -> bool:
    """``srand(seed)`` of the C library; False where it cannot be reached.

    OpenCV ranks its selective-search regions by ``level * rand()``, so its output order (and
    which box comes first among duplicates) depends on the C ``rand`` state of the process.
    """
    global _LIBC
    if _LIBC is None:
        name = ctypes.util.find_library('c')
        try:
            _LIBC = ctypes.CDLL(name) if name else False
        except OSError:
            _LIBC = False
    if not _LIBC or not hasattr(_LIBC, 'srand'):
        return False
    _LIBC.srand(ctypes.c_uint(seed & 0xFFFFFFFF))
    return True


def selective_search_opencv_preset(img: np.ndarray,
                                   method: str = 'fast',
                                   base_k: int = 150,
                                   inc_k: int = 150,
                                   sigma: float = 0.8,
                                   seed: Optional[int] = 0) -> np.ndarray:
    """OpenCV's ``switchToSelectiveSearchFast``/``Quality`` on an RGB image, as ORL runs it.

    The image is converted to BGR (ORL's ``cv2.cvtColor(np.array(img), cv2.COLOR_RGB2BGR)``).
    Returns OpenCV's rectangles unchanged: int64 ``(N, 4)`` ``x, y, w, h`` with
    ``w = max_x - min_x + 1``, in OpenCV's order (ranked by ``level * rand()``, duplicates
    removed). ``seed`` seeds C ``rand`` before the image so that the order is reproducible
    (None leaves it alone, as ORL did).
    """
    if method not in ('fast', 'quality'):
        raise ValueError(f"OpenCV preset method must be 'fast' or 'quality', got {method!r}")
    if int(base_k) != base_k or base_k <= 0 or int(inc_k) != inc_k or inc_k < 0:
        raise ValueError(f'OpenCV preset: base_k must be an integer > 0 and inc_k an integer '
                         f'>= 0, got {base_k}, {inc_k}')
    if not sigma >= 0:
        raise ValueError(f'OpenCV preset: sigma must be >= 0, got {sigma}')
    img = check_image(img)
    search = _segmentation_module().createSelectiveSearchSegmentation()
    search.setBaseImage(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    switch = search.switchToSelectiveSearchFast if method == 'fast' else \
        search.switchToSelectiveSearchQuality
    switch(int(base_k), int(inc_k), float(sigma))
    if seed is not None:
        seed_c_rand(int(seed))
    return np.asarray(search.process(), dtype=np.int64).reshape(-1, 4)


# --------------------------------------------------------------------------- dispatch
def selective_search(img: np.ndarray,
                     backend: str = 'numba',
                     method: str = 'soco',
                     **params) -> np.ndarray:
    """Boxes of one RGB uint8 image with ``backend``/``method`` (see the module docstring).

    ``params`` are those of ``selective_search_numba``, ``selective_search_opencv`` or
    ``selective_search_opencv_preset``, e.g. the dict ``runner.make_params`` builds.
    """
    if backend not in BACKENDS:
        raise ValueError(f'selective search: backend must be one of {BACKENDS}, got {backend!r}')
    if method not in METHODS:
        raise ValueError(f'selective search: method must be one of {METHODS}, got {method!r}')
    if backend == 'numba':
        if method != 'soco':
            raise ValueError(f"selective search: method {method!r} exists only on the opencv "
                             "backend (OpenCV's presets); the numba backend runs 'soco'")
        return selective_search_numba(img, **params)
    if method == 'soco':
        return selective_search_opencv(img, **params)
    return selective_search_opencv_preset(img, method, **params)
