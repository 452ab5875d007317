"""Sharded, resumable, multi-process proposal generation, shard merging and filtering.

Two output layouts. ``soco`` (default): images sorted by key, SoCo's filtered dict files.
``orl``: images in the order of their source (the COCO json), one ORL-style file
``PREFIX_selective_search_proposal.json`` = ``{"bbox": [[[x, y, w, h], ...] per image]}``
(``PREFIX`` defaults to ``train2017``), no filtering.

Layout of a ``soco`` output directory (``PREFIX`` defaults to ``train``)::

    OUT/shards/shard-00000-of-00004.json          finished shard (raw boxes, sizes, failures)
    OUT/shards/shard-00001-of-00004.chunks/...    chunks of a shard in progress (resume points)
    OUT/PREFIX_ss_raw.json                        all boxes {key: [[x, y, w, h], ...]}
    OUT/PREFIX_ss_sizes.json                      {key: [W, H]} of the decoded images
    OUT/PREFIX_ss_failures.json / .txt            images that could not be read
    OUT/PREFIX_ratio3size0308.json                strict filter, empty images kept as []
    OUT/PREFIX_ratio3size0308no_props_images.txt  images the strict filter left empty
    OUT/PREFIX_ratio3size0308post.json            with the post fallback: SoCo's training file
    OUT/PREFIX_ratio3size0308postno_props_images.txt
    OUT/PREFIX_ratio3size0308post_stats.json      images per deciding rule, boxes, failures

An ``orl`` one has the same ``shards/``, ``PREFIX_ss_sizes.json`` and ``PREFIX_ss_failures.*``,
then ``PREFIX_selective_search_proposal.json`` (a failed image keeps its place with ``[]``) and
``PREFIX_selective_search_proposal_stats.json``.
"""
import collections
import contextlib
import hashlib
import json
import multiprocessing
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmvisrep.utils.image_io import read_rgb
from mmvisrep.utils.resume import meta_mismatch, progress_bar
from .filters import FilterReport, filter_proposals, parse_strategy
from .io import (atomic_open, atomic_write_json, atomic_write_json_items, atomic_write_text,
                 chunk_dir, chunk_path, find_shards, load_json, shard_path)
from .selective_search import (BACKENDS, METHODS, NEIGHBOURS, OPENCV_PRESET_PARAMS, SOCO_SS_PARAMS,
                               STRATEGIES, ProposalError, check_ss_params)
from .selective_search import selective_search as _selective_search
from .selective_search import warmup_numba

FORMAT_VERSION = 2
DEFAULT_STRATEGY = 'ratio3size0308post'
DEFAULT_CHUNK_SIZE = 256
LAYOUTS = ('soco', 'orl')
DEFAULT_PREFIX = dict(soco='train', orl='train2017')
ORL_SUFFIX = '_selective_search_proposal'


