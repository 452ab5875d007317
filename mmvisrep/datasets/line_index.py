"""Byte-offset indexes of line-based annotation files, shared by the line datasets.

A dataset scans its file once (``iter_lines``), keeps per-line numpy arrays (``LineRows``,
``BadLines``), caches them as an ``.npz`` keyed by the file's size and mtime
(``load_or_build_index``, written atomically by ``save_npz_atomic``) and reads one line per
sample with ``os.pread`` through ``FileHandles``. Parsing and validation stay with each dataset.
"""
import contextlib
import hashlib
import os
import os.path as osp
from array import array
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import force_full_init
from mmengine.dist import barrier, get_dist_info
from mmengine.fileio import join_path
from mmengine.utils import is_abs

from mmvisrep.utils.atomic_io import atomic_open

KEEP_BAD = 1000  # malformed lines remembered per file (for logs from a cached index)


def uses_cache(cache) -> bool:
    """False for the 'no cache' values None, False and ''."""
    return cache not in (None, False, '')


def cache_root(name: str) -> str:
    """``$MMVISREP_CACHE/<name>`` (default ``~/.cache/mmvisrep/<name>``)."""
    root = os.environ.get('MMVISREP_CACHE', osp.join('~', '.cache', 'mmvisrep'))
    return osp.join(osp.expanduser(root), name)


def path_digest(path: str) -> str:
    """16 hex digits naming a file by its absolute path (cache files in a shared folder)."""
    return hashlib.sha1(osp.abspath(path).encode('utf-8')).hexdigest()[:16]


def cache_candidates(cache, cache_path: Callable[[Optional[str]], str],
                     default_dir: Callable[[], str]) -> List[str]:
    """Cache files to try in order: 'auto' -> next to the file, then ``default_dir()``; a
    directory -> in it; None/False/'' -> none. ``cache_path(dir or None)`` names the file."""
    if cache == 'auto':
        return [cache_path(None), cache_path(default_dir())]
    return [cache_path(str(cache))] if uses_cache(cache) else []


def save_npz_atomic(arrays: dict, path: str) -> None:
    """``np.savez`` through ``atomic_open`` (temporary sibling, fsync, ``os.replace``)."""
    with atomic_open(path, 'wb') as f:
        np.savez(f, **arrays)


def load_cached(cache: str, stat: os.stat_result, version: int) -> Optional[Dict[str, np.ndarray]]:
    """The cached index if it exists and matches ``version`` and the file's size and mtime."""
    if not osp.isfile(cache):
        return None
    try:
        with np.load(cache, allow_pickle=False) as data:
            index = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):
        return None
    meta = index.get('meta')
    if meta is None or list(meta[:3]) != [version, stat.st_size, stat.st_mtime_ns]:
        return None
    return index


