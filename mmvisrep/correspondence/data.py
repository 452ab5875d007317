"""Image loading for the Stage-2 tools: decoding (with clear errors) and the two datasets.

Workers of a ``DataLoader`` decode images (and filter RoIs) while the main process runs the
network; an unreadable image raises ``ImageReadError`` naming the file and its index, which
stops the run (finished chunks are kept, so fixing the file and rerunning resumes).
"""
import os.path as osp
from typing import Dict, Sequence

import numpy as np
from torch.utils.data import Dataset

from mmvisrep.utils.image_io import read_rgb
from .boxes import BoxFilter
from .crops import resize_center_crop, to_chw_tensor


class ImageReadError(RuntimeError):
    """An image that cannot be read or decoded."""


def load_rgb(path: str, ignore_exif: bool = False) -> np.ndarray:
    """RGB uint8 ``H x W x 3`` image, decoded as mmcv does (OpenCV).

    EXIF orientation is applied as by mmpretrain's ``LoadImageFromFile`` unless ``ignore_exif``
    (the official ORL code reads images with PIL, which ignores it).
    """
    return read_rgb(path, ImageReadError, ignore_exif)


def image_paths(img_dir: str, file_names: Sequence[str]):
    return [osp.join(img_dir, name) for name in file_names]


class GlobalViews(Dataset):
    """``(index, Resize + CenterCrop uint8 tensor)`` of the listed images, for kNN features."""

    def __init__(self,
                 paths: Sequence[str],
                 indices: Sequence[int],
                 resize: int,
                 crop: int,
                 ignore_exif: bool = False):
        self.paths, self.indices = paths, list(indices)
        self.resize, self.crop, self.ignore_exif = resize, crop, ignore_exif

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        index = self.indices[i]
        path = self.paths[index]
        try:
            img = load_rgb(path, self.ignore_exif)
        except ImageReadError as err:
            raise ImageReadError(f'{err} (image {index} of the list)') from None
        return index, resize_center_crop(to_chw_tensor(img), self.resize, self.crop)


class RoiImages(Dataset):
    """Decoded image + filtered RoIs of the listed images (one dict per image)."""

    def __init__(self,
                 paths: Sequence[str],
                 indices: Sequence[int],
                 proposals: Dict[int, list],
                 box_filter: BoxFilter,
                 proposal_file: str = '',
                 ignore_exif: bool = False):
        self.paths, self.indices = paths, list(indices)
        self.proposals, self.box_filter = proposals, box_filter
        self.proposal_file, self.ignore_exif = proposal_file, ignore_exif

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        index = self.indices[i]
        path = self.paths[index]
        raw = self.proposals[index]
        try:
            keep, fallback = self.box_filter(raw, return_fallback=True)
        except ValueError as err:
            raise ValueError(f'proposals of image {index} ({path}) in {self.proposal_file}: '
                             f'{err}') from None
        try:
            img = load_rgb(path, self.ignore_exif)
        except ImageReadError as err:
            raise ImageReadError(f'{err} (image {index} of the list)') from None
        filtered = [list(raw[j]) for j in keep.tolist()]
        return dict(index=index, img=img, boxes=filtered, num_raw=len(raw), fallback=fallback)


def first_item(batch):
    """``collate_fn`` of batch size 1 that returns the item itself."""
    return batch[0]
