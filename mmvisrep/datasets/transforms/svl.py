"""Pretraining data of semantic VLP (SVL): COCO-Stuff maps, the description-aware flip and the
detector pseudo-labels, delivered as the fields ``SemanticVLP`` reads.

A pretraining pipeline (see ``configs/_base_/datasets/coco_vg_flickr_svl.py``)::

    LoadImageFromFile
    LoadStuffMap           COCO part only: raw stuffthingmaps PNG -> ``gt_seg_map`` train ids
    DescriptionAwareFlip   p = 0.5, never when the caption names a direction (left, right...)
    RandomResize           mmcv: shorter side crop x U(0.8, 1.2) (long side <= 5/3 crop)
    mmseg.RandomCrop       crop x crop window (image and every ``seg_fields`` map)
    Pad                    mmcv: to crop x crop, image 0, map 255
    PackStuffMap           ``gt_seg_map`` -> ``stuff_map`` + ``has_stuff_map`` (False without)
    LoadPseudoLabels       ``pseudo_labels`` (P,) padded -1 + ``num_pseudo_labels``
    TokenizeCaption        ``input_ids`` / ``attention_mask`` (truncated captions counted)
    PackInputs(algorithm_keys=SVL_ALGORITHM_KEYS)

The stuff map rides in mmcv/mmseg's ``gt_seg_map`` (listed in ``seg_fields``) so that the stock
geometric transforms move it with the image (nearest-neighbour resize, pad value 255).
"""
import logging
import os
import os.path as osp
import re
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, RandomFlip
from mmengine import fileio
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS

from ..line_index import (cache_candidates, cache_root, load_or_build_index, path_digest,
                          rank0_first)
from ..pseudo_labels import pad_labels, read_pseudo_labels
from .captions import DropCounter

# ---------------------------------------------------------------------------------------------
# COCO-Stuff 164k label maps
# ---------------------------------------------------------------------------------------------
#: Raw stuffthingmaps values (label id - 1) of the 11 COCO thing ids without segmentation
#: (street sign, hat, shoe, eye glasses, plate, mirror, window, desk, door, blender, hair brush):
#: the values mmseg's converter (tools/dataset_converters/coco_stuff164k.py) skips.
COCOSTUFF_ABSENT_VALUES = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)
COCOSTUFF_NUM_RAW = 182  # raw values 0..181 (label ids 1..182)
COCOSTUFF_NUM_CLASSES = 171  # contiguous train ids 0..170 (mmseg's COCOStuffDataset)
STUFF_IGNORE = 255  # unlabeled / void pixels and padding


def cocostuff_lut(unlabeled_as_class: bool = False) -> np.ndarray:
    """``(256,)`` uint8 table: raw stuffthingmaps value -> contiguous train id.

    0..181 -> 0..170 in order, skipping the 11 absent values (-> 255); 255 stays 255, or
    becomes 171 with ``unlabeled_as_class`` (train all 172 classes, spec 4.4). Values
    182..254 are not COCO-Stuff values (``LoadStuffMap`` rejects them before the lookup).
    """
    lut = np.full(256, STUFF_IGNORE, np.uint8)
    kept = [v for v in range(COCOSTUFF_NUM_RAW) if v not in COCOSTUFF_ABSENT_VALUES]
    lut[kept] = np.arange(len(kept), dtype=np.uint8)
    if unlabeled_as_class:
        lut[STUFF_IGNORE] = len(kept)
    return lut


