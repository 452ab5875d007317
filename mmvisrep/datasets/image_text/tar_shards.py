"""Web-scale image-caption pairs in webdataset-style tar shards, read sequentially.

A shard is a plain (or compressed) tar whose members come grouped by sample: ``{key}.jpg`` (or
.jpeg/.png/.webp/.bmp) plus ``{key}.txt`` or ``{key}.json`` (``{"caption": ...}``), the key
being the member path up to the first dot of its file name -- the webdataset convention, so
img2dataset output and ``tools/data/make_image_text_shards.py`` output both work.

Each epoch the shard list is permuted with a generator seeded by ``(seed, epoch)`` -- the same
permutation on every rank and dataloader worker -- and slot ``rank * num_workers + worker``
takes every ``world_size * num_workers``-th shard of it, so the slots share out the shards and
every sample is read exactly once per epoch. A worker streams its shards in order with
``tarfile`` (no seeking; optional shuffle buffer) and decodes images with mmcv as
``LoadImageFromFile`` does.
"""
import glob
import json
import logging
import math
import os.path as osp
import re
import tarfile
import zlib
from collections import Counter
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmengine.dataset import Compose
from mmengine.dist import get_dist_info
from mmengine.fileio import join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs
from mmpretrain.registry import DATASETS
from torch.utils.data import IterableDataset, get_worker_info

from .skips import (EMPTY_CAPTION, MALFORMED_CAPTION, MISSING_PAIR, PIPELINE_NONE,
                    UNREADABLE_IMAGE, UNREADABLE_SHARD, SkipCounter)

IMAGE_EXTS = ('jpg', 'jpeg', 'png', 'webp', 'bmp')
CAPTION_EXTS = ('txt', 'json')
MANIFEST_FORMAT = 'mmvisrep-image-text-shards'
_TAR_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error)


# ---------------------------------------------------------------------------- shard lists
def expand_braces(pattern: str) -> List[str]:
    """Expand ``{000..009}`` (zero-padded to the first bound's width) and ``{a,b}`` groups,
    left to right, as webdataset URLs do: ``'s-{00..02}.tar'`` -> s-00.tar, s-01.tar, s-02.tar.
    """
    m = re.search(r'\{([^{}]*)\}', pattern)
    if m is None:
        return [pattern]
    body, head, tail = m.group(1), pattern[:m.start()], pattern[m.end():]
    num = re.fullmatch(r'(\d+)\.\.(\d+)', body)
    if num:
        lo, hi = int(num.group(1)), int(num.group(2))
        if hi < lo:
            raise ValueError(f'shard pattern {pattern!r}: empty range {{{body}}}')
        width = len(num.group(1))
        values = [str(v).zfill(width) for v in range(lo, hi + 1)]
    elif ',' in body:
        values = body.split(',')
    else:
        raise ValueError(f'shard pattern {pattern!r}: {{{body}}} is neither a range a..b nor a '
                         'list a,b')
    return [name for v in values for name in expand_braces(head + v + tail)]


def read_manifest(path: str) -> Tuple[List[str], List[int]]:
    """Shard paths (relative ones resolved against the manifest's folder) and sample counts
    of a manifest written by ``tools/data/make_image_text_shards.py``."""
    with open(path, encoding='utf-8') as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise ValueError(f'shard manifest {path} is not valid JSON: {e}') from None
    if not isinstance(data, dict) or data.get('format') != MANIFEST_FORMAT or \
            not isinstance(data.get('shards'), list):
        raise ValueError(f'{path} is not a shard manifest (format {MANIFEST_FORMAT!r} with a '
                         '"shards" list)')
    root, files, counts = osp.dirname(path), [], []
    for i, shard in enumerate(data['shards']):
        if not isinstance(shard, dict) or not isinstance(shard.get('file'), str) or \
                not isinstance(shard.get('num_samples'), int):
            raise ValueError(f'{path}: shards[{i}] needs "file" and "num_samples"')
        files.append(shard['file'] if is_abs(shard['file']) else osp.join(root, shard['file']))
        counts.append(shard['num_samples'])
    return files, counts


