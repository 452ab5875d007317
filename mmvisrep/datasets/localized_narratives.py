"""Localized Narratives (Pont-Tuset et al., ECCV 2020) read through a byte-offset index.

The official annotations are JSON Lines, one narrative (image x annotator) per line with
exactly 7 keys (spec 2.4); big splits come in shards. The dataset never holds the records as
Python objects: a one-off scan validates every line and keeps numpy arrays (file, byte
offset, length, line number, source id, image id) -- about 30 bytes per narrative -- cached
next to the file (or in a cache dir) and keyed by the file's size and mtime. ``__getitem__``
reads one line with ``os.pread`` and parses it. Malformed lines are logged with ``file:line``,
counted and skipped (or raise, with ``on_error='raise'``), never dropped silently.
"""
import json
import os
import os.path as osp
import string
from array import array
from fnmatch import fnmatchcase
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.fileio import join_path
from mmengine.logging import print_log
from mmpretrain.registry import DATASETS

from .line_index import (BadLines, LineIndexMixin, LineRows, cache_candidates, cache_root,
                         iter_lines, load_or_build_index, path_digest, rank0_first)
from .transforms.traces import check_trace_pipeline

# The fields of the official loader's ``LocalizedNarrative`` namedtuple, in its order.
LN_KEYS = ('dataset_id', 'image_id', 'annotator_id', 'caption', 'timed_caption', 'traces',
           'voice_recording')
_KEY_SET = frozenset(LN_KEYS)
INDEX_VERSION = 1
# Image file of a record, relative to ``data_prefix['img_path']``, by ``dataset_id``: an exact
# id or an fnmatch pattern (first match wins). Fields: ``{image_id}`` (a ``d``/``x`` format
# spec converts it to int first) and ``{dataset_id}``. Only the COCO ids are verified (spec
# 2.4); the others are guesses from the official loader's 'Flic' / 'ADE' tests -- set
# ``image_templates`` for your layout.
DEFAULT_IMAGE_TEMPLATES = {
    'mscoco_train2017': 'train2017/{image_id:012d}.jpg',
    'mscoco_val2017': 'val2017/{image_id:012d}.jpg',
    '*open_images*': '{image_id}.jpg',
    '*Flic*': '{image_id}.jpg',
    '*ADE*': '{image_id}.jpg',
}


class LNRecordError(ValueError):
    """A line that is not a valid Localized Narratives record."""


# ---------------------------------------------------------------------------- record parsing


def _numbers(values: list, width: int, what: str) -> np.ndarray:
    """(n, width) float64 array of JSON numbers; anything else raises LNRecordError."""
    if not values:
        return np.zeros((0, width), np.float64)
    arr = np.array(values)
    if arr.dtype.kind not in 'fi' or arr.shape != (len(values), width):
        bad = next((v for row in values
                    for v in row if isinstance(v, bool) or not isinstance(v, (int, float))), None)
        raise LNRecordError(f'{what} must be numbers, got {bad!r}')
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise LNRecordError(f'{what} must be finite numbers')
    return arr


def _locate(items, keys, what):
    """Message naming the first entry of ``items`` (a list of dicts) lacking ``keys``."""
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return f'{what}[{i}] must be an object, got {type(item).__name__}'
        missing = [k for k in keys if k not in item]
        if missing:
            return f'{what}[{i}] lacks {missing}'
    return f'{what} is malformed'


