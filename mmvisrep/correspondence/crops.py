"""Image preparation of ORL Stage 2: RoI crops resized to a square, and Resize + CenterCrop.

``crop_resize`` reproduces ``torchvision.transforms.functional.resized_crop`` (bilinear,
antialiased, zero padding outside the image, uint8 results rounded) for many boxes of one image
and stacks them into one batch, so every RoI of an image goes through the network in one pass.
The official code crops PIL images one at a time; torchvision's tensor path is its documented
equivalent up to the PIL/torch resampling difference (a grey level at most, mostly none).
"""
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF


def to_chw_tensor(img: np.ndarray, device=None) -> torch.Tensor:
    """``H x W x 3`` uint8 array -> ``3 x H x W`` uint8 tensor (on ``device``)."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'expected an H x W x 3 image, got shape {img.shape}')
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).to(device)


def crop_boxes_int(boxes: np.ndarray) -> np.ndarray:
    """Integer ``[x, y, w, h]`` for cropping: corners rounded (SS boxes are already integers)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1 = np.round(boxes[:, 0]), np.round(boxes[:, 1])
    x2, y2 = np.round(boxes[:, 0] + boxes[:, 2]), np.round(boxes[:, 1] + boxes[:, 3])
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(np.int64)


def crop_resize(img: torch.Tensor,
                boxes: Sequence,
                size: int = 224,
                antialias: bool = True) -> torch.Tensor:
    """Crops of the ``[x, y, w, h]`` ``boxes`` of ``img`` (``C x H x W``), each resized to
    ``size x size``, as one float ``N x C x size x size`` batch.

    Equals ``stack([resized_crop(img, y, x, h, w, [size, size]) for x, y, w, h in boxes])``
    (cast to float) for integer boxes; a uint8 image gives values rounded to integers as there.
    """
    if img.ndim != 3:
        raise ValueError(f'expected a C x H x W image tensor, got shape {tuple(img.shape)}')
    boxes = crop_boxes_int(boxes)
    if len(boxes) == 0:
        raise ValueError('no boxes to crop')
    bad = (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
    if bad.any():
        raise ValueError(f'cannot crop empty boxes {boxes[bad].tolist()} (w or h <= 0)')
    is_uint8 = img.dtype == torch.uint8
    src = img.float() if not img.is_floating_point() else img
    out = torch.empty((len(boxes), img.shape[0], size, size), dtype=src.dtype, device=img.device)
    for i, (x, y, w, h) in enumerate(boxes.tolist()):
        patch = TF.crop(src, y, x, h, w)  # zero-pads where the box leaves the image
        out[i] = F.interpolate(
            patch[None],
            size=(size, size),
            mode='bilinear',
            align_corners=False,
            antialias=antialias)[0]
    if is_uint8:
        out = out.round_()
    return out


def resize_center_crop(img: torch.Tensor, resize: int = 256, crop: int = 224) -> torch.Tensor:
    """``Resize(resize)`` (shorter side, bilinear, antialiased) then ``CenterCrop(crop)``.

    The evaluation transform of the official kNN notebook, on a ``C x H x W`` tensor; a uint8
    input stays uint8 (rounded, as PIL's output is).
    """
    img = TF.resize(img, [resize], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.center_crop(img, [crop, crop])