def invalid_stuff_values(raw: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``raw`` outside {0..181, 255} (empty when the map is valid)."""
    raw = np.asarray(raw)
    if raw.dtype == np.uint8:
        counts = np.bincount(raw.ravel(), minlength=256)
        return np.nonzero(counts[COCOSTUFF_NUM_RAW:STUFF_IGNORE])[0] + COCOSTUFF_NUM_RAW
    bad = (raw < 0) | ((raw >= COCOSTUFF_NUM_RAW) & (raw != STUFF_IGNORE))
    return np.unique(raw[bad])


@TRANSFORMS.register_module()
class LoadStuffMap(BaseTransform):
    """Read an official COCO-Stuff ``stuffthingmaps`` PNG and map it to train ids.

    The PNG (one channel, value = label id - 1 in 0..181, 255 = unlabeled) is looked up through
    :func:`cocostuff_lut` (mmseg's COCO-Stuff 164k class order: 171 classes, the 11 absent
    values and unlabeled -> 255) and stored as ``gt_seg_map`` (uint8, image size) with
    ``'gt_seg_map'`` added to ``seg_fields``, the key mmcv ``RandomResize`` / ``RandomFlip`` /
    ``Pad`` and mmseg ``RandomCrop`` move with the image. ``PackStuffMap`` then hands it to the
    model.

    Map path: ``results[path_key]`` when the sample has it; else ``stuff_map_prefix`` joined
    with the image path relative to ``img_prefix`` (so ``data/coco/train2017/x.jpg`` with
    ``img_prefix='data/coco/'`` -> ``<stuff_map_prefix>/train2017/x.png``, the layout of
    ``stuffthingmaps_trainval2017.zip``), or with the image basename when ``img_prefix`` is
    None; the extension becomes ``.png``.

    Errors (never a silent skip): a missing PNG -> ``FileNotFoundError``; values outside
    {0..181, 255} (e.g. an RGB / 16-bit / already converted-and-shifted file) or a size
    different from the image -> ``ValueError``; all name the PNG. Maps already converted to
    ``*_labelTrainIds.png`` hold values in range and cannot be told apart: use the raw maps.

    Args:
        stuff_map_prefix (str): Folder of the maps. Defaults to ''.
        img_prefix (str, optional): Image root the map layout mirrors. Defaults to None
            (basename only).
        path_key (str): Sample field with an explicit map path. Defaults to 'stuff_map_path'.
        unlabeled_as_class (bool): Unlabeled -> class 171 (SEGL with 172 classes) instead of
            255 (ignored). Padding added later is 255 either way. Defaults to False.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 stuff_map_prefix: str = '',
                 img_prefix: Optional[str] = None,
                 path_key: str = 'stuff_map_path',
                 unlabeled_as_class: bool = False,
                 backend_args: Optional[dict] = None):
        self.stuff_map_prefix = stuff_map_prefix
        self.img_prefix = img_prefix
        self.path_key = path_key
        self.unlabeled_as_class = unlabeled_as_class
        self.backend_args = backend_args
        self.lut = cocostuff_lut(unlabeled_as_class)

    def map_path(self, results: dict) -> str:
        """The PNG of this sample (see the class docstring)."""
        if results.get(self.path_key):
            return results[self.path_key]
        img_path = results.get('img_path')
        if not img_path:
            raise KeyError(f'LoadStuffMap: the sample has neither {self.path_key!r} nor '
                           f'img_path (sample {results.get("sample_idx")})')
        if self.img_prefix is None:
            rel = osp.basename(img_path)
        else:
            rel = relative_key(img_path, self.img_prefix, 'LoadStuffMap')
        rel = osp.splitext(rel)[0] + '.png'
        return fileio.join_path(self.stuff_map_prefix, rel) if self.stuff_map_prefix else rel

    def read(self, path: str, img_path: Optional[str] = None) -> np.ndarray:
        """The raw (H, W) map of ``path``, validated."""
        try:
            data = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise FileNotFoundError(
                f'LoadStuffMap: stuff map not found: {path} (image {img_path}); COCO samples '
                'need the official stuffthingmaps PNGs (stuffthingmaps_trainval2017.zip), or '
                'drop LoadStuffMap from the pipeline of sources without maps') from None
        raw = mmcv.imfrombytes(data, flag='unchanged', backend='pillow')
        if raw is None or raw.ndim != 2:
            shape = None if raw is None else raw.shape
            raise ValueError(f'LoadStuffMap: {path} is not a one-channel label PNG (decoded '
                             f'shape {shape}); expected a COCO-Stuff stuffthingmaps file')
        bad = invalid_stuff_values(raw)
        if bad.size:
            num = int(np.isin(raw, bad).sum())
            raise ValueError(
                f'LoadStuffMap: {path} has values outside 0..181 and 255: '
                f'{bad[:20].tolist()}{" ..." if bad.size > 20 else ""} ({num} pixels); '
                'expected an official COCO-Stuff stuffthingmaps PNG (value = label id - 1)')
        return raw

    def transform(self, results: dict) -> dict:
        path = self.map_path(results)
        raw = self.read(path, results.get('img_path'))
        shape = results.get('img_shape', results.get('ori_shape'))
        if shape is not None and tuple(raw.shape) != tuple(shape[:2]):
            raise ValueError(f'LoadStuffMap: {path} is {raw.shape[1]}x{raw.shape[0]} but the '
                             f'image {results.get("img_path")} is {shape[1]}x{shape[0]}; load '
                             'the map right after the image, before any geometric transform')
        results['gt_seg_map'] = self.lut[raw.astype(np.intp, copy=False)]
        results['stuff_map_path'] = path
        fields = list(results.get('seg_fields', []))
        if 'gt_seg_map' not in fields:
            fields.append('gt_seg_map')
        results['seg_fields'] = fields
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(stuff_map_prefix={self.stuff_map_prefix!r}, '
                f'img_prefix={self.img_prefix!r}, unlabeled_as_class={self.unlabeled_as_class})')


