"""Images with precomputed object proposals, for SoCo-style pretraining (spec 1.2).

The proposal file is SoCo's json (``train_ratio3size0308post.json`` format, written by
``tools/data/selective_search.py``): one dict ``{image basename without extension:
[[x, y, w, h], ...]}`` in original-image pixels. Each box becomes inclusive
``[x1, y1, x2, y2]`` (``x2 = x + w - 1``) with id = its 1-based position in the list.
"""
import os.path as osp
import re
from collections import Counter
from typing import List, Optional, Sequence

import numpy as np
from mmengine.fileio import exists, get_file_backend, list_from_file, load
from mmengine.logging import print_log
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

from .transforms.box_ops import clip_to_image

# "relative/path.jpg", optionally followed by an integer label (mmpretrain's meta/train.txt
# uses a space, SoCo's train_map.txt a tab); the label is not needed and is dropped.
_LIST_LINE = re.compile(r'^(?P<path>.+?)(?:\s+-?\d+)?\s*$')


def proposal_key(path: str) -> str:
    """The proposal-file key of an image: its basename without the extension."""
    return osp.splitext(osp.basename(path))[0]


@DATASETS.register_module()
class SoCoProposalDataset(CustomDataset):
    """Unlabelled images plus their proposals: ``img_path``, ``proposals``, ``proposal_ids``.

    Images come from ``data_prefix`` (``ann_file=''``: every image file under it, recursively),
    from a COCO json (``ann_file`` ending in ``.json``: its ``images[*].file_name``, only to
    list images) or from a file list (one relative path per line, an optional trailing integer
    label is ignored). ``proposal_file`` is relative to ``data_root`` unless absolute.

    Each item has ``proposals`` float32 (N, 4) inclusive x1y1x2y2 in original-image pixels and
    ``proposal_ids`` int64 (N,), ids starting at 1. Bad input:

    * a missing or malformed proposal file -> ``FileNotFoundError`` / ``ValueError`` naming it
      (and the offending key);
    * boxes less than one pixel wide or high, or not finite -> dropped (counted);
    * with a COCO json (image sizes known) boxes are clipped into the image, and boxes fully
      outside it dropped (counted); otherwise ``SoCoViews`` does that per sample;
    * an image with an empty proposal list, or no usable box -> N = 0, and ``SoCoViews`` uses
      the whole image as its single proposal (id 1) as the official code does (counted);
    * an image missing from the proposal file -> the same (counted), or a ``KeyError`` with
      ``missing_proposals='error'``; if no image at all is in the file, a ``ValueError``;
    * a missing image file -> ``FileNotFoundError`` naming the record index and path when the
      sample is loaded.

    The counts are logged once after loading and kept in ``proposal_stats``.

    Args:
        proposal_file (str): The proposal json.
        data_root (str): Root of ``ann_file``, ``data_prefix`` and ``proposal_file``.
        data_prefix (str | dict): Image folder. Defaults to ''.
        ann_file (str): '' (folder), a COCO json or a file list. Defaults to ''.
        missing_proposals (str): 'whole_image' or 'error'. Defaults to 'whole_image'.
        extensions (Sequence[str]): Image extensions in folder mode.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset`` (``pipeline``...).
    """

    def __init__(self,
                 proposal_file: str,
                 data_root: str = '',
                 data_prefix='',
                 ann_file: str = '',
                 missing_proposals: str = 'whole_image',
                 extensions: Sequence[str] = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm',
                                              '.tif'),
                 **kwargs) -> None:
        if missing_proposals not in ('whole_image', 'error'):
            raise ValueError("SoCoProposalDataset: missing_proposals must be 'whole_image' or "
                             f"'error', got {missing_proposals!r}")
        if not proposal_file:
            raise ValueError('SoCoProposalDataset: proposal_file is required')
        self.proposal_file = proposal_file
        self.missing_proposals = missing_proposals
        self.proposal_stats: Counter = Counter()
        kwargs.pop('with_label', None)
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix,
            ann_file=ann_file,
            with_label=False,
            extensions=extensions,
            **kwargs)

    # ------------------------------------------------------------------ image lists
    def _proposal_path(self) -> str:
        """``proposal_file`` joined with ``data_root`` when relative."""
        if self.data_root and not osp.isabs(self.proposal_file):
            return osp.join(self.data_root, self.proposal_file)
        return self.proposal_file

    def _list_images(self) -> List[dict]:
        """Relative image paths (and sizes when known) from the folder, COCO json or list."""
        if not self.ann_file:
            return [dict(file=f) for f in self._find_samples()]
        if not exists(self.ann_file):
            raise FileNotFoundError(f'SoCoProposalDataset: ann_file {self.ann_file} not found')
        if self.ann_file.endswith('.json'):
            coco = load(self.ann_file)
            if not isinstance(coco, dict) or not isinstance(coco.get('images'), list):
                raise ValueError(f'SoCoProposalDataset: {self.ann_file} is not a COCO json '
                                 "(no 'images' list)")
            images = []
            for i, rec in enumerate(coco['images']):
                if not isinstance(rec, dict) or 'file_name' not in rec:
                    raise ValueError(f'SoCoProposalDataset: {self.ann_file} images[{i}] has no '
                                     "'file_name'")
                images.append(
                    dict(file=rec['file_name'], height=rec.get('height'), width=rec.get('width')))
            return images
        images = []
        for line in list_from_file(self.ann_file):
            if line.strip():
                images.append(dict(file=_LIST_LINE.match(line.strip()).group('path')))
        return images

    # ------------------------------------------------------------------ proposals
    def _load_proposals(self) -> dict:
        """The proposal dict, with clear errors for a missing or malformed file."""
        path = self._proposal_path()
        if not exists(path):
            raise FileNotFoundError(f'SoCoProposalDataset: proposal file {path} not found')
        try:
            props = load(path, file_format='json')
        except ValueError as e:
            raise ValueError(f'SoCoProposalDataset: proposal file {path} is not valid json: '
                             f'{e}') from e
        if not isinstance(props, dict):
            raise ValueError(f'SoCoProposalDataset: proposal file {path} must hold a dict '
                             f'{{basename: [[x, y, w, h], ...]}}, got {type(props).__name__}')
        return props

    def _convert(self, raw, key: str, height: Optional[int], width: Optional[int]):
        """One image's ``[[x, y, w, h], ...]`` -> sanitised xyxy boxes and their ids."""
        path = self._proposal_path()
        if not isinstance(raw, (list, tuple)):
            raise ValueError(f'SoCoProposalDataset: {path} record {key!r}: expected a list of '
                             f'[x, y, w, h] boxes, got {type(raw).__name__}')
        if len(raw) == 0:
            return np.zeros((0, 4), np.float32), np.zeros((0, ), np.int64)
        try:
            arr = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f'SoCoProposalDataset: {path} record {key!r}: boxes must be lists '
                             f'of numbers [x, y, w, h]: {e}') from e
        if arr.ndim != 2 or arr.shape[1] < 4:
            raise ValueError(f'SoCoProposalDataset: {path} record {key!r}: boxes must be '
                             f'[x, y, w, h], got an array of shape {arr.shape}')
        arr = arr[:, :4]  # extra columns (e.g. scores) are ignored, as in the official code
        ids = np.arange(1, len(arr) + 1, dtype=np.int64)
        good = np.isfinite(arr).all(axis=1) & (arr[:, 2] >= 1) & (arr[:, 3] >= 1)
        self.proposal_stats['degenerate boxes dropped'] += int((~good).sum())
        arr, ids = arr[good], ids[good]
        boxes = np.stack(
            [arr[:, 0], arr[:, 1], arr[:, 0] + arr[:, 2] - 1, arr[:, 1] + arr[:, 3] - 1], axis=1)
        if height and width:
            boxes, keep, changed = clip_to_image(boxes, int(height), int(width))
            self.proposal_stats['boxes outside the image dropped'] += int((~keep).sum())
            self.proposal_stats['boxes clipped to the image'] += int(changed.sum())
            boxes, ids = boxes[keep], ids[keep]
        return boxes.astype(np.float32), ids

    def load_data_list(self) -> List[dict]:
        """Image paths with their proposals; fallbacks are counted and logged once."""
        images = self._list_images()
        props = self._load_proposals()
        path = self._proposal_path()
        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        stats = self.proposal_stats
        stats.clear()
        data_list, missing = [], []
        for image in images:
            rel = image['file']
            key = proposal_key(rel)
            raw = props.get(key)
            if raw is None:
                raw = props.get(osp.basename(rel).split('.')[0])  # the official key rule
            if raw is None:
                if self.missing_proposals == 'error':
                    raise KeyError(f'SoCoProposalDataset: image {rel} (key {key!r}) is not in '
                                   f'the proposal file {path}')
                missing.append(key)
                boxes, ids = self._convert([], key, None, None)
            else:
                boxes, ids = self._convert(raw, key, image.get('height'), image.get('width'))
                if len(boxes) == 0:
                    stats['images without proposals (whole image used)'] += 1
            stats['proposals'] += len(boxes)
            data_list.append(
                dict(
                    img_path=backend.join_path(self.img_prefix, rel),
                    proposals=boxes,
                    proposal_ids=ids))
        stats['images'] = len(data_list)
        stats['images missing from the proposal file (whole image used)'] = len(missing)
        if data_list and len(missing) == len(data_list):
            raise ValueError(f'SoCoProposalDataset: none of the {len(data_list)} images is in '
                             f'the proposal file {path} (e.g. key {missing[0]!r}); wrong file?')
        fallbacks = {k: v for k, v in stats.items() if v and k not in ('images', 'proposals')}
        msg = (f'SoCoProposalDataset: {stats["images"]} images, {stats["proposals"]} proposals '
               f'from {path}')
        if fallbacks:
            msg += '; ' + ', '.join(f'{k}: {v}' for k, v in fallbacks.items())
            if missing:
                msg += f' (e.g. {", ".join(missing[:3])})'
        print_log(msg, logger='current', level=30 if fallbacks else 20)
        return data_list

    def prepare_data(self, idx: int):
        """Run the pipeline; a missing image raises an error naming the record and path."""
        try:
            return super().prepare_data(idx)
        except FileNotFoundError as e:
            img_path = self.get_data_info(idx)['img_path']
            raise FileNotFoundError(f'SoCoProposalDataset: image of record {idx} '
                                    f'({proposal_key(img_path)}) not found: {img_path}') from e

    def extra_repr(self) -> List[str]:
        """Proposal file and counts in the dataset's repr."""
        return super().extra_repr() + [
            f'Proposal file: \t{self._proposal_path()}',
            f'Proposal stats: \t{dict(self.proposal_stats)}',
        ]