def make_params(backend: str = 'numba',
                method: str = 'soco',
                scale: Optional[float] = None,
                sigma: Optional[float] = None,
                min_size: Optional[int] = None,
                color_space: Optional[str] = None,
                strategies: Optional[Sequence[str]] = None,
                neighbours: Optional[str] = None,
                dedupe: Optional[bool] = None,
                base_k: Optional[int] = None,
                inc_k: Optional[int] = None,
                seed: Optional[int] = None) -> dict:
    """Validated, JSON-serialisable selective-search parameters (stored in every shard).

    Only the parameters of the chosen backend/method are kept; ``None`` means its default.
    Giving a parameter that the backend/method does not use is an error naming it.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if method not in METHODS:
        raise ValueError(f'method must be one of {METHODS}, got {method!r}')
    if backend == 'numba' and method != 'soco':
        raise ValueError(f"method {method!r} is one of OpenCV's presets: use the opencv "
                         "backend (the numba backend runs the official 'soco' algorithm)")
    given = dict(
        scale=scale,
        min_size=min_size,
        color_space=color_space,
        strategies=strategies,
        neighbours=neighbours,
        dedupe=dedupe,
        base_k=base_k,
        inc_k=inc_k,
        seed=seed)
    if method != 'soco':
        used = ('base_k', 'inc_k', 'seed')
    elif backend == 'numba':
        used = ('scale', 'min_size', 'neighbours', 'dedupe')
    else:
        used = ('scale', 'min_size', 'color_space', 'strategies')
    unused = [k for k, v in given.items() if v is not None and k not in used]
    if unused:
        raise ValueError(f'{", ".join(unused)} do(es) not apply to backend {backend!r} with '
                         f'method {method!r} (it uses sigma, {", ".join(used)})')
    params = dict(backend=backend, method=method)
    if method != 'soco':
        params.update(
            base_k=int(OPENCV_PRESET_PARAMS['base_k'] if base_k is None else base_k),
            inc_k=int(OPENCV_PRESET_PARAMS['inc_k'] if inc_k is None else inc_k),
            sigma=float(OPENCV_PRESET_PARAMS['sigma'] if sigma is None else sigma),
            seed=0 if seed is None else int(seed))
        if params['base_k'] <= 0 or params['inc_k'] < 0 or not params['sigma'] >= 0:
            raise ValueError(f'OpenCV {method}: need base_k > 0, inc_k >= 0, sigma >= 0, got '
                             f'{params["base_k"]}, {params["inc_k"]}, {params["sigma"]}')
        return params
    params.update(
        scale=float(SOCO_SS_PARAMS['scale'] if scale is None else scale),
        sigma=float(SOCO_SS_PARAMS['sigma'] if sigma is None else sigma),
        min_size=SOCO_SS_PARAMS['min_size'] if min_size is None else min_size)
    if backend == 'numba':
        check_ss_params(params['scale'], params['sigma'], params['min_size'])
        neighbours = 'bbox' if neighbours is None else neighbours
        if neighbours not in NEIGHBOURS:
            raise ValueError(f'neighbours must be one of {NEIGHBOURS}, got {neighbours!r}')
        params.update(neighbours=neighbours, dedupe=bool(dedupe))
    else:
        color_space = 'rgb' if color_space is None else color_space
        strategies = list(STRATEGIES if strategies is None else strategies)
        check_ss_params(params['scale'], params['sigma'], params['min_size'], color_space,
                        strategies)
        params.update(color_space=color_space, strategies=strategies)
    params['min_size'] = int(params['min_size'])
    return params


# --------------------------------------------------------------------------- sharding
def parse_shard(text: str) -> Tuple[int, int]:
    """``'i/N'`` -> ``(i, N)`` with ``0 <= i < N``."""
    try:
        index, count = (int(v) for v in text.split('/'))
    except ValueError:
        raise ValueError(f'--shard must look like i/N (e.g. 0/4), got {text!r}') from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f'--shard {text}: need 0 <= i < N and N >= 1')
    return index, count


def resolve_shard(shard: Optional[str] = None, env=None) -> Tuple[int, int, str]:
    """``(index, count, source)`` of this process's shard.

    Order: an explicit ``i/N``; torchrun's ``RANK``/``WORLD_SIZE``; slurm, where a job array
    and several tasks per array element combine into ``(array_index * ntasks + procid,
    array_count * ntasks)``; else a single shard ``0/1``.
    """
    env = os.environ if env is None else env
    if shard is not None:
        return (*parse_shard(shard), '--shard')

    def _int(name):
        value = env.get(name)
        if value is None or value == '':
            return None
        try:
            return int(value)
        except ValueError:
            raise ValueError(f'environment variable {name}={value!r} is not an integer') from None

    rank, world = _int('RANK'), _int('WORLD_SIZE')
    if rank is not None and world is not None:
        return (*parse_shard(f'{rank}/{world}'), 'RANK/WORLD_SIZE')
    procid, ntasks = _int('SLURM_PROCID'), _int('SLURM_NTASKS')
    task_id, task_count = _int('SLURM_ARRAY_TASK_ID'), _int('SLURM_ARRAY_TASK_COUNT')
    if task_id is not None and task_count is not None:
        task_min = _int('SLURM_ARRAY_TASK_MIN') or 0
        procid = procid or 0
        ntasks = ntasks or 1
        index = (task_id - task_min) * ntasks + procid
        return (*parse_shard(f'{index}/{task_count * ntasks}'), 'SLURM_ARRAY_TASK_ID')
    if procid is not None and ntasks is not None:
        return (*parse_shard(f'{procid}/{ntasks}'), 'SLURM_PROCID/SLURM_NTASKS')
    return 0, 1, 'single shard'


def shard_bounds(num_images: int, index: int, count: int) -> Tuple[int, int]:
    """``[start, stop)`` of shard ``index``: contiguous blocks whose sizes differ by at most 1."""
    return num_images * index // count, num_images * (index + 1) // count


# --------------------------------------------------------------------------- one image
def load_image(path: str) -> np.ndarray:
    """RGB uint8 image decoded as mmcv/mmpretrain's loader does (OpenCV, EXIF orientation on)."""
    return read_rgb(path, ProposalError)