@TRANSFORMS.register_module()
class PackStuffMap(BaseTransform):
    """Hand the transformed map to the model: ``stuff_map`` + ``has_stuff_map``.

    With ``results[key]`` (``gt_seg_map`` from ``LoadStuffMap``): ``stuff_map`` = torch.uint8
    (H, W), checked to have the image's size (a geometric transform that ignores
    ``gt_seg_map``, e.g. mmpretrain's ``RandomResizedCrop``, would misalign it), and
    ``has_stuff_map=True``. Without it (sources with no maps): ``has_stuff_map=False`` and no
    ``stuff_map``, so SEGL skips the sample. Put it in every pipeline of a mixed dataset.

    Args:
        key (str): Where the map is. Defaults to 'gt_seg_map'.
    """

    def __init__(self, key: str = 'gt_seg_map'):
        self.key = key

    def transform(self, results: dict) -> dict:
        seg = results.pop(self.key, None)
        if seg is None:
            results['has_stuff_map'] = False
            return results
        seg = np.asarray(seg)
        img = results.get('img')
        if img is not None and tuple(seg.shape[:2]) != tuple(img.shape[:2]):
            raise ValueError(f'PackStuffMap: map {seg.shape[:2]} and image {img.shape[:2]} '
                             f'differ for {results.get("img_path")}; every geometric '
                             'transform between LoadStuffMap and here must handle gt_seg_map')
        results['stuff_map'] = torch.from_numpy(np.ascontiguousarray(seg, dtype=np.uint8))
        results['has_stuff_map'] = True
        results['seg_fields'] = [k for k in results.get('seg_fields', []) if k != self.key]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(key={self.key!r})'


# ---------------------------------------------------------------------------------------------
# Description-aware horizontal flip
# ---------------------------------------------------------------------------------------------
#: Words whose meaning a horizontal flip changes: left/right and their compounds (a hyphenated
#: "left-hand" or "top-right" splits into words, so "left"/"right" cover it), and the sense of
#: rotation (a mirror image turns the other way).
DIRECTION_WORDS = ('left', 'right', 'leftmost', 'rightmost', 'leftward', 'leftwards', 'rightward',
                   'rightwards', 'lefthand', 'righthand', 'lefthanded', 'righthanded', 'clockwise',
                   'counterclockwise', 'anticlockwise')