def resolve_shards(spec: Union[str, Sequence[str]],
                   data_root: str = '') -> Tuple[List[str], Optional[List[int]]]:
    """``(paths, sample counts or None)`` from a manifest .json, a brace pattern, a glob, a
    path, or a list of those; relative entries are joined to ``data_root``. Every shard must
    exist."""
    specs = [spec] if isinstance(spec, str) else list(spec)
    if not specs:
        raise ValueError('ImageTextShardDataset: no shards given')
    paths: List[str] = []
    counts: Optional[List[int]] = []
    for item in specs:
        if not isinstance(item, str) or not item:
            raise ValueError(f'ImageTextShardDataset: bad shard entry {item!r}')
        if data_root and not is_abs(item):
            item = join_path(data_root, item)
        if item.endswith('.json'):
            files, num = read_manifest(item)
            paths += files
            counts = counts + num if counts is not None else None
            continue
        names = expand_braces(item)
        if any(c in item for c in '*?['):
            names = sorted(p for n in names for p in glob.glob(n))
            if not names:
                raise FileNotFoundError(f'ImageTextShardDataset: no shard matches {item!r}')
        paths += names
        counts = None
    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(f'ImageTextShardDataset: {len(missing)} shard(s) not found, '
                                f'e.g. {missing[:3]}')
    return paths, counts


def split_member_name(name: str) -> Tuple[str, str]:
    """``('dir/key', 'ext')``: the webdataset key is the path up to the file name's first
    dot; the extension (lower-cased) is the rest."""
    head, base = osp.split(name)
    stem, _, ext = base.partition('.')
    return (f'{head}/{stem}' if head else stem), ext.lower()


def iter_tar_groups(path: str) -> Iterator[Tuple[str, Dict[str, bytes]]]:
    """Stream ``(key, {ext: bytes})`` groups of consecutive members sharing a key, in order,
    without seeking. Tar errors propagate to the caller; so does a plain ``.tar`` cut inside a
    member header, which ``tarfile`` itself would take for the end of the archive."""
    key, group = None, {}
    with open(path, 'rb') as f, tarfile.open(fileobj=f, mode='r|*') as tar:
        for member in tar:
            if not member.isfile():
                continue
            k, ext = split_member_name(member.name)
            if k != key:
                if group:
                    yield key, group
                key, group = k, {}
            data = tar.extractfile(member)
            group[ext] = data.read() if data is not None else b''
        if group:
            yield key, group
        if path.lower().endswith('.tar'):
            # A complete archive ends with two zero blocks after its last member.
            f.seek(tar.offset)
            tail = f.read(1024)
            if len(tail) < 1024 or tail.strip(b'\0'):
                raise tarfile.ReadError(f'truncated tar: no end-of-archive blocks after byte '
                                        f'{tar.offset}')


def count_tar_samples(path: str,
                      image_exts: Sequence[str] = IMAGE_EXTS,
                      caption_exts: Sequence[str] = CAPTION_EXTS) -> int:
    """Keys of a shard that have an image and a caption member (headers only, no decoding);
    an unreadable shard is logged and counts 0."""
    found: Dict[str, int] = {}
    try:
        with tarfile.open(path, mode='r:*') as tar:
            for member in tar.getmembers():
                if member.isfile():
                    key, ext = split_member_name(member.name)
                    kind = 1 if ext in image_exts else 2 if ext in caption_exts else 0
                    found[key] = found.get(key, 0) | kind
    except _TAR_ERRORS as e:
        print_log(
            f'count_tar_samples: cannot read {path} ({type(e).__name__}: {e}); counted '
            'as 0 samples',
            logger='current',
            level=logging.WARNING)
        return 0
    return sum(v == 3 for v in found.values())


def shard_assignment(num_shards: int,
                     epoch: int,
                     rank: int = 0,
                     world_size: int = 1,
                     worker: int = 0,
                     num_workers: int = 1,
                     seed: int = 0,
                     shuffle: bool = True) -> np.ndarray:
    """Shard indices read by (rank, worker) in ``epoch``: slot ``rank * num_workers + worker``
    of ``world_size * num_workers`` takes every slot-th entry of the epoch's permutation."""
    order = np.arange(num_shards)
    if shuffle:
        order = np.random.default_rng([int(seed), int(epoch)]).permutation(num_shards)
    slots = world_size * num_workers
    return order[rank * num_workers + worker::slots]