def parse_record(rec) -> dict:
    """Validate one decoded LN record and convert it to the arrays the pipeline uses.

    Returns ``dataset_id``, ``image_id``, ``annotator_id``, ``caption``, ``voice_recording``,
    ``utterances`` (list of K str), ``utterance_times`` float64 (K, 2) [start, end] seconds,
    ``trace_xy`` float64 (N, 2) normalised image coordinates, ``trace_t`` float64 (N,) seconds
    and ``trace_seg`` int32 (N,) segment index. Raises ``LNRecordError`` otherwise.
    """
    if not isinstance(rec, dict):
        raise LNRecordError(f'expected a JSON object, got {type(rec).__name__}')
    if len(rec) != len(LN_KEYS) or rec.keys() != _KEY_SET:
        missing = [k for k in LN_KEYS if k not in rec]
        extra = sorted(k for k in rec if k not in _KEY_SET)
        hint = ''
        if 'traces' in missing and 'caption' in rec:
            hint = (' (a captions-only *_captions.jsonl file? Trace rendering needs the full '
                    '*_localized_narratives.jsonl)')
        raise LNRecordError(f'expected exactly the 7 Localized Narratives keys {list(LN_KEYS)}; '
                            f'missing {missing}, unexpected {extra}{hint}')
    for key in ('dataset_id', 'image_id', 'caption', 'voice_recording'):
        if not isinstance(rec[key], str):
            raise LNRecordError(f'{key} must be a string, got {type(rec[key]).__name__}')
    if not isinstance(rec['annotator_id'], int) or isinstance(rec['annotator_id'], bool):
        raise LNRecordError(f'annotator_id must be an integer, got {rec["annotator_id"]!r}')
    timed, traces = rec['timed_caption'], rec['traces']
    if not isinstance(timed, list):
        raise LNRecordError(f'timed_caption must be a list, got {type(timed).__name__}')
    if not isinstance(traces, list):
        raise LNRecordError(f'traces must be a list, got {type(traces).__name__}')
    try:
        utterances = [u['utterance'] for u in timed]
        times = [(u['start_time'], u['end_time']) for u in timed]
    except (TypeError, KeyError):
        raise LNRecordError(
            _locate(timed, ('utterance', 'start_time', 'end_time'), 'timed_caption')) from None
    if not all(isinstance(u, str) for u in utterances):
        raise LNRecordError('timed_caption utterances must be strings')
    times = _numbers(times, 2, 'timed_caption start_time/end_time')
    try:
        lengths = [len(s) for s in traces]
        points = [(p['x'], p['y'], p['t']) for s in traces for p in s]
    except (TypeError, KeyError):
        for i, s in enumerate(traces):
            if not isinstance(s, list):
                raise LNRecordError(f'traces[{i}] must be a list of points, got '
                                    f'{type(s).__name__}') from None
            msg = _locate(s, ('x', 'y', 't'), f'traces[{i}]')
            if not msg.endswith('malformed'):
                raise LNRecordError(msg) from None
        raise LNRecordError('traces are malformed') from None
    if not all(isinstance(s, list) for s in traces):
        raise LNRecordError('every trace segment must be a list of points')
    xyt = _numbers(points, 3, 'traces x/y/t')
    return dict(
        dataset_id=rec['dataset_id'],
        image_id=rec['image_id'],
        annotator_id=rec['annotator_id'],
        caption=rec['caption'],
        voice_recording=rec['voice_recording'],
        utterances=utterances,
        utterance_times=times,
        trace_xy=xyt[:, :2].copy(),
        trace_t=xyt[:, 2].copy(),
        trace_seg=np.repeat(np.arange(len(lengths), dtype=np.int32), lengths))


def parse_line(raw: Union[bytes, str]) -> dict:
    """``parse_record(json.loads(raw))``; JSON errors become ``LNRecordError``."""
    try:
        rec = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise LNRecordError(f'not valid JSON: {e}') from None
    return parse_record(rec)


# ---------------------------------------------------------------------------- byte-offset index


def build_ln_index(path: str,
                   on_error: str = 'skip',
                   max_reported: int = 20,
                   progress: Optional[bool] = None) -> Dict[str, np.ndarray]:
    """Scan one JSONL file, validating every line; return the index arrays.

    Keys: ``offset`` int64, ``length`` int64 (bytes, without the newline), ``line`` int64
    (1-based), ``source`` int16 (into ``dataset_ids``), ``image_id`` bytes (S); and
    ``dataset_ids`` (str), ``meta`` = [version, size, mtime_ns, num_bad, num_blank],
    ``bad_line`` / ``bad_message`` (the first 1000 malformed lines). Malformed lines are
    logged with ``path:line`` (the first ``max_reported``), counted and left out; with
    ``on_error='raise'`` the first one raises ``ValueError``.
    """
    if on_error not in ('skip', 'raise'):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    stat = os.stat(path)
    rows, sources = LineRows(), array('h')
    image_ids: List[bytes] = []
    codes: Dict[str, int] = {}
    bad = BadLines()
    num_blank = 0
    for lineno, pos, raw in iter_lines(path, stat, progress, every=2048):
        body = raw.rstrip(b'\r\n')
        if not body.strip():
            num_blank += 1
            continue
        try:
            rec = parse_line(body)
        except LNRecordError as e:
            msg = str(e)[:500]
            if on_error == 'raise':
                raise ValueError(f'{path}:{lineno}: malformed Localized Narratives '
                                 f'record: {msg}') from None
            bad.add(lineno, msg)
            if bad.count <= max_reported:
                print_log(
                    f'{path}:{lineno}: malformed Localized Narratives record skipped: {msg}',
                    logger='current',
                    level=30)
            continue
        code = codes.setdefault(rec['dataset_id'], len(codes))
        if code > np.iinfo(np.int16).max:
            raise ValueError(f'{path}:{lineno}: more than 32767 dataset_ids')
        rows.append(pos, len(body), lineno)
        sources.append(code)
        image_ids.append(rec['image_id'].encode('utf-8'))
    return dict(
        **rows.arrays(),
        source=np.frombuffer(sources, np.int16).copy(),
        image_id=np.array(image_ids, dtype=bytes) if image_ids else np.zeros(0, 'S1'),
        dataset_ids=np.array(list(codes), dtype=str) if codes else np.zeros(0, 'U1'),
        meta=np.array([INDEX_VERSION, stat.st_size, stat.st_mtime_ns, bad.count, num_blank],
                      np.int64),
        **bad.arrays())


