"""CC3M-style image-caption lists (TSV with a header, or JSON Lines) read through a byte-offset
index.

A one-off scan validates every line and keeps three numpy arrays per file (byte offset,
length, line number: 24 bytes a sample, no Python objects per sample), cached next to the file
(or in a cache dir) and keyed by the file's size, mtime and the parsing options.
``get_data_info`` reads its line with ``os.pread`` and parses it. Malformed lines (file:line)
and empty captions are logged, counted and left out at indexing time (``on_error='raise'``:
the first malformed line raises); unreadable images are counted and skipped at load time.
"""
import hashlib
import json
import logging
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.fileio import join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs
from mmpretrain.registry import DATASETS

from ..line_index import (BadLines, LineIndexMixin, LineRows, cache_candidates, cache_root,
                          iter_lines, load_or_build_index, path_digest, rank0_first)
from .skips import EMPTY_CAPTION, MALFORMED_RECORD, SkipCounter, SkipUnreadableMixin

INDEX_VERSION = 1
FORMATS = {'.tsv': 'tsv', '.jsonl': 'jsonl', '.ndjson': 'jsonl'}
_BOM = b'\xef\xbb\xbf'
_KEEP = 1000  # bad / empty lines remembered per file (for logs from a cached index)


class LineRecordError(ValueError):
    """A line that is not a valid image-caption record."""


def infer_format(path: str, file_format: Optional[str] = None) -> str:
    """'tsv' or 'jsonl', given or from the extension (.tsv, .jsonl, .ndjson)."""
    if file_format is not None:
        if file_format not in ('tsv', 'jsonl'):
            raise ValueError(f"file_format must be 'tsv' or 'jsonl', got {file_format!r}")
        return file_format
    fmt = FORMATS.get(osp.splitext(path)[1].lower())
    if fmt is None:
        raise ValueError(f'cannot tell the format of {path} from its extension (.tsv, .jsonl '
                         "or .ndjson); set file_format='tsv' or 'jsonl'")
    return fmt


def tsv_layout(header: bytes, path: str, image_key: str, caption_key: str) -> Tuple[int, ...]:
    """``(image_column, caption_column, num_columns)`` from a TSV header line."""
    try:
        names = header.rstrip(b'\r\n').decode('utf-8').split('\t')
    except UnicodeDecodeError as e:
        raise ValueError(f'{path}:1: the TSV header is not UTF-8 ({e})') from None
    missing = [k for k in (image_key, caption_key) if k not in names]
    if missing:
        raise ValueError(f'{path}:1: the TSV header {names} lacks the column(s) {missing}; '
                         'the first line must name the columns (or set tsv_columns)')
    return names.index(image_key), names.index(caption_key), len(names)


def parse_line(body: bytes,
               fmt: str,
               layout: Sequence,
               image_key: str = 'image',
               caption_key: str = 'caption') -> Tuple[str, str]:
    """``(image, caption)`` of one line (without its newline); raises ``LineRecordError``.

    The caption is returned stripped and may be empty (the caller decides); the image must be
    a non-empty string. TSV fields are taken verbatim (no quoting or escapes).
    """
    if fmt == 'tsv':
        image_col, caption_col, num_cols = layout
        parts = body.split(b'\t')
        if len(parts) != num_cols:
            raise LineRecordError(f'expected {num_cols} tab-separated fields, got {len(parts)}')
        try:
            image = parts[image_col].decode('utf-8').strip()
            caption = parts[caption_col].decode('utf-8').strip()
        except UnicodeDecodeError as e:
            raise LineRecordError(f'not UTF-8: {e}') from None
    else:
        try:
            rec = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise LineRecordError(f'not valid JSON: {e}') from None
        if not isinstance(rec, dict):
            raise LineRecordError(f'expected a JSON object, got {type(rec).__name__}')
        image, caption = rec.get(image_key), rec.get(caption_key)
        if not isinstance(image, str):
            raise LineRecordError(f'"{image_key}" must be a string, got {image!r}'[:200])
        if not isinstance(caption, str):
            raise LineRecordError(f'"{caption_key}" must be a string, got {caption!r}'[:200])
        image, caption = image.strip(), caption.strip()
    if not image:
        raise LineRecordError(f'empty "{image_key}"')
    return image, caption