def compute_proposals(path: str, params: dict) -> Tuple[List[int], List[List[int]]]:
    """``([W, H], boxes)`` of one image file: decode, then selective search with ``params``."""
    img = load_image(path)
    boxes = _selective_search(img, **params)
    return [int(img.shape[1]), int(img.shape[0])], boxes.tolist()


def _work(task):
    """Pool task: never raises for a bad image, returns ``('fail', ...)`` instead."""
    key, path, params = task
    try:
        size, boxes = compute_proposals(path, params)
    except Exception as err:  # a failing image must never stop the run
        message = str(err) if isinstance(err, ProposalError) else f'{type(err).__name__}: {err}'
        return 'fail', key, path, ' '.join(message.split())  # one line for the txt list
    return 'ok', key, size, boxes


def _init_worker(params: Optional[dict] = None):
    """One OpenCV thread per worker process (the workers already use every core); load the
    numba backend once per process, not per image (from numba's on-disk cache)."""
    cv2.setNumThreads(1)
    if params is not None and params.get('backend') == 'numba':
        # never crash-loop the pool: if loading fails, each image then reports the error
        with contextlib.suppress(Exception):
            warmup_numba()


def _make_pool(workers: int, params: Optional[dict] = None):
    """A process pool from a fork server.

    Plain ``fork`` deadlocks once the parent has used OpenCV's thread pool (the child inherits
    its locks but not its threads); a fork server starts clean and imports this module once.
    With the numba backend the fork server also loads the compiled code once
    (``_numba_preload``), so that the workers it forks inherit it.
    """
    ctx = multiprocessing.get_context('forkserver')
    preload = [__name__]
    if params is not None and params.get('backend') == 'numba':
        preload.append(__name__.rsplit('.', 1)[0] + '._numba_preload')
    ctx.set_forkserver_preload(preload)
    return ctx.Pool(workers, initializer=_init_worker, initargs=(params, ))


# --------------------------------------------------------------------------- one shard
def _keys_digest(keys: Sequence[str]) -> str:
    return hashlib.sha1('\n'.join(keys).encode()).hexdigest()


def _check_meta(found: dict, expected: dict, path: str):
    """Refuse to resume from a file written for other images or other parameters."""
    reason = meta_mismatch(found, expected)
    if reason:
        raise ValueError(f'{path} was written by a different run ({reason}); use another output '
                         'directory, the same arguments, or --overwrite to recompute this shard')


def _load_done(path: str, expected: dict) -> Optional[dict]:
    """Content of a finished shard or chunk file if present and matching ``expected``."""
    if not osp.isfile(path):
        return None
    data = load_json(path, 'proposal shard file')
    _check_meta(data.get('meta', {}), expected, path)
    return data