def default_cache_dir() -> str:
    """``$MMVISREP_CACHE/ln_index`` (default ``~/.cache/mmvisrep/ln_index``)."""
    return cache_root('ln_index')


def index_cache_path(path: str, cache_dir: Optional[str] = None) -> str:
    """``<file>.lnindex.npz`` next to the file, or a name keyed by its absolute path."""
    if cache_dir is None:
        return path + '.lnindex.npz'
    return osp.join(cache_dir, f'{osp.basename(path)}.{path_digest(path)}.lnindex.npz')


def load_or_build_ln_index(path: str,
                           cache: Union[str, None, bool] = 'auto',
                           on_error: str = 'skip',
                           max_reported: int = 20,
                           progress: Optional[bool] = None,
                           read_only: bool = False) -> Dict[str, np.ndarray]:
    """The index of ``path``: from its cache if still valid, else built (and cached).

    ``cache``: 'auto' (next to the file, else ``default_cache_dir()`` when that folder is not
    writable), a directory, or None/False (no cache). ``read_only``: never build, return an
    empty dict when no valid cache exists (for ranks waiting on rank 0).
    """

    def build():
        index = build_ln_index(
            path, on_error=on_error, max_reported=max_reported, progress=progress)
        if index['meta'][3]:
            _report_bad(path, index, 0)
        return index

    return load_or_build_index(
        path,
        'Localized Narratives',
        INDEX_VERSION,
        cache_candidates(cache, lambda d: index_cache_path(path, d), default_cache_dir),
        build,
        lambda index, candidate: _report_bad(path, index, max_reported, from_cache=candidate),
        lambda msg: print_log(msg, logger='current', level=30),
        read_only=read_only)


def _report_bad(path: str, index: dict, max_reported: int, from_cache: str = '') -> None:
    """Log the malformed-line count of a file (and the first lines, when from a cache)."""
    num_bad = int(index['meta'][3])
    if not num_bad:
        return
    shown = [
        f'{path}:{line}: {msg}'
        for line, msg in zip(index['bad_line'][:max_reported], index['bad_message'][:max_reported])
    ] if from_cache else []
    print_log(
        f'{path}: {num_bad} malformed Localized Narratives line(s) skipped' +
        (f' (index cache {from_cache})' if from_cache else '') + ''.join('\n  ' + s
                                                                         for s in shown),
        logger='current',
        level=30)


# ---------------------------------------------------------------------------- image paths