_WORD = re.compile(r'[a-z]+')


def caption_words(text: str) -> List[str]:
    """Lower-case letter runs of ``text`` ("Top-right." -> ['top', 'right'])."""
    return _WORD.findall(text.lower())


@TRANSFORMS.register_module()
class DescriptionAwareFlip(RandomFlip):
    """Horizontal flip with probability ``prob``, never when the caption names a direction.

    mmcv's ``RandomFlip`` (image, ``gt_seg_map``, boxes) restricted to captions free of
    ``words`` (whole words, case-insensitive; default :data:`DIRECTION_WORDS`), as SVL's
    augmentation: a flipped "dog on the left" would be a wrong pair. Samples kept unflipped for
    that reason are counted in ``counts['blocked']`` (``counts['seen']``, ``counts['flipped']``
    too) and logged at 1, 10, 100... per process.

    Args:
        prob (float): Flip probability of an allowed sample. Defaults to 0.5.
        words (Sequence[str], optional): Blocking words (lower-case letters only).
        caption_key (str): Defaults to 'caption'.
    """

    def __init__(self,
                 prob: float = 0.5,
                 words: Optional[Sequence[str]] = None,
                 caption_key: str = 'caption'):
        super().__init__(prob=float(prob), direction='horizontal')
        words = DIRECTION_WORDS if words is None else tuple(words)
        bad = [w for w in words if not isinstance(w, str) or not re.fullmatch(r'[a-z]+', w)]
        if bad:
            raise ValueError(f'DescriptionAwareFlip: words must be lower-case letters only '
                             f'(single words), got {bad}')
        self.words = frozenset(words)
        self.caption_key = caption_key
        self.counts = Counter()
        self.drops = DropCounter('DescriptionAwareFlip')

    def blocked(self, caption: str) -> bool:
        """Whether ``caption`` holds one of the blocking words."""
        return not self.words.isdisjoint(caption_words(caption))

    def transform(self, results: dict) -> dict:
        caption = results.get(self.caption_key)
        if not isinstance(caption, str):
            raise KeyError(f'DescriptionAwareFlip: results[{self.caption_key!r}] must be the '
                           f'caption string, got {type(caption).__name__} (sample '
                           f'{results.get("ann_source", results.get("img_path"))})')
        self.counts['seen'] += 1
        if self.blocked(caption):
            self.counts['blocked'] += 1
            self.drops.add('samples kept unflipped (caption names a direction)', 1)
            results['flip'] = False
            results['flip_direction'] = None
            return results
        results = super().transform(results)
        self.counts['flipped'] += int(results['flip'])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, words={sorted(self.words)}, '
                f'caption_key={self.caption_key!r})')


# ---------------------------------------------------------------------------------------------
# Detector pseudo-labels (SPL)
# ---------------------------------------------------------------------------------------------
TABLE_VERSION = 1


def relative_key(path: str, prefix: str, owner: str) -> str:
    """``path`` relative to ``prefix`` with '/' separators; error when it is not inside."""
    if not prefix:
        return path.replace(os.sep, '/')
    rel = osp.relpath(path, prefix)
    if rel == '.' or rel.startswith('..') or osp.isabs(rel):
        raise ValueError(f'{owner}: image {path} is not inside {prefix}')
    return rel.replace(os.sep, '/')


