"""Resumable chunk files of the Stage-2 tools, and how shards map onto them.

Work is cut into fixed *chunks* of consecutive images (``chunk_size`` each, the last shorter);
a shard ``i/N`` owns a contiguous block of chunks. Every chunk is written atomically as
``chunk-000012.npy`` (optional array) then ``chunk-000012.json`` (record + meta, the completion
marker), so a killed run loses at most the chunk in flight, a rerun (with any shard count) skips
every finished chunk, and runs with different shard counts produce the same files.
"""
import glob
import hashlib
import json
import os
import os.path as osp
from collections import OrderedDict
from typing import Iterable, List, Optional, Tuple

import numpy as np

from mmvisrep.proposals.runner import shard_bounds
from mmvisrep.utils.atomic_io import atomic_save_npy, atomic_write_json, load_json
from mmvisrep.utils.resume import meta_mismatch


def digest(obj) -> str:
    """sha1 of the canonical JSON of ``obj`` (used to tie files to their inputs)."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def num_chunks(num_items: int, chunk_size: int) -> int:
    return (num_items + chunk_size - 1) // chunk_size


def chunk_range(chunk: int, num_items: int, chunk_size: int) -> Tuple[int, int]:
    """``[start, stop)`` of the items of ``chunk``."""
    return chunk * chunk_size, min((chunk + 1) * chunk_size, num_items)


def shard_chunks(num_items: int, chunk_size: int, index: int, count: int) -> List[int]:
    """Chunks owned by shard ``index`` of ``count`` (contiguous, sizes differ by at most 1)."""
    return list(range(*shard_bounds(num_chunks(num_items, chunk_size), index, count)))


class StaleChunkError(ValueError):
    """A chunk file written by a run with other inputs or parameters."""


class ChunkStore:
    """Chunk files under ``root`` for one run, identified by ``meta`` (JSON-able dict)."""

    def __init__(self, root: str, meta: dict, num_items: int, chunk_size: int):
        if chunk_size < 1:
            raise ValueError(f'chunk size must be >= 1, got {chunk_size}')
        self.root, self.meta = root, dict(meta)
        self.num_items, self.chunk_size = num_items, chunk_size
        self.num_chunks = num_chunks(num_items, chunk_size)

    def path(self, chunk: int, ext: str = 'json') -> str:
        return osp.join(self.root, f'chunk-{chunk:06d}.{ext}')

    def range(self, chunk: int) -> Tuple[int, int]:
        return chunk_range(chunk, self.num_items, self.chunk_size)

    def chunk_meta(self, chunk: int) -> dict:
        start, stop = self.range(chunk)
        return dict(self.meta, chunk=chunk, start=start, stop=stop)

    def load(self, chunk: int) -> Optional[dict]:
        """The record of a finished chunk; None if absent; StaleChunkError if from another run."""
        path = self.path(chunk)
        if not osp.isfile(path):
            return None
        data = load_json(path, 'chunk file')
        found = data.get('meta', {}) if isinstance(data, dict) else {}
        reason = meta_mismatch(found, self.chunk_meta(chunk))
        if reason:
            raise StaleChunkError(f'{path} was written by a different run ({reason})')
        return data

    def done(self, chunk: int) -> bool:
        try:
            return self.load(chunk) is not None
        except StaleChunkError:
            return False

    def save(self, chunk: int, record: dict, array: Optional[np.ndarray] = None) -> dict:
        """Write the array (if any), then the record; the record marks the chunk finished."""
        if array is not None:
            atomic_save_npy(array, self.path(chunk, 'npy'))
        data = dict(record, meta=self.chunk_meta(chunk))
        atomic_write_json(data, self.path(chunk))
        return data

    def remove(self, chunk: int):
        for ext in ('json', 'npy'):
            if osp.exists(self.path(chunk, ext)):
                os.unlink(self.path(chunk, ext))

    def missing(self, chunks: Optional[Iterable[int]] = None) -> List[int]:
        """Chunks (of ``chunks``, default all) without a matching finished file."""
        chunks = range(self.num_chunks) if chunks is None else chunks
        return [c for c in chunks if not self.done(c)]

    def stray_files(self) -> List[str]:
        """Chunk files beyond this run's chunk count (a run with other sizes wrote here)."""
        paths = glob.glob(osp.join(self.root, 'chunk-*.json'))
        names = {osp.basename(self.path(c)) for c in range(self.num_chunks)}
        return sorted(p for p in paths if osp.basename(p) not in names)


def plan_shard(store: ChunkStore, index: int, count: int, overwrite: bool = False):
    """``(todo, items, summary)`` of shard ``index``/``count`` of ``store``.

    ``todo``: its unfinished chunks (all of them, their files deleted first, with
    ``overwrite``); ``items``: their item indices; ``summary``: the counts a runner reports
    (``shard``, ``images``, ``chunks``, ``computed``, ``resumed``, ``seconds``).
    """
    chunks = shard_chunks(store.num_items, store.chunk_size, index, count)
    if overwrite:
        for c in chunks:
            store.remove(c)
    todo = store.missing(chunks)
    items = [i for c in todo for i in range(*store.range(c))]
    shard_items = sum(len(range(*store.range(c))) for c in chunks)
    summary = dict(
        shard=f'{index}/{count}',
        images=shard_items,
        chunks=len(chunks),
        computed=len(items),
        resumed=shard_items - len(items),
        seconds=0.0)
    return todo, items, summary


class ArrayCache:
    """Memory-maps of chunk ``.npy`` files, at most ``capacity`` open at once (LRU)."""

    def __init__(self, store: ChunkStore, capacity: int = 64):
        self.store, self.capacity = store, capacity
        self._maps = OrderedDict()

    def get(self, chunk: int) -> np.ndarray:
        if chunk in self._maps:
            self._maps.move_to_end(chunk)
            return self._maps[chunk]
        path = self.store.path(chunk, 'npy')
        if not osp.isfile(path):
            raise FileNotFoundError(f'feature file missing: {path}')
        array = np.load(path, mmap_mode='r')
        self._maps[chunk] = array
        if len(self._maps) > self.capacity:
            self._maps.popitem(last=False)
        return array