def build_line_index(path: str,
                     fmt: str,
                     image_key: str = 'image',
                     caption_key: str = 'caption',
                     tsv_columns: Optional[Sequence[str]] = None,
                     on_error: str = 'skip',
                     skips: Optional[SkipCounter] = None,
                     progress: Optional[bool] = None) -> Dict[str, np.ndarray]:
    """Scan one file, validating every line; return its index arrays.

    Keys: ``offset``, ``length`` (bytes, without the newline), ``line`` (1-based), all int64;
    ``layout`` (TSV: image column, caption column, number of columns); ``meta`` = [version,
    size, mtime_ns, num_malformed, num_blank, num_empty_caption]; ``bad_line`` /
    ``bad_message`` / ``empty_line`` (the first 1000). Each malformed line and empty caption is
    passed to ``skips`` (logged with file:line); ``on_error='raise'`` raises on the first
    malformed line instead.
    """
    if on_error not in ('skip', 'raise'):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    skips = skips or SkipCounter('ImageTextFileDataset')
    stat = os.stat(path)
    rows, bad, empty_lines = LineRows(), BadLines(), []
    num_blank = num_empty = 0
    layout: Tuple[int, ...] = ()
    if fmt == 'tsv' and tsv_columns is not None:
        layout = tsv_layout('\t'.join(tsv_columns).encode(), path, image_key, caption_key)
    for lineno, pos, raw in iter_lines(path, stat, progress, every=4096):
        body = raw.rstrip(b'\r\n')
        if lineno == 1 and body.startswith(_BOM):
            body, skip_bom = body[len(_BOM):], len(_BOM)
        else:
            skip_bom = 0
        if fmt == 'tsv' and not layout:
            layout = tsv_layout(body, path, image_key, caption_key)
        elif not body.strip():
            num_blank += 1
        else:
            try:
                _, caption = parse_line(body, fmt, layout, image_key, caption_key)
            except LineRecordError as e:
                if on_error == 'raise':
                    raise ValueError(f'{path}:{lineno}: malformed image-caption line: '
                                     f'{e}') from None
                bad.add(lineno, str(e)[:500])
                skips.add(MALFORMED_RECORD, f'{path}:{lineno}', str(e)[:500])
            else:
                if caption:
                    rows.append(pos + skip_bom, len(body), lineno)
                else:
                    num_empty += 1
                    if len(empty_lines) < _KEEP:
                        empty_lines.append(lineno)
                    skips.add(EMPTY_CAPTION, f'{path}:{lineno}')
    if fmt == 'tsv' and not layout:
        raise ValueError(f'{path}: empty TSV file (no header line)')
    return dict(
        **rows.arrays(),
        layout=np.array(layout, np.int64),
        meta=np.array(
            [INDEX_VERSION, stat.st_size, stat.st_mtime_ns, bad.count, num_blank, num_empty],
            np.int64),
        **bad.arrays(),
        empty_line=np.array(empty_lines, np.int64))


def default_cache_dir() -> str:
    """``$MMVISREP_CACHE/image_text_index`` (default ``~/.cache/mmvisrep/image_text_index``)."""
    return cache_root('image_text_index')


def _options_digest(fmt, image_key, caption_key, tsv_columns) -> str:
    text = json.dumps([INDEX_VERSION, fmt, image_key, caption_key, tsv_columns])
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]


def index_cache_path(path: str, digest: str, cache_dir: Optional[str] = None) -> str:
    """``<file>.<options digest>.itindex.npz`` next to the file or in ``cache_dir``."""
    if cache_dir is None:
        return f'{path}.{digest}.itindex.npz'
    return osp.join(cache_dir, f'{osp.basename(path)}.{path_digest(path)}.{digest}.itindex.npz')


