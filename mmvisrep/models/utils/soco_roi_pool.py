"""RoIAlign of normalised boxes on every feature level, as SoCo pools its proposals.

SoCo pools *every* box at *every* level (P2..P5, or C4) and lets the id correspondence pick the
assigned level later (spec 1.4). Boxes arrive normalised to [0, 1] in their view; the official
code multiplies them by each map's width/height and calls RoIAlign with ``spatial_scale=1``
(``contrast/models/box_util.py``). This module reproduces that on mmcv's RoIAlign.
"""
from typing import List, Sequence

import torch
from mmcv.ops import roi_align


def normalized_boxes_to_rois(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, K, 4) boxes in [0, 1] xyxy -> (N*K, 5) RoIs ``[batch_index, x1, y1, x2, y2]``.

    Coordinates are scaled by the feature map's ``width`` / ``height``; RoI ``n*K + k`` is box
    ``k`` of image ``n``.
    """
    if boxes.dim() != 3 or boxes.size(-1) != 4:
        raise ValueError(f'expected boxes of shape (N, K, 4), got {tuple(boxes.shape)}')
    num_imgs, num_boxes = boxes.shape[:2]
    scale = boxes.new_tensor([width, height, width, height])
    index = torch.arange(num_imgs, device=boxes.device, dtype=boxes.dtype)
    index = index[:, None, None].expand(num_imgs, num_boxes, 1)
    return torch.cat([index, boxes * scale], dim=-1).reshape(num_imgs * num_boxes, 5)


def multilevel_roi_align(feats: Sequence[torch.Tensor],
                         boxes: torch.Tensor,
                         output_size: int = 7,
                         sampling_ratio: int = 0,
                         aligned: bool = True) -> List[torch.Tensor]:
    """Pool all boxes at all levels: one RoIAlign call per level.

    Args:
        feats (Sequence[Tensor]): L feature maps (N, C, H_l, W_l).
        boxes (Tensor): (N, K, 4) normalised xyxy boxes.
        output_size (int): RoI output side (7 for FPN, 14 for C4).
        sampling_ratio (int): samples per bin, 0 = adaptive (torchvision's -1, the official).
        aligned (bool): half-pixel aligned RoIAlign (the official ``--aligned``).

    Returns:
        list[Tensor]: per level, (N*K, C, output_size, output_size) in box order ``n*K + k``.
    """
    outs = []
    for feat in feats:
        if feat.size(0) != boxes.size(0):
            raise ValueError(f'{feat.size(0)} feature maps but boxes for {boxes.size(0)} images')
        height, width = feat.shape[-2:]
        rois = normalized_boxes_to_rois(boxes, height, width)
        # the official casts features to the boxes' dtype (fp32 under AMP); mmcv's CPU kernel
        # needs contiguous NCHW memory (a channels-last map would be misread without an error)
        outs.append(
            roi_align(
                feat.to(rois.dtype).contiguous(), rois, (output_size, output_size), 1.0,
                sampling_ratio, 'avg', aligned))
    return outs
