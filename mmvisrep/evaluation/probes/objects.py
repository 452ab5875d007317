"""Ground-truth objects of a COCO instances file, RoIAlign-pooled from a frozen backbone.

The object probes classify each annotated object from features pooled inside its box: every
feature map the backbone returns is RoIAligned (mmcv, ``aligned=True``) at its own stride, the
bins are averaged (or kept), and the levels are concatenated. With ``crop`` the backbone sees
each object on its own instead, a square around its box resized to the input size, and the
whole maps are pooled: a ViT of 16 px tokens covers a 30-60 px object with only 2-4 tokens a
side, too few for its outline. The same records feed the pixel-statistics reference
(``pixel_stats.py``), so both see exactly the same objects.
"""
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch
from torch import nn


@dataclass
class ImageObjects:
    """One image and its annotated objects: boxes ``(K, 4)`` xyxy in pixels, 0-based labels."""

    path: str
    boxes: np.ndarray
    labels: np.ndarray


def load_coco_objects(ann_file: str,
                      img_dir: str,
                      num_images: Optional[int] = None,
                      min_box_size: float = 1.0) -> List[ImageObjects]:
    """Images of a COCO instances file (sorted by id, the first ``num_images`` if given) with
    their non-crowd objects; labels are category indices in the file's category-id order.

    Boxes narrower or lower than ``min_box_size`` px are dropped (RoIAlign needs an extent).
    """
    from pycocotools.coco import COCO

    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'object probe: annotation file {ann_file} does not exist')
    coco = COCO(ann_file)
    cat_ids = sorted(coco.getCatIds())
    cat_index = {c: i for i, c in enumerate(cat_ids)}
    img_ids = sorted(coco.getImgIds())
    if num_images is not None:
        if num_images > len(img_ids):
            raise ValueError(f'object probe: {ann_file} has {len(img_ids)} images, fewer than '
                             f'the {num_images} asked for')
        img_ids = img_ids[:num_images]
    records = []
    for img_id in img_ids:
        info = coco.imgs[img_id]
        boxes, labels = [], []
        for ann in coco.imgToAnns.get(img_id, []):
            x, y, w, h = ann['bbox']
            if ann.get('iscrowd', 0) or w < min_box_size or h < min_box_size:
                continue
            boxes.append((x, y, x + w, y + h))
            labels.append(cat_index[ann['category_id']])
        if boxes:
            records.append(
                ImageObjects(
                    osp.join(img_dir, info['file_name']), np.asarray(boxes, np.float32),
                    np.asarray(labels, np.int64)))
    if not records:
        raise ValueError(f'object probe: {ann_file} has no usable objects')
    return records