def run_shard(images: Sequence[Tuple[str, str]],
              out_dir: str,
              index: int = 0,
              count: int = 1,
              params: Optional[dict] = None,
              workers: int = 1,
              chunk_size: int = DEFAULT_CHUNK_SIZE,
              progress: bool = True,
              overwrite: bool = False,
              layout: str = 'soco') -> dict:
    """Compute the proposals of shard ``index``/``count`` of ``images`` (``(key, path)`` pairs).

    A finished shard file is skipped. Otherwise the shard is processed in chunks of
    ``chunk_size`` images, each written atomically as soon as it is complete, so a killed run
    loses at most the chunks in flight; a rerun recomputes only the missing chunks. ``layout``
    (``soco`` or ``orl``) is recorded for ``merge_shards``; ``images`` are taken in the given
    order. Returns a summary dict (images, computed, resumed, failed, boxes, seconds).
    """
    params = params or make_params()
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    start, stop = shard_bounds(len(images), index, count)
    shard_images = list(images[start:stop])
    keys = [k for k, _ in shard_images]
    meta = dict(
        version=FORMAT_VERSION,
        layout=layout,
        params=params,
        shard=index,
        num_shards=count,
        num_images=len(images),
        keys_sha1=_keys_digest(keys))
    final = shard_path(out_dir, index, count)
    if overwrite:
        if osp.exists(final):
            os.unlink(final)
        shutil.rmtree(chunk_dir(out_dir, index, count), ignore_errors=True)
    summary = dict(
        shard=f'{index}/{count}',
        path=final,
        images=len(shard_images),
        computed=0,
        resumed=0,
        failed=0,
        boxes=0,
        seconds=0.0)
    done = _load_done(final, meta)
    if done is not None:
        summary.update(
            resumed=len(shard_images),
            skipped=True,
            failed=len(done['failures']),
            boxes=sum(len(v['boxes']) for v in done['images'].values()))
        return summary

    tic = time.time()
    chunks = [shard_images[i:i + chunk_size] for i in range(0, len(shard_images), chunk_size)]
    results: List[Optional[dict]] = [None] * len(chunks)
    for c, chunk in enumerate(chunks):
        chunk_meta = dict(meta, chunk=c, chunk_keys_sha1=_keys_digest([k for k, _ in chunk]))
        results[c] = _load_done(chunk_path(out_dir, index, count, c), chunk_meta)
    todo = [c for c, r in enumerate(results) if r is None]
    summary['resumed'] = sum(len(chunks[c]) for c, r in enumerate(results) if r is not None)
    tasks = [(k, p, params) for c in todo for k, p in chunks[c]]

    bar = progress_bar(
        len(shard_images), f'selective search shard {index}/{count}', progress, summary['resumed'])
    if tasks and params.get('backend') == 'numba':
        warmup_numba()  # compile or load once here: a missing numba fails now, clearly
    pool = _make_pool(workers, params) if workers > 1 and tasks else None
    try:
        outputs = pool.imap(_work, tasks, chunksize=1) if pool else map(_work, tasks)
        for c in todo:
            chunk_meta = dict(
                meta, chunk=c, chunk_keys_sha1=_keys_digest([k for k, _ in chunks[c]]))
            data = dict(meta=chunk_meta, keys=[k for k, _ in chunks[c]], images={}, failures={})
            for _ in chunks[c]:
                out = next(outputs)
                if out[0] == 'ok':
                    data['images'][out[1]] = dict(size=out[2], boxes=out[3])
                else:
                    data['failures'][out[1]] = dict(path=out[2], error=out[3])
                bar.update(1)
            atomic_write_json(data, chunk_path(out_dir, index, count, c))
            results[c] = data
            summary['computed'] += len(chunks[c])
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()

    merged = dict(meta=meta, keys=keys, images={}, failures={})
    for data in results:
        merged['images'].update(data['images'])
        merged['failures'].update(data['failures'])
    atomic_write_json(merged, final)
    shutil.rmtree(chunk_dir(out_dir, index, count), ignore_errors=True)
    summary.update(
        failed=len(merged['failures']),
        boxes=sum(len(v['boxes']) for v in merged['images'].values()),
        seconds=time.time() - tic)
    return summary


# --------------------------------------------------------------------------- filtering
def _filter_outputs(out_dir: str, prefix: str, strategy: str) -> Dict[str, str]:
    """Paths of the filtered files of ``strategy`` (SoCo's names)."""
    main, fallbacks = parse_strategy(strategy)
    paths = dict(
        strict=osp.join(out_dir, f'{prefix}_{main.name}.json'),
        strict_empty=osp.join(out_dir, f'{prefix}_{main.name}no_props_images.txt'),
        stats=osp.join(out_dir, f'{prefix}_{strategy}_stats.json'))
    if fallbacks:
        paths.update(
            final=osp.join(out_dir, f'{prefix}_{strategy}.json'),
            final_empty=osp.join(out_dir, f'{prefix}_{strategy}no_props_images.txt'))
    else:
        paths['final'], paths['final_empty'] = paths['strict'], paths['strict_empty']
    return paths