def load_or_build_line_index(path: str,
                             fmt: str,
                             image_key: str = 'image',
                             caption_key: str = 'caption',
                             tsv_columns: Optional[Sequence[str]] = None,
                             cache: Union[str, None, bool] = 'auto',
                             on_error: str = 'skip',
                             skips: Optional[SkipCounter] = None,
                             progress: Optional[bool] = None,
                             read_only: bool = False) -> Dict[str, np.ndarray]:
    """The index of ``path``: from its cache when still valid (same size, mtime and options),
    else built and cached. ``cache``: 'auto' (next to the file, else ``default_cache_dir()``),
    a directory, or None/False (no cache). ``read_only``: never build, {} without a cache.
    """
    columns = list(tsv_columns) if tsv_columns is not None else None
    digest = _options_digest(fmt, image_key, caption_key, columns)
    return load_or_build_index(
        path,
        'image-caption',
        INDEX_VERSION,
        cache_candidates(cache, lambda d: index_cache_path(path, digest, d), default_cache_dir),
        lambda: build_line_index(path, fmt, image_key, caption_key, columns, on_error, skips,
                                 progress),
        lambda index, candidate: _report_cached(path, index, candidate, skips),
        lambda msg: print_log(msg, logger='current', level=logging.WARNING),
        read_only=read_only)


def _report_cached(path: str, index: dict, cache: str, skips: Optional[SkipCounter]) -> None:
    """Log the skips recorded in a cached index (they were logged one by one when built)."""
    num_bad, num_empty = int(index['meta'][3]), int(index['meta'][5])
    if skips is not None:
        skips.counts[MALFORMED_RECORD] += num_bad
        skips.counts[EMPTY_CAPTION] += num_empty
    if not (num_bad or num_empty):
        return
    shown = [
        f'{path}:{line}: {msg}'
        for line, msg in zip(index['bad_line'][:10], index['bad_message'][:10])
    ]
    shown += [f'{path}:{line}: empty caption' for line in index['empty_line'][:10]]
    print_log(
        f'{path}: {num_bad} malformed line(s) and {num_empty} empty caption(s) skipped (from '
        f'the index cache {cache}; first ones:)' + ''.join('\n  ' + s for s in shown),
        logger='current',
        level=logging.WARNING)


