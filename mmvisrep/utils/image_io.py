"""Image decoding shared by the offline tools (selective search, ORL stage 2).

One place for "decode like mmpretrain's ``LoadImageFromFile`` (OpenCV via mmcv), and name the
file when that fails", so that proposals and RoI crops see the very same pixels.
"""
from typing import Type

import numpy as np


def read_rgb(path: str, error: Type[Exception] = RuntimeError, ignore_exif: bool = False):
    """RGB uint8 ``H x W x 3`` image of ``path``, decoded by mmcv's OpenCV backend.

    EXIF orientation is applied (mmpretrain's default) unless ``ignore_exif``. A missing,
    unreadable or undecodable file raises ``error`` with a message naming it.
    """
    import mmcv
    from mmengine.fileio import get
    try:
        content = get(path)
    except FileNotFoundError:
        raise error(f'image file not found: {path}') from None
    except OSError as err:
        raise error(f'cannot read {path}: {err}') from None
    flag = 'color_ignore_orientation' if ignore_exif else 'color'
    try:
        img: np.ndarray = mmcv.imfrombytes(content, flag=flag, channel_order='rgb', backend='cv2')
    except Exception as err:  # cv2 raises cv2.error (or returns None) for broken bytes
        raise error(f'cannot decode image {path}: {err}') from None
    if img is None:
        raise error(f'cannot decode image {path} ({len(content)} bytes)')
    return img