def read_image(path: str) -> np.ndarray:
    """BGR uint8 image, as mmcv/mmpretrain's ``LoadImageFromFile`` gives it."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'object probe: cannot read image {path}')
    return img


def roi_pool_levels(feature_maps: Sequence[torch.Tensor],
                    boxes: Sequence[torch.Tensor],
                    img_size: Sequence[int],
                    roi_size: int = 2,
                    keep_bins: bool = False) -> torch.Tensor:
    """``(K, sum C_l)`` features of all boxes: RoIAlign on each level, bins averaged (or kept,
    ``(K, sum C_l * roi_size**2)``, with ``keep_bins``), levels concatenated. ``boxes[i]`` are
    ``(K_i, 4)`` xyxy pixels of image ``i``; each level's spatial scale is its size over
    ``img_size`` (H, W)."""
    from mmcv.ops import roi_align

    rois = torch.cat([
        torch.cat([b.new_full((len(b), 1), float(i)), b.float()], 1) for i, b in enumerate(boxes)
    ])
    pooled = []
    for fmap in feature_maps:
        if fmap.dim() != 4:
            raise ValueError(
                f'object probe needs (B, C, H, W) feature maps, got {tuple(fmap.shape)}')
        scale_h = fmap.shape[2] / img_size[0]
        scale_w = fmap.shape[3] / img_size[1]
        if abs(scale_h - scale_w) > 1e-6:
            raise ValueError(f'non-square feature stride: {scale_h} vs {scale_w}')
        # mmcv's CPU kernel reads the raw memory as NCHW: a permuted view (a ViT's token map)
        # would be pooled from the wrong places without an error
        out = roi_align(fmap.float().contiguous(), rois, (roi_size, roi_size), scale_h, 0, 'avg',
                        True)
        pooled.append(out.flatten(1) if keep_bins else out.mean(dim=(2, 3)))
    return torch.cat(pooled, 1)


def crop_objects(img: np.ndarray, boxes: np.ndarray, size: int, margin: float) -> List[np.ndarray]:
    """``size`` x ``size`` crops of ``img``, one per box: a square of ``margin`` x the box's
    longer side around its centre (reflected where it leaves the image), bilinearly resized."""
    crops = []
    for x1, y1, x2, y2 in boxes:
        side = margin * max(x2 - x1, y2 - y1)
        scale = size / side
        x0 = (x1 + x2) / 2 - side / 2
        y0 = (y1 + y2) / 2 - side / 2
        # output pixel u (centre u + 0.5) samples the image at x0 + (u + 0.5) / scale; cv2's
        # indices are pixel centres, hence the half-pixel terms
        affine = np.array([[scale, 0, 0.5 * scale - 0.5 - x0 * scale],
                           [0, scale, 0.5 * scale - 0.5 - y0 * scale]], np.float64)
        crops.append(
            cv2.warpAffine(
                img,
                affine, (size, size),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT_101))
    return crops


def _batch_inputs(model: nn.Module, records: Sequence[ImageObjects], crop: Optional[dict]):
    """``(inputs, boxes)`` of a batch of records: the images and their boxes, or with ``crop``
    one input per object whose box is the whole crop."""
    if crop is None:
        imgs = [read_image(r.path) for r in records]
        boxes = [torch.from_numpy(r.boxes) for r in records]
    else:
        imgs = [c for r in records for c in crop_objects(read_image(r.path), r.boxes, **crop)]
        size = float(crop['size'])
        boxes = [torch.tensor([[0.0, 0.0, size, size]]) for _ in imgs]
    imgs = [torch.from_numpy(i).permute(2, 0, 1).contiguous() for i in imgs]
    shapes = {tuple(i.shape) for i in imgs}
    if len(shapes) != 1:
        raise ValueError(f'object probe: images of one batch differ in size: {shapes}')
    data = model.data_preprocessor(dict(inputs=imgs), False)
    return data['inputs'], boxes


@torch.no_grad()
def extract_object_features(model: nn.Module,
                            records: Sequence[ImageObjects],
                            batch_size: int = 32,
                            roi_size: int = 2,
                            keep_bins: bool = False,
                            crop: Optional[dict] = None,
                            desc: str = 'objects',
                            progress: bool = True):
    """``(features (N, D) float32, labels (N,))`` of every object of ``records``, in order.

    ``model`` is an mmpretrain model in eval mode whose ``data_preprocessor`` normalises the
    BGR images and whose ``extract_feat(stage='backbone')`` returns the feature maps to pool.
    ``crop=dict(size=..., margin=...)`` feeds each object as its own crop (:func:`crop_objects`).
    """
    from tqdm import tqdm

    feats, labels = [], []
    for start in tqdm(
            range(0, len(records), batch_size), desc=desc, disable=not progress, unit='batch'):
        batch = records[start:start + batch_size]
        inputs, boxes = _batch_inputs(model, batch, crop)
        out = model.extract_feat(inputs, stage='backbone')
        maps = list(out) if isinstance(out, (tuple, list)) else [out]
        feats.append(
            roi_pool_levels(maps, boxes, inputs.shape[2:], roi_size, keep_bins).cpu().numpy())
        labels.extend(r.labels for r in batch)
    return np.concatenate(feats).astype(np.float32), np.concatenate(labels)