@DATASETS.register_module()
class ImageTextFileDataset(SkipUnreadableMixin, LineIndexMixin, BaseDataset):
    """Image-caption pairs listed in TSV (with a header) or JSONL files, e.g. CC3M.

    TSV: the first line names the columns; the columns ``image_key`` and ``caption_key`` are
    used, others ignored (fields are taken verbatim: no quoting, so captions cannot contain
    tabs or newlines). JSONL: one object per line with the keys ``image_key`` and
    ``caption_key``. ``image``: a path relative to ``data_prefix['img_path']`` or absolute.

    Each sample has ``img_path``, ``caption`` (stripped) and ``ann_source`` (``file:line``).
    Skips, counted and logged (see ``skips.py``): malformed lines and empty captions at index
    time (``on_error='raise'``: a malformed line raises); unreadable images at load time
    (training: replaced by another sample; ``test_mode``: error). Counts of index-time skips
    are in ``index_skips``.

    Args:
        ann_file (str | list[str]): File(s), relative to ``data_root`` unless absolute.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
        data_prefix (str | dict): Image root (``dict(img_path=...)``). Defaults to ''.
        file_format (str | None): 'tsv' or 'jsonl'; None: from the extension.
        image_key (str): Column / key of the image path. Defaults to 'image'.
        caption_key (str): Column / key of the caption. Defaults to 'caption'.
        tsv_columns (list[str] | None): Column names of a TSV without a header line.
        index_cache (str | None): 'auto', a directory, or None (no cache).
        on_error (str): 'skip' (default) or 'raise' for malformed lines.
        max_reported_errors (int): Skips of one reason logged one by one. Defaults to 20.
        index_progress (bool | None): tqdm bar while indexing; None: for files over 64 MiB.
        **kwargs: Other ``BaseDataset`` arguments; ``serialize_data`` is ignored.
    """

    METAINFO = dict(dataset_name='image-caption list')

    def __init__(self,
                 ann_file: Union[str, Sequence[str]],
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 file_format: Optional[str] = None,
                 image_key: str = 'image',
                 caption_key: str = 'caption',
                 tsv_columns: Optional[Sequence[str]] = None,
                 index_cache: Union[str, None] = 'auto',
                 on_error: str = 'skip',
                 max_reported_errors: int = 20,
                 index_progress: Optional[bool] = None,
                 **kwargs):
        self.file_format = file_format
        self.image_key = image_key
        self.caption_key = caption_key
        self.tsv_columns = list(tsv_columns) if tsv_columns is not None else None
        self.skips = SkipCounter('ImageTextFileDataset', max_reported=max_reported_errors)
        self.index_skips: Dict[str, int] = {}
        super().__init__(ann_file, data_root, data_prefix, index_cache, on_error, index_progress,
                         **kwargs)

    def _join_prefix(self):
        super()._join_prefix()
        self.formats = [infer_format(f, self.file_format) for f in self.ann_files]

    def _file_index(self, path: str, fmt: str) -> Dict[str, np.ndarray]:
        """One file's index; under DDP rank 0 builds it while the others wait for the cache."""
        return rank0_first(
            load_or_build_line_index,
            path,
            self.index_cache,
            fmt=fmt,
            image_key=self.image_key,
            caption_key=self.caption_key,
            tsv_columns=self.tsv_columns,
            on_error=self.on_error,
            skips=self.skips,
            progress=self.index_progress)

    def full_init(self):
        if self._fully_initialized:
            return
        before = dict(self.skips.counts)
        parts = [self._file_index(p, f) for p, f in zip(self.ann_files, self.formats)]
        self.layouts = [tuple(int(v) for v in p['layout']) for p in parts]
        index = dict(
            file=np.concatenate(
                [np.full(len(p['offset']), i, np.int32) for i, p in enumerate(parts)]),
            offset=np.concatenate([p['offset'] for p in parts]),
            length=np.concatenate([p['length'] for p in parts]),
            line=np.concatenate([p['line'] for p in parts]))
        self.index_skips = {
            k: int(self.skips.counts[k] - before.get(k, 0))
            for k in (MALFORMED_RECORD, EMPTY_CAPTION)
        }
        if len(index['offset']) == 0:
            raise ValueError(f'ImageTextFileDataset: no valid image-caption line in '
                             f'{self.ann_files} (skipped: {self.index_skips})')
        self._index = index
        if self._indices is not None:
            self._index = self._select(self._indices)
        self._fully_initialized = True
        skipped = sum(self.index_skips.values())
        print_log(
            f'ImageTextFileDataset: {len(self)} image-caption pairs from {len(self.ann_files)} '
            f'file(s); skipped lines: {self.skips.summary(self.index_skips)}',
            logger='current',
            level=logging.WARNING if skipped else logging.INFO)

    def sample_source(self, idx: int) -> str:
        """``file:line`` of sample ``idx``."""
        ix = self._index
        return f'{self.ann_files[ix["file"][idx]]}:{ix["line"][idx]}'

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Read and parse line ``idx``: ``img_path``, ``caption``, ``sample_idx``,
        ``ann_source``."""
        idx, where, raw = self._read_line(idx)
        file_id = int(self._index['file'][idx])
        try:
            image, caption = parse_line(raw, self.formats[file_id], self.layouts[file_id],
                                        self.image_key, self.caption_key)
        except LineRecordError as e:
            raise ValueError(f'{where}: {e} (the file changed after it was indexed? the index '
                             'cache is keyed by size and mtime)') from None
        prefix = self.data_prefix['img_path']
        img_path = image if is_abs(image) or not prefix else join_path(prefix, image)
        return dict(img_path=img_path, caption=caption, sample_idx=idx, ann_source=where)
