"""Fixes for upstream code that breaks on the stack we pin (numpy 2, torch >= 2.6).

Each fix is applied only when a probe shows the upstream bug, so a fixed upstream release
makes it a no-op.
"""
from typing import Optional

import cv2
import numpy as np
from PIL import Image


def _hue_shift(hue_factor: float) -> np.uint8:
    """The uint8 hue offset mmcv means: ``hue_factor * 255`` wrapped into [0, 256)."""
    # numpy 1 wrapped ``np.uint8(-14.)`` to 242; numpy 2 raises OverflowError instead.
    return np.uint8(int(hue_factor * 255) % 256)


def adjust_hue(img: np.ndarray, hue_factor: float, backend: Optional[str] = None) -> np.ndarray:
    """``mmcv.adjust_hue`` with the numpy-2-safe hue offset; same arguments and results."""
    import mmcv.image.photometric as photometric
    if backend is None:
        backend = photometric.imread_backend
    if backend not in ['cv2', 'pillow']:
        raise ValueError(f'backend: {backend} is not supported.'
                         f"Supported backends are 'cv2', 'pillow'")
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and (img.ndim in {2, 3})):
        raise TypeError('img should be ndarray with dim=[2 or 3].')

    if backend == 'pillow':
        assert img.dtype == np.uint8, 'Pillow backend only support uint8 type'
        pil_image = Image.fromarray(img[..., ::-1], mode='RGB')
        h, s, v = pil_image.convert('HSV').split()
        np_h = np.array(h, dtype=np.uint8)
        with np.errstate(over='ignore'):
            np_h += _hue_shift(hue_factor)
        h = Image.fromarray(np_h, 'L')
        pil_image = Image.merge('HSV', (h, s, v)).convert('RGB')
        return np.array(pil_image, dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    hsv_img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    h, s, v = cv2.split(hsv_img)
    h = h.astype(np.uint8)
    with np.errstate(over='ignore'):
        h += _hue_shift(hue_factor)
    return cv2.cvtColor(cv2.merge([h, s, v]), cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def _mmcv_adjust_hue_is_broken() -> bool:
    import mmcv
    try:
        mmcv.adjust_hue(np.zeros((2, 2, 3), np.uint8), -0.1, backend='pillow')
    except OverflowError:
        return True
    return False


def patch_mmcv_adjust_hue() -> bool:
    """Swap in :func:`adjust_hue` where mmcv's fails on negative hue under numpy 2.

    mmcv 2.1.0 computes ``np.uint8(hue_factor * 255)``, which numpy 2 refuses for negative
    factors, so mmpretrain's ``ColorJitter(hue=...)`` (BYOL, SoCo, ORL views) crashes
    half the time. Returns whether the patch was applied.
    """
    if not _mmcv_adjust_hue_is_broken():
        return False
    import mmcv
    import mmcv.image
    import mmcv.image.photometric
    for module in (mmcv, mmcv.image, mmcv.image.photometric):
        module.adjust_hue = adjust_hue
    return True