def build_pseudo_label_table(path: str) -> Dict[str, np.ndarray]:
    """Compact arrays of a pseudo-label file (read and validated by ``read_pseudo_labels``).

    ``keys`` (sorted str), ``offsets`` int64 (N+1), ``labels`` int32 (concatenated),
    ``failed_keys`` / ``failed_errors`` (images the extraction could not read),
    ``classes``, ``meta`` = [version, size, mtime_ns].
    """
    data = read_pseudo_labels(path)
    stat = os.stat(path)
    keys = sorted(data['images'])
    counts = np.array([len(data['images'][k]['labels']) for k in keys], np.int64)
    offsets = np.zeros(len(keys) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    labels = np.fromiter((label for k in keys for label in data['images'][k]['labels']), np.int32,
                         int(offsets[-1]))
    failed = data['info'].get('failed', [])
    return dict(
        keys=np.array(keys, dtype=str) if keys else np.zeros(0, 'U1'),
        offsets=offsets,
        labels=labels,
        failed_keys=np.array([str(f.get('key'))
                              for f in failed], dtype=str) if failed else np.zeros(0, 'U1'),
        failed_errors=np.array([str(f.get('error', ''))[:500]
                                for f in failed], dtype=str) if failed else np.zeros(0, 'U1'),
        classes=np.array(list(data['info']['classes']), dtype=str),
        meta=np.array([TABLE_VERSION, stat.st_size, stat.st_mtime_ns], np.int64))


def table_cache_path(path: str, cache_dir: Optional[str] = None) -> str:
    """``<file>.spl.npz`` next to the file, or ``<cache_dir>/<name>.<digest>.spl.npz``."""
    if cache_dir is None:
        return f'{path}.spl.npz'
    return osp.join(cache_dir, f'{osp.basename(path)}.{path_digest(path)}.spl.npz')


def load_pseudo_label_table(path: str, cache: Union[str, None, bool] = 'auto') -> dict:
    """The table of ``path`` from its ``.spl.npz`` cache when still valid (same size and
    mtime), else built (parsing the JSON once) and cached. ``cache``: 'auto' (next to the file,
    else ``$MMVISREP_CACHE/pseudo_labels``), a folder, or None (no cache)."""
    return load_or_build_index(
        path, 'pseudo-label', TABLE_VERSION,
        cache_candidates(cache, lambda d: table_cache_path(path, d),
                         lambda: cache_root('pseudo_labels')),
        lambda: build_pseudo_label_table(path), lambda index, candidate: None,
        lambda msg: print_log(msg, logger='current', level=logging.WARNING))


class PseudoLabelTable:
    """Look-ups in a loaded table: binary search over the sorted keys, no per-key objects."""

    def __init__(self, path: str, arrays: Dict[str, np.ndarray]):
        self.path = path
        self.keys = arrays['keys']
        self.offsets = arrays['offsets']
        self.labels = arrays['labels']
        self.failed = dict(zip(arrays['failed_keys'].tolist(), arrays['failed_errors'].tolist()))
        self.classes = arrays['classes'].tolist()

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, key: str) -> int:
        """Index of ``key`` in ``keys``, -1 if absent."""
        i = int(np.searchsorted(self.keys, key))
        return i if i < len(self.keys) and self.keys[i] == key else -1

    def __contains__(self, key: str) -> bool:
        return self.row(key) >= 0

    def get(self, key: str) -> np.ndarray:
        """The labels (int32, descending score) of ``key``; KeyError naming file and image."""
        i = self.row(key)
        if i < 0:
            why = (f' (it failed during extraction: {self.failed[key]})'
                   if key in self.failed else '')
            raise KeyError(
                f'image {key!r} has no pseudo-labels in {self.path}{why}; rerun '
                'tools/data/extract_pseudo_labels.py over the images of this dataset (list '
                'the missing ones with tools/data/svl_caption_lists.py check-labels)')
        return self.labels[self.offsets[i]:self.offsets[i + 1]]

    def missing(self, keys: Iterable[str]) -> List[str]:
        """The ``keys`` the file lacks, in order, without repeats."""
        out, seen = [], set()
        for key in keys:
            if key not in seen and key not in self:
                out.append(key)
            seen.add(key)
        return out