class ImagePathTemplates:
    """Maps ``(dataset_id, image_id)`` to an image path with per-source templates."""

    def __init__(self, templates: Optional[Dict[str, str]] = None):
        templates = DEFAULT_IMAGE_TEMPLATES if templates is None else dict(templates)
        if not templates:
            raise ValueError('image_templates must not be empty')
        self.templates = templates
        self._numeric = {}
        for key, template in templates.items():
            numeric = False
            for _, field, spec, _ in string.Formatter().parse(template):
                if field is None:
                    continue
                if field not in ('image_id', 'dataset_id'):
                    raise ValueError(f'image template {template!r} (for {key!r}) uses '
                                     f'{{{field}}}; only {{image_id}} and {{dataset_id}} exist')
                if field == 'image_id' and spec and spec[-1] in 'bdoxXn':
                    numeric = True
            self._numeric[key] = numeric

    def match(self, dataset_id: str) -> Optional[str]:
        """The template key for ``dataset_id`` (exact key first, then patterns in order)."""
        if dataset_id in self.templates:
            return dataset_id
        for key in self.templates:
            if fnmatchcase(dataset_id, key):
                return key
        return None

    def numeric(self, key: str) -> bool:
        return self._numeric[key]

    def format(self, key: str, dataset_id: str, image_id: str) -> str:
        value = int(image_id) if self._numeric[key] else image_id
        return self.templates[key].format(image_id=value, dataset_id=dataset_id)


# ---------------------------------------------------------------------------- dataset