def load_or_build_index(path: str,
                        what: str,
                        version: int,
                        candidates: Sequence[str],
                        build: Callable[[], Dict[str, np.ndarray]],
                        on_cached: Callable[[Dict[str, np.ndarray], str], None],
                        warn: Callable[[str], None],
                        read_only: bool = False) -> Dict[str, np.ndarray]:
    """The first valid cache of ``candidates`` (``on_cached(index, cache)`` is called), else
    ``build()`` saved to the first writable candidate (``warn(message)`` for each that is not);
    ``read_only``: {} instead of building. ``what`` names the data in errors and messages."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} file not found: {path}')
    stat = os.stat(path)
    for candidate in candidates:
        index = load_cached(candidate, stat, version)
        if index is not None:
            on_cached(index, candidate)
            return index
    if read_only:
        return {}
    index = build()
    for candidate in candidates:
        try:
            save_npz_atomic(index, candidate)
            break
        except OSError as e:
            warn(f'{what} index: cannot write {candidate} ({e})')
    return index


def rank0_first(load: Callable[..., Dict[str, np.ndarray]], path: str, cache,
                **kwargs) -> Dict[str, np.ndarray]:
    """``load(path, cache=cache, **kwargs)``; under DDP with a cache rank 0 builds it while
    the other ranks wait, then read it."""
    rank, world = get_dist_info()
    if world > 1 and uses_cache(cache):
        index = load(path, cache=cache, **kwargs) if rank == 0 else {}
        barrier()
        return index if rank == 0 else load(path, cache=cache, **kwargs)
    return load(path, cache=cache, **kwargs)


def iter_lines(path: str, stat: os.stat_result, progress: Optional[bool],
               every: int) -> Iterator[Tuple[int, int, bytes]]:
    """``(line number from 1, byte offset, raw line)`` of a file, with a tqdm bar over its
    bytes (``progress`` None: for files over 64 MiB) updated every ``every`` lines."""
    from tqdm import tqdm
    if progress is None:
        progress = stat.st_size > (64 << 20)
    pos = 0
    with open(path, 'rb') as f, tqdm(
            total=stat.st_size,
            unit='B',
            unit_scale=True,
            disable=not progress,
            desc=f'indexing {osp.basename(path)}') as bar:
        for lineno, raw in enumerate(f, 1):
            yield lineno, pos, raw
            pos += len(raw)
            if lineno % every == 0:
                bar.update(pos - bar.n)
        bar.update(pos - bar.n)


class LineRows:
    """Byte offset, length and line number of the kept lines, as compact int64 arrays."""

    def __init__(self):
        self.offset, self.length, self.line = array('q'), array('q'), array('q')

    def append(self, offset: int, length: int, lineno: int) -> None:
        self.offset.append(offset)
        self.length.append(length)
        self.line.append(lineno)

    def arrays(self) -> Dict[str, np.ndarray]:
        return {
            k: np.frombuffer(getattr(self, k), np.int64).copy()
            for k in ('offset', 'length', 'line')
        }


class BadLines:
    """Count of malformed lines and the first ``KEEP_BAD`` (line, message) pairs."""

    def __init__(self):
        self.count = 0
        self.lines: List[int] = []
        self.messages: List[str] = []

    def add(self, lineno: int, message: str) -> None:
        self.count += 1
        if len(self.lines) < KEEP_BAD:
            self.lines.append(lineno)
            self.messages.append(message)

    def arrays(self) -> Dict[str, np.ndarray]:
        """``bad_line`` int64 and ``bad_message`` str arrays for the index."""
        return dict(
            bad_line=np.array(self.lines, np.int64),
            bad_message=np.array(self.messages, dtype=str) if self.messages else np.zeros(0, 'U1'))


class FileHandles:
    """Read-only fds opened on first use in each process; copies and pickles start empty."""

    def __init__(self):
        self._fds: Dict[str, int] = {}
        self._pid = os.getpid()

    def pread(self, path: str, length: int, offset: int) -> bytes:
        if self._pid != os.getpid():  # forked: the parent's fds are not ours to reuse
            self._fds, self._pid = {}, os.getpid()
        fd = self._fds.get(path)
        if fd is None:
            fd = self._fds[path] = os.open(path, os.O_RDONLY)
        data = os.pread(fd, length, offset)
        if len(data) != length:
            raise ValueError(f'{path}: read {len(data)} bytes at offset {offset}, expected '
                             f'{length}; the file changed after it was indexed')
        return data

    def close(self):
        if self._pid == os.getpid():
            for fd in self._fds.values():
                with contextlib.suppress(OSError):  # already closed: nothing to release
                    os.close(fd)
        self._fds = {}

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.__init__()

    def __deepcopy__(self, memo):
        return FileHandles()

    def __del__(self):
        self.close()


class LineIndexMixin:
    """Length, subsets and line reads of a ``BaseDataset`` whose samples are indexed lines.

    The class needs ``self._index`` (arrays with ``file``, ``offset``, ``length``, ``line``
    rows) and ``self._handles`` (a ``FileHandles``); ``_join_prefix`` sets ``self.ann_files``.
    """

    ANN_FILE_KIND = 'a path'  # what ann_file must be, for the error message
    SAMPLE_NAME = 'samples'  # what __repr__ counts

    def __init__(self,
                 ann_file,
                 data_root: str = '',
                 data_prefix='',
                 index_cache='auto',
                 on_error: str = 'skip',
                 index_progress: Optional[bool] = None,
                 **kwargs):
        if on_error not in ('skip', 'raise'):
            raise ValueError(f"{type(self).__name__}: on_error must be 'skip' or 'raise', got "
                             f'{on_error!r}')
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        self.index_cache = index_cache
        self.on_error = on_error
        self.index_progress = index_progress
        self._handles = FileHandles()
        self._index: Dict[str, np.ndarray] = {}
        kwargs.pop('serialize_data', None)  # the index is already a few numpy arrays
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            serialize_data=False,
            **kwargs)

    def _join_prefix(self):
        """``data_root`` joined to every annotation file and to the prefixes."""
        files = [self.ann_file] if isinstance(self.ann_file, str) else list(self.ann_file or [])
        if not files or not all(isinstance(f, str) and f for f in files):
            raise ValueError(f'{type(self).__name__}: ann_file must be {self.ANN_FILE_KIND} or '
                             f'a list of them, got {self.ann_file!r}')
        self.ann_files = [
            f if is_abs(f) or not self.data_root else join_path(self.data_root, f) for f in files
        ]
        self.ann_file = self.ann_files[0] if len(self.ann_files) == 1 else list(self.ann_files)
        for key, prefix in self.data_prefix.items():
            if not isinstance(prefix, str):
                raise TypeError(f'data_prefix[{key!r}] must be a string, got {type(prefix)}')
            if not is_abs(prefix) and self.data_root:
                self.data_prefix[key] = join_path(self.data_root, prefix)
        self.data_prefix.setdefault('img_path', self.data_root or '')

    def __repr__(self) -> str:
        head = f'Dataset {self.__class__.__name__}'
        body = [f'Annotation files: {self.ann_files}', f'Image prefix: {self.data_prefix}']
        if self._fully_initialized:
            body.insert(0, f'Number of {self.SAMPLE_NAME}: {len(self)}')
        return '\n'.join([head] + ['    ' + b for b in body])

    def _select(self, indices) -> Dict[str, np.ndarray]:
        """Index rows by mmengine's subset rule: int n = first n (negative: last n)."""
        if isinstance(indices, (int, np.integer)):
            n = len(self._index['offset'])
            rows = np.arange(n)[:indices] if indices >= 0 else np.arange(n)[indices:]
        else:
            rows = np.asarray(indices, dtype=np.int64)
        return {k: v[rows] for k, v in self._index.items()}

    @force_full_init
    def get_subset_(self, indices) -> None:
        self._index = self._select(indices)

    @force_full_init
    def get_subset(self, indices):
        sub = self._copy_without_annotation()
        sub._index = self._select(indices)
        return sub

    @force_full_init
    def __len__(self) -> int:
        return len(self._index['offset'])

    def _read_line(self, idx: int) -> Tuple[int, str, bytes]:
        """``(row, 'file:line', raw bytes)`` of sample ``idx`` (negative: from the end)."""
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f'{type(self).__name__}: index {idx} out of range ({n})')
        idx = int(idx) % n
        ix = self._index
        path = self.ann_files[ix['file'][idx]]
        raw = self._handles.pread(path, int(ix['length'][idx]), int(ix['offset'][idx]))
        return idx, f'{path}:{ix["line"][idx]}', raw