@TRANSFORMS.register_module()
class LoadPseudoLabels(BaseTransform):
    """Add the image's detector pseudo-labels: ``pseudo_labels`` + ``num_pseudo_labels``.

    Reads the file of ``tools/data/extract_pseudo_labels.py`` (validated by
    ``mmvisrep.datasets.pseudo_labels.read_pseudo_labels``) once per process -- at the first
    sample, or when the pipeline is built with ``preload`` (DDP rank 0 first) -- through a
    compact ``.spl.npz`` cache next to it, so that dataloader workers neither parse the JSON
    (hundreds of MB for COCO) nor hold it as Python objects. The key of a sample is
    ``results[key]`` relative to ``data_prefix`` (the ``--img-dir`` the tool ran on).

    Adds ``pseudo_labels`` torch.int64 (``max_labels``,): the labels by descending detector
    score, padded with -1 (extra labels dropped, see ``pad_labels``), and
    ``num_pseudo_labels`` (int). An image missing from the file raises a KeyError naming the
    file and the image (and the extraction error of a failed image); there is no silent skip.
    ``check(keys)`` lists the missing ones of a whole dataset up front.

    Args:
        label_file (str): The pseudo-label JSON.
        data_prefix (str): Image root the file's keys are relative to. Defaults to ''.
        key (str): Sample field holding the image path. Defaults to 'img_path'.
        max_labels (int): P. Defaults to 100 (the tool's maximum).
        cache (str | None): 'auto', a folder, or None (no ``.spl.npz``). Defaults to 'auto'.
        preload (bool): Load when built (rank 0 first under DDP) instead of lazily.
            Defaults to False.
    """

    def __init__(self,
                 label_file: str,
                 data_prefix: str = '',
                 key: str = 'img_path',
                 max_labels: int = 100,
                 cache: Union[str, None] = 'auto',
                 preload: bool = False):
        if int(max_labels) < 1:
            raise ValueError(f'LoadPseudoLabels: max_labels must be >= 1, got {max_labels}')
        self.label_file = label_file
        self.data_prefix = data_prefix
        self.key = key
        self.max_labels = int(max_labels)
        self.cache = cache
        self._table: Optional[PseudoLabelTable] = None
        if preload:
            self._table = PseudoLabelTable(label_file,
                                           rank0_first(load_pseudo_label_table, label_file, cache))

    @property
    def table(self) -> PseudoLabelTable:
        if self._table is None:
            self._table = PseudoLabelTable(self.label_file,
                                           load_pseudo_label_table(self.label_file, self.cache))
        return self._table

    def sample_key(self, results: dict) -> str:
        value = results.get(self.key)
        if not isinstance(value, str) or not value:
            raise KeyError(f'LoadPseudoLabels: the sample has no {self.key!r} string '
                           f'(sample {results.get("sample_idx")})')
        return relative_key(value, self.data_prefix, 'LoadPseudoLabels')

    def check(self, paths: Iterable[str]) -> List[str]:
        """The image paths (``results[key]`` values) whose keys the file lacks."""
        keys = {}
        for path in paths:
            keys.setdefault(relative_key(path, self.data_prefix, 'LoadPseudoLabels'), path)
        return [keys[k] for k in self.table.missing(keys)]

    def transform(self, results: dict) -> dict:
        key = self.sample_key(results)
        try:
            labels = self.table.get(key)
        except KeyError as e:
            raise KeyError(f'LoadPseudoLabels: {e.args[0]}') from None
        padded, num = pad_labels(labels, self.max_labels)
        results['pseudo_labels'] = torch.from_numpy(padded)
        results['num_pseudo_labels'] = num
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(label_file={self.label_file!r}, '
                f'data_prefix={self.data_prefix!r}, key={self.key!r}, '
                f'max_labels={self.max_labels})')


#: What ``SemanticVLP`` reads, for ``PackInputs(algorithm_keys=...)`` (keys a sample lacks are
#: left out by PackInputs). The image identity of ITM is the ``img_path`` meta key.
SVL_ALGORITHM_KEYS = ('input_ids', 'attention_mask', 'stuff_map', 'has_stuff_map', 'pseudo_labels',
                      'num_pseudo_labels')