@DATASETS.register_module()
class LocalizedNarrativesDataset(LineIndexMixin, BaseDataset):
    """Localized Narratives JSONL files (sharded files concatenated) as an mmengine dataset.

    Every line (narrative) is one sample, so an image with several narratives appears once per
    narrative. Each sample carries ``img_path`` (``data_prefix['img_path']`` + the template of
    its ``dataset_id``, see ``DEFAULT_IMAGE_TEMPLATES``), the fields of ``parse_record``
    (``utterances``, ``utterance_times``, ``trace_xy``, ``trace_t``, ``trace_seg``...), and
    ``ann_source`` = ``file:line``.

    Bad input: a malformed line -> logged with file:line, counted, skipped (``on_error=
    'raise'``: ``ValueError``); a file with no valid record, a ``dataset_id`` without a
    template, a non-numeric ``image_id`` for a numeric template -> ``ValueError`` at init; a
    missing image -> ``FileNotFoundError`` naming the record when loaded.

    Args:
        ann_file (str | list[str]): JSONL file(s), relative to ``data_root`` unless absolute.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
        data_prefix (str | dict): Image root (``dict(img_path=...)``). Defaults to ''.
        image_templates (dict | None): ``{dataset_id or pattern: template}``; None: defaults.
        index_cache (str | None): 'auto', a directory or None (see ``load_or_build_ln_index``).
        on_error (str): 'skip' or 'raise' for malformed lines. Defaults to 'skip'.
        max_reported_errors (int): Malformed lines logged one by one per file. Defaults to 20.
        index_progress (bool | None): tqdm bar while indexing; None: for files over 64 MiB.
        **kwargs: ``BaseDataset`` arguments (``pipeline``, ``indices``, ``lazy_init``,
            ``test_mode``, ``max_refetch``, ``metainfo``); ``serialize_data`` is ignored (the
            index is already a few numpy arrays).
    """

    METAINFO = dict(dataset_name='Localized Narratives')
    ANN_FILE_KIND = 'a JSONL path'
    SAMPLE_NAME = 'narratives'

    def __init__(self,
                 ann_file: Union[str, Sequence[str]],
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 image_templates: Optional[Dict[str, str]] = None,
                 index_cache: Union[str, None] = 'auto',
                 on_error: str = 'skip',
                 max_reported_errors: int = 20,
                 index_progress: Optional[bool] = None,
                 **kwargs):
        self.templates = ImagePathTemplates(image_templates)
        self.max_reported_errors = max_reported_errors
        super().__init__(ann_file, data_root, data_prefix, index_cache, on_error, index_progress,
                         **kwargs)
        check_trace_pipeline(self.pipeline.transforms, 'LocalizedNarrativesDataset')

    # ------------------------------------------------------------------ index
    def _file_index(self, path: str) -> Dict[str, np.ndarray]:
        """One file's index; under DDP rank 0 builds it while the others wait for the cache."""
        return rank0_first(
            load_or_build_ln_index,
            path,
            self.index_cache,
            on_error=self.on_error,
            max_reported=self.max_reported_errors,
            progress=self.index_progress)

    def full_init(self):
        """Load or build the index of every file, concatenate, map sources to templates."""
        if self._fully_initialized:
            return
        parts = [self._file_index(path) for path in self.ann_files]
        for path, part in zip(self.ann_files, parts):
            if len(part['offset']) == 0:
                meta = part['meta']
                first = (f'; first error {path}:{part["bad_line"][0]}: {part["bad_message"][0]}'
                         if len(part['bad_line']) else '')
                raise ValueError(f'LocalizedNarrativesDataset: no valid record in {path} '
                                 f'({int(meta[3])} malformed, {int(meta[4])} blank lines)'
                                 f'{first}')
        dataset_ids = sorted({str(d) for p in parts for d in p['dataset_ids']})
        code_of = {d: i for i, d in enumerate(dataset_ids)}
        sources = []
        for part in parts:
            remap = np.array([code_of[str(d)] for d in part['dataset_ids']], np.int16)
            sources.append(remap[part['source']])
        index = dict(
            file=np.concatenate(
                [np.full(len(p['offset']), i, np.int16) for i, p in enumerate(parts)]),
            offset=np.concatenate([p['offset'] for p in parts]),
            length=np.concatenate([p['length'] for p in parts]),
            line=np.concatenate([p['line'] for p in parts]),
            source=np.concatenate(sources),
            image_id=np.concatenate([p['image_id'] for p in parts]))
        self.dataset_ids = dataset_ids
        self._template_keys = []
        for code, dataset_id in enumerate(dataset_ids):
            key = self.templates.match(dataset_id)
            if key is None:
                first = int(np.argmax(index['source'] == code))
                raise ValueError(
                    f'LocalizedNarrativesDataset: no image template for dataset_id '
                    f'{dataset_id!r} (e.g. {self._where(index, first)}); image_templates has '
                    f'{list(self.templates.templates)}: add an entry for it')
            if self.templates.numeric(key):
                ids = index['image_id'][index['source'] == code]
                digits = np.char.isdigit(ids)
                if not digits.all():
                    rows = np.nonzero(index['source'] == code)[0]
                    bad = int(rows[np.argmin(digits)])
                    raise ValueError(
                        f'LocalizedNarrativesDataset: image_id {index["image_id"][bad]!r} of '
                        f'{self._where(index, bad)} is not numeric, but the template '
                        f'{self.templates.templates[key]!r} for {dataset_id!r} needs a number')
            self._template_keys.append(key)
        self.num_malformed = int(sum(p['meta'][3] for p in parts))
        self._index = index
        if self._indices is not None:
            self._index = self._select(self._indices)
        self._fully_initialized = True
        print_log(
            f'LocalizedNarrativesDataset: {len(self)} narratives of {self.num_images()} images '
            f'from {len(self.ann_files)} file(s), dataset_ids {dataset_ids}' +
            (f'; {self.num_malformed} malformed line(s) skipped' if self.num_malformed else ''),
            logger='current',
            level=30 if self.num_malformed else 20)

    def _where(self, index: dict, row: int) -> str:
        return f'{self.ann_files[index["file"][row]]}:{index["line"][row]}'

    @force_full_init
    def num_images(self) -> int:
        """Distinct (dataset_id, image_id) pairs."""
        src, ids = self._index['source'], self._index['image_id']
        return int(sum(len(np.unique(ids[src == c])) for c in np.unique(src)))

    @force_full_init
    def image_key(self, idx: int):
        """``(dataset_id, image_id)`` of a sample, without reading the file."""
        return (self.dataset_ids[self._index['source'][idx]],
                self._index['image_id'][idx].decode('utf-8'))

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Read and parse line ``idx`` and add ``img_path``, ``sample_idx``, ``ann_source``."""
        idx, where, raw = self._read_line(idx)
        try:
            info = parse_line(raw)
        except LNRecordError as e:
            raise ValueError(f'{where}: {e} (the file changed after it was indexed? its index '
                             'cache is keyed by size and mtime)') from None
        code = int(self._index['source'][idx])
        key = self._template_keys[code]
        rel = self.templates.format(key, info['dataset_id'], info['image_id'])
        info['img_path'] = join_path(self.data_prefix['img_path'], rel)
        info['sample_idx'] = idx
        info['ann_source'] = where
        return info

    def prepare_data(self, idx: int):
        """Run the pipeline; a missing image raises an error naming the record and path."""
        try:
            return super().prepare_data(idx)
        except FileNotFoundError as e:
            info = self.get_data_info(idx)
            raise FileNotFoundError(f'LocalizedNarrativesDataset: image of {info["ann_source"]} '
                                    f'(dataset_id {info["dataset_id"]}, image_id '
                                    f'{info["image_id"]}) not found: {info["img_path"]}') from e