def _buffered(items: Iterator, size: int, rng: np.random.Generator) -> Iterator:
    """Shuffle a stream with a buffer of ``size`` items (webdataset-style)."""
    buf: list = []
    for item in items:
        if len(buf) < size:
            buf.append(item)
            continue
        j = int(rng.integers(size))
        buf[j], item = item, buf[j]
        yield item
    for j in rng.permutation(len(buf)):
        yield buf[j]


# ---------------------------------------------------------------------------- dataset
@DATASETS.register_module()
class ImageTextShardDataset(IterableDataset):
    """Image-caption pairs from webdataset-style tar shards, an ``IterableDataset``.

    Yields the pipeline's output for samples with ``img`` (decoded uint8, BGR by default, as
    ``LoadImageFromFile`` gives, so the pipeline starts after the loader), ``img_shape``,
    ``ori_shape``, ``caption`` (stripped), ``img_path`` (``shard:member``), ``ann_source``
    (``shard:key``), ``key`` and ``shard``.

    Skips, counted per worker process and logged (``skips.py``): unreadable image, empty
    caption, malformed caption (bad UTF-8/JSON), missing pair (a key without an image or a
    caption member), unreadable shard (the rest of a corrupt tar), and samples the pipeline
    drops. Each worker logs its counts every ``log_interval`` samples and when it finishes an
    epoch; ``skips`` holds the counts of this process.

    Epochs: ``set_epoch(e)`` fixes the epoch of the next pass; each later ``__iter__`` of the
    same object (persistent workers, ``num_workers=0``) moves to the next epoch by itself.
    ``repeat=True`` chains epochs without end (for ``IterBasedTrainLoop``). ``__len__`` is
    the nominal number of samples per rank, ``ceil(num_samples / world_size)`` (mmengine's
    logger needs a length); ranks may get a few more or fewer, since shards are shared out
    whole.

    With mmengine's Runner: ``train_dataloader = dict(dataset=dict(type=
    'ImageTextShardDataset', ...), sampler=None, ...)`` -- an ``IterableDataset`` takes no
    sampler -- and ``IterBasedTrainLoop`` with ``repeat=True`` (see docs/image_text_data.md).

    Args:
        shards (str | list[str]): A manifest (.json from make_image_text_shards.py), a brace
            pattern (``'cc3m-{000000..000331}.tar'``), a glob, a path, or a list of them.
        data_root (str): Joined to relative shard entries.
        pipeline (list): Transforms after image loading.
        shuffle_shards (bool): Permute the shard order each epoch. Defaults to True.
        shuffle_buffer (int): Sample shuffle buffer per worker (0: file order). Defaults to 0.
        seed (int): Seed of the shard permutation, buffer and caption choice. Defaults to 0.
        repeat (bool): Chain epochs endlessly. Defaults to False.
        num_samples (int | None): Total samples; None: from the manifest, else counted by
            reading the tar headers at init.
        image_exts / caption_exts (tuple[str]): Member extensions in order of preference.
        caption_key (str): Caption key of .json members (a string, or a list from which one
            is drawn). Defaults to 'caption'.
        color_type, imdecode_backend (str): As in ``LoadImageFromFile``.
        rank, world_size (int | None): Defaults from ``mmengine.dist.get_dist_info()``.
        log_interval (int): Per-worker progress/skip log every this many samples (0: only at
            the end of an epoch). Defaults to 10000.
        max_reported_errors (int): Skips of one reason logged one by one per process.
        metainfo (dict | None): Dataset meta information.
        test_mode (bool): No shuffling; the first caption of a list. Defaults to False.
        lazy_init (bool): Resolve and count the shards on first use. Defaults to False.
    """

    METAINFO = dict(dataset_name='image-caption tar shards')

    def __init__(self,
                 shards: Union[str, Sequence[str]],
                 data_root: str = '',
                 pipeline: Sequence = (),
                 shuffle_shards: bool = True,
                 shuffle_buffer: int = 0,
                 seed: int = 0,
                 repeat: bool = False,
                 num_samples: Optional[int] = None,
                 image_exts: Sequence[str] = IMAGE_EXTS,
                 caption_exts: Sequence[str] = CAPTION_EXTS,
                 caption_key: str = 'caption',
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None,
                 log_interval: int = 10000,
                 max_reported_errors: int = 20,
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False):
        bad_ext = [e for e in caption_exts if e not in CAPTION_EXTS]
        if bad_ext:
            raise ValueError(f'ImageTextShardDataset: caption_exts must be among '
                             f'{CAPTION_EXTS}, got {bad_ext}')
        self.shard_spec = shards
        self.data_root = data_root
        self.pipeline = Compose(pipeline)
        self.shuffle_shards = bool(shuffle_shards) and not test_mode
        self.shuffle_buffer = 0 if test_mode else int(shuffle_buffer)
        self.seed = int(seed)
        self.repeat = bool(repeat)
        self.num_samples = num_samples
        self.image_exts = tuple(e.lower() for e in image_exts)
        self.caption_exts = tuple(caption_exts)
        self.caption_key = caption_key
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else int(rank)
        self.world_size = dist_world if world_size is None else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'ImageTextShardDataset: need 0 <= rank < world_size, got '
                             f'{self.rank}, {self.world_size}')
        self.log_interval = int(log_interval)
        self.skips = SkipCounter('ImageTextShardDataset', max_reported=max_reported_errors)
        self._metainfo = dict(self.METAINFO, **(metainfo or {}))
        self.test_mode = test_mode
        self.shards: List[str] = []
        self.shard_sizes: Optional[List[int]] = None
        self._epoch = 0
        self._passes = 0
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return dict(self._metainfo)

    def full_init(self) -> None:
        """Resolve the shard list and the sample count (manifest, argument or tar headers)."""
        if self._fully_initialized:
            return
        self.shards, self.shard_sizes = resolve_shards(self.shard_spec, self.data_root)
        if self.num_samples is None:
            if self.shard_sizes is None:
                from tqdm import tqdm
                bar = tqdm(self.shards, desc='counting samples', disable=len(self.shards) < 50)
                self.shard_sizes = [
                    count_tar_samples(p, self.image_exts, self.caption_exts) for p in bar
                ]
            self.num_samples = int(sum(self.shard_sizes))
        self._fully_initialized = True
        print_log(
            f'ImageTextShardDataset: {len(self.shards)} shard(s), {self.num_samples} samples '
            f'(rank {self.rank}/{self.world_size}: about {len(self)} a epoch)',
            logger='current')

    def __len__(self) -> int:
        self.full_init()
        return math.ceil(self.num_samples / self.world_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch ``epoch`` (a no-op when it already is the base epoch)."""
        if int(epoch) != self._epoch:
            self._epoch, self._passes = int(epoch), 0

    def shards_for(self, epoch: int, worker: int = 0, num_workers: int = 1) -> List[str]:
        """Shard paths this rank's ``worker`` reads in ``epoch``."""
        self.full_init()
        ids = shard_assignment(
            len(self.shards), epoch, self.rank, self.world_size, worker, num_workers, self.seed,
            self.shuffle_shards)
        return [self.shards[i] for i in ids]

    def __iter__(self):
        self.full_init()
        epoch = self._epoch + self._passes
        self._passes += 1
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        slots = self.world_size * num_workers
        if self.repeat and len(self.shards) < slots:
            raise ValueError(f'ImageTextShardDataset: {len(self.shards)} shard(s) for '
                             f'{self.world_size} rank(s) x {num_workers} worker(s); with '
                             'repeat=True every worker needs a shard (use fewer workers or '
                             'more, smaller shards)')
        return self._generate(epoch, worker, num_workers)

    def _generate(self, epoch: int, worker: int, num_workers: int):
        while True:
            produced = yield from self.iter_epoch(epoch, worker, num_workers)
            if not self.repeat:
                return
            if not produced:
                raise RuntimeError(f'ImageTextShardDataset: rank {self.rank} worker {worker} '
                                   f'got no usable sample in epoch {epoch} (skipped: '
                                   f'{self.skips.summary()}); stopping rather than spinning')
            epoch += 1

    def iter_epoch(self, epoch: int, worker: int = 0, num_workers: int = 1):
        """Yield the pipeline outputs of one epoch's share of (rank, worker); returns the
        number of samples yielded."""
        shards = self.shards_for(epoch, worker, num_workers)
        where = (f'epoch {epoch}, rank {self.rank}/{self.world_size}, worker '
                 f'{worker}/{num_workers}')
        if not shards:
            print_log(
                f'ImageTextShardDataset: {where}: no shard ({len(self.shards)} shards '
                f'for {self.world_size * num_workers} slots)',
                logger='current')
            return 0
        rng = np.random.default_rng([self.seed, epoch, self.rank, worker])
        before = Counter(self.skips.counts)
        raw = self._iter_raw(shards, rng)
        if self.shuffle_buffer > 1:
            raw = _buffered(raw, self.shuffle_buffer, rng)
        produced = 0
        for shard, key, ext, data, caption in raw:
            source = f'{shard}:{key}'
            try:
                img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.imdecode_backend)
            except Exception as e:  # noqa: B902 -- any decoder error means unreadable
                img, error = None, f'{type(e).__name__}: {e}'
            else:
                error = 'cannot be decoded'
            if img is None:
                self.skips.add(UNREADABLE_IMAGE, f'{source}.{ext}', error)
                continue
            results = dict(
                img=img,
                img_shape=img.shape[:2],
                ori_shape=img.shape[:2],
                img_path=f'{shard}:{key}.{ext}',
                caption=caption,
                ann_source=source,
                key=key,
                shard=shard)
            out = self.pipeline(results)
            if out is None:
                self.skips.add(PIPELINE_NONE, source)
                continue
            produced += 1
            yield out
            if self.log_interval and produced % self.log_interval == 0:
                print_log(
                    f'ImageTextShardDataset: {where}: {produced} samples so far; skipped: '
                    f'{self.skips.summary(self.skips.counts - before)}',
                    logger='current')
        skipped = self.skips.counts - before
        print_log(
            f'ImageTextShardDataset: {where} done: {produced} samples from {len(shards)} '
            f'shard(s); skipped this epoch: {self.skips.summary(skipped)}; in this process so '
            f'far: {self.skips.summary()}',
            logger='current',
            level=logging.WARNING if sum(skipped.values()) else logging.INFO)
        return produced

    def _iter_raw(self, shards: Sequence[str], rng: np.random.Generator):
        """``(shard, key, image ext, image bytes, caption)`` of every complete pair."""
        for shard in shards:
            try:
                for key, group in iter_tar_groups(shard):
                    item = self._pair(shard, key, group, rng)
                    if item is not None:
                        yield item
            except _TAR_ERRORS as e:
                self.skips.add(UNREADABLE_SHARD, shard,
                               f'{type(e).__name__}: {e}; the rest of this shard is skipped')

    def _pair(self, shard: str, key: str, group: Dict[str, bytes],
              rng: np.random.Generator) -> Optional[tuple]:
        source = f'{shard}:{key}'
        img_ext = next((e for e in self.image_exts if e in group), None)
        cap_ext = next((e for e in self.caption_exts if e in group), None)
        if img_ext is None or cap_ext is None:
            lacks = 'image' if img_ext is None else 'caption'
            self.skips.add(MISSING_PAIR, source, f'no {lacks} member (has {sorted(group)})')
            return None
        try:
            if cap_ext == 'txt':
                caption = group['txt'].decode('utf-8')
            else:
                caption = json.loads(group['json'])[self.caption_key]
                if isinstance(caption, list) and caption and all(
                        isinstance(c, str) for c in caption):
                    caption = caption[0 if self.test_mode else int(rng.integers(len(caption)))]
                if not isinstance(caption, str):
                    raise TypeError(f'"{self.caption_key}" is {type(caption).__name__}')
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
            self.skips.add(MALFORMED_CAPTION, f'{source}.{cap_ext}', f'{type(e).__name__}: {e}')
            return None
        caption = caption.strip()
        if not caption:
            self.skips.add(EMPTY_CAPTION, f'{source}.{cap_ext}')
            return None
        return shard, key, img_ext, group[img_ext], caption

    def __repr__(self) -> str:
        return (f'Dataset {self.__class__.__name__}\n    Number of shards: {len(self.shards)}\n'
                f'    Number of samples: {self.num_samples}\n    Rank: {self.rank}/'
                f'{self.world_size}, shuffle_shards={self.shuffle_shards}, '
                f'shuffle_buffer={self.shuffle_buffer}, repeat={self.repeat}')