class _FilterPass:
    """Strict and (with ``post``) fallback filtering, accumulated shard by shard."""

    def __init__(self, strategy: str):
        self.strategy = strategy
        main, fallbacks = parse_strategy(strategy)
        self.post = bool(fallbacks)
        self.strict_report = FilterReport(main.name)
        self.report = FilterReport(strategy) if self.post else self.strict_report
        self.strict, self.final = {}, {}

    def add(self, proposals: dict, sizes: dict):
        strict, _ = filter_proposals(proposals, sizes, self.strict_report.strategy,
                                     self.strict_report)
        self.strict.update(strict)
        if self.post:
            final, _ = filter_proposals(proposals, sizes, self.strategy, self.report)
            self.final.update(final)

    def write(self, out_dir: str, prefix: str, extra: Optional[dict] = None) -> dict:
        paths = _filter_outputs(out_dir, prefix, self.strategy)
        atomic_write_json(self.strict, paths['strict'])
        atomic_write_text(''.join(k + '\n' for k in self.strict_report.empty),
                          paths['strict_empty'])
        if self.post:
            atomic_write_json(self.final, paths['final'])
            atomic_write_text(''.join(k + '\n' for k in self.report.empty), paths['final_empty'])
        stats = self.report.as_dict()
        stats['strict_images_empty'] = len(self.strict_report.empty)
        stats.update(extra or {})
        atomic_write_json(stats, paths['stats'])
        return dict(stats=stats, paths=paths)


def filter_file(raw_json: str,
                sizes_json: str,
                out_dir: Optional[str] = None,
                prefix: str = 'train',
                strategy: str = DEFAULT_STRATEGY) -> dict:
    """Filter an existing raw proposal json (``{key: [[x, y, w, h], ...]}``) with its sizes."""
    parse_strategy(strategy)
    raw = load_json(raw_json, 'raw proposal file')
    sizes = load_json(sizes_json, 'image size file')
    if not isinstance(raw, dict) or not isinstance(sizes, dict):
        raise ValueError(f'{raw_json} and {sizes_json} must each hold one JSON object')
    missing = [k for k in raw if k not in sizes]
    if missing:
        raise KeyError(f'{sizes_json} has no size for {len(missing)} image(s) of {raw_json}, '
                       f'e.g. {missing[:5]}')
    for key, boxes in raw.items():
        if not isinstance(boxes, list) or any(len(b) != 4 for b in boxes):
            raise ValueError(f'{raw_json}: proposals of {key!r} are not a list of [x, y, w, h]')
    passes = _FilterPass(strategy)
    passes.add(raw, sizes)
    return passes.write(out_dir or osp.dirname(osp.abspath(raw_json)), prefix)


# --------------------------------------------------------------------------- merging
def merge_shards(out_dir: str,
                 prefix: Optional[str] = None,
                 num_shards: Optional[int] = None,
                 strategy: str = DEFAULT_STRATEGY,
                 write_raw: bool = True) -> dict:
    """Combine every shard of a run into the size, failure and proposal files of its layout.

    ``soco`` runs get the raw and filtered files (``strategy``), ``orl`` runs the ORL file in
    image order. ``prefix`` defaults to ``train`` (soco) or ``train2017`` (orl). ``num_shards``
    defaults to the one shard count found under ``OUT/shards``; a missing shard raises
    FileNotFoundError naming it. Shards are read one at a time and the raw / ORL files are
    streamed, so memory holds at most the filtered proposals.
    """
    parse_strategy(strategy)
    found = find_shards(out_dir)
    if num_shards is None:
        counts = sorted({n for _, n, _ in found})
        if not counts:
            raise FileNotFoundError(f'no finished shard files under {osp.join(out_dir, "shards")}')
        if len(counts) > 1:
            raise ValueError(f'{osp.join(out_dir, "shards")} holds shards of runs with '
                             f'{counts} shards; pass --num-shards')
        num_shards = counts[0]
    present = {i: p for i, n, p in found if n == num_shards}
    missing = [i for i in range(num_shards) if i not in present]
    if missing:
        names = ', '.join(f'{i} ({shard_path(out_dir, i, num_shards)})' for i in missing[:10])
        more = f' and {len(missing) - 10} more' if len(missing) > 10 else ''
        raise FileNotFoundError(f'cannot merge: {len(missing)} of {num_shards} shards are not '
                                f'finished: {names}{more}')
    first = load_json(present[0], 'proposal shard file').get('meta', {})
    layout = first.get('layout', 'soco')
    if first.get('version') != FORMAT_VERSION or layout not in LAYOUTS:
        raise ValueError(f'{present[0]} was written by another version of this tool (format '
                         f'{first.get("version")}, this is {FORMAT_VERSION}); regenerate it')
    prefix = DEFAULT_PREFIX[layout] if prefix is None else prefix

    sizes, failures, counted = {}, {}, dict(images=0, boxes=0)
    passes = _FilterPass(strategy) if layout == 'soco' else None

    def _shards():
        """(ordered keys, images, failures) of each shard, checked to belong to one run."""
        for i in range(num_shards):
            data = load_json(present[i], 'proposal shard file')
            meta = data.get('meta', {})
            for name in ('version', 'layout', 'params', 'num_shards', 'num_images'):
                if meta.get(name) != first.get(name):
                    raise ValueError(f'{present[i]} and {present[0]} come from different runs '
                                     f'({name} differs)')
            images = data['images']
            sizes.update({k: v['size'] for k, v in images.items()})
            failures.update(data['failures'])
            counted['images'] += len(data['keys'])
            counted['boxes'] += sum(len(v['boxes']) for v in images.values())
            yield data['keys'], images, data['failures']

    def _soco_items():
        for keys, images, _ in _shards():
            proposals = {k: images[k]['boxes'] for k in keys if k in images}
            passes.add(proposals, {k: images[k]['size'] for k in proposals})
            yield from proposals.items()

    def _orl_rows():
        for keys, images, bad in _shards():
            for key in keys:
                if key not in images and key not in bad:
                    raise ValueError(f'shard files of {out_dir} do not hold image {key!r}')
                yield images[key]['boxes'] if key in images else []

    paths = {}
    if layout == 'orl':
        paths['proposals'] = _write_orl(_orl_rows(), osp.join(out_dir,
                                                              f'{prefix}{ORL_SUFFIX}.json'))
    elif write_raw:
        paths['raw'] = atomic_write_json_items(_soco_items(),
                                               osp.join(out_dir, f'{prefix}_ss_raw.json'))
    else:  # still read every shard for the sizes, failures and filter counts
        collections.deque(_soco_items(), maxlen=0)
    if counted['images'] != first.get('num_images'):
        raise ValueError(f'shards of {out_dir} hold {counted["images"]} images, the run listed '
                         f'{first.get("num_images")}')
    paths['sizes'] = atomic_write_json(sizes, osp.join(out_dir, f'{prefix}_ss_sizes.json'))
    paths['failures'] = atomic_write_json(failures, osp.join(out_dir,
                                                             f'{prefix}_ss_failures.json'))
    paths['failures_txt'] = atomic_write_text(
        ''.join(f'{v["path"]}\t{v["error"]}\n' for v in failures.values()),
        osp.join(out_dir, f'{prefix}_ss_failures.txt'))
    extra = dict(
        layout=layout,
        num_shards=num_shards,
        images_listed=first.get('num_images'),
        images_failed=len(failures),
        params=first.get('params'))
    if layout == 'orl':
        stats = dict(images=counted['images'], boxes=counted['boxes'], **extra)
        stats['failed_keys'] = list(failures)
        paths['stats'] = atomic_write_json(stats,
                                           osp.join(out_dir, f'{prefix}{ORL_SUFFIX}_stats.json'))
        paths['final'] = paths['proposals']
        return dict(stats=stats, paths=paths)
    result = passes.write(out_dir, prefix, extra)
    result['paths'].update(paths)
    return result


def _write_orl(rows, path: str) -> str:
    """Stream ``{"bbox": [boxes of image 0, boxes of image 1, ...]}`` to ``path`` atomically."""
    with atomic_open(path) as f:
        f.write('{"bbox":[')
        for i, boxes in enumerate(rows):
            f.write((',' if i else '') + json.dumps(boxes, separators=(',', ':')))
        f.write(']}')
    return path


# --------------------------------------------------------------------------- all in one
def all_shards_done(out_dir: str, num_shards: int) -> bool:
    """Whether every shard file of an ``num_shards`` run exists."""
    return all(osp.isfile(shard_path(out_dir, i, num_shards)) for i in range(num_shards))
