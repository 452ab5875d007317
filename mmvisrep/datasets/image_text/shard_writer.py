"""Pack an image-caption dataset into webdataset-style tar shards (make_image_text_shards.py).

Shard ``j`` holds the samples ``[j * S, (j + 1) * S)`` of the source dataset (minus skipped
ones), so the work splits over processes (``j % N == i``) and resumes shard by shard: each
tar is written atomically, then a ``.done.json`` record; a shard with its record is not
redone. When all records exist, the manifest ``{prefix}.json`` is written (the file to give
``ImageTextShardDataset``).
"""
import hashlib
import io
import json
import logging
import math
import os
import os.path as osp
import re
import tarfile
from typing import Dict, Optional, Tuple

import mmcv
from mmengine.logging import print_log

from mmvisrep.utils.atomic_io import atomic_open, atomic_write_json, load_json
from .skips import UNREADABLE_IMAGE, SkipCounter
from .tar_shards import IMAGE_EXTS, MANIFEST_FORMAT

_EXT_ALIASES = {'jpeg': 'jpg'}


def shard_name(prefix: str, index: int) -> str:
    return f'{prefix}-{index:06d}.tar'


def done_name(prefix: str, index: int) -> str:
    return f'{prefix}-{index:06d}.done.json'


def options_digest(options: dict) -> str:
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0  # same bytes on every run
    tar.addfile(info, io.BytesIO(data))


def _read_image(path: str, verify: bool) -> Tuple[Optional[bytes], str, str]:
    """``(bytes or None, extension, error)`` of an image file."""
    ext = osp.splitext(path)[1].lower().lstrip('.')
    ext = _EXT_ALIASES.get(ext, ext)
    if ext not in IMAGE_EXTS:
        return None, ext, f'unsupported image extension {ext!r} (supported: {IMAGE_EXTS})'
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        return None, ext, f'{type(e).__name__}: {e}'
    if verify:
        try:
            ok = mmcv.imfrombytes(data) is not None
        except Exception as e:  # noqa: B902 -- any decoder error means unreadable
            return None, ext, f'{type(e).__name__}: {e}'
        if not ok:
            return None, ext, 'cannot be decoded'
    return data, ext, ''


def write_shard(dataset,
                index: int,
                start: int,
                stop: int,
                out_dir: str,
                prefix: str,
                verify: bool,
                skips: SkipCounter,
                bar=None) -> Dict:
    """Write shard ``index`` with samples ``[start, stop)`` of ``dataset``; its record."""
    path = osp.join(out_dir, shard_name(prefix, index))
    before = dict(skips.counts)
    written = 0
    with atomic_open(path, 'wb') as f, tarfile.open(
            fileobj=f, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for k in range(start, stop):
            info = dataset.get_data_info(k)
            where = info.get('ann_source', f'sample {k}')
            data, ext, error = _read_image(info['img_path'], verify)
            if bar is not None:
                bar.update(1)
            if data is None:
                skips.add(UNREADABLE_IMAGE, where, f'{info["img_path"]}: {error}')
                continue
            key = f'{k:09d}'
            captions = info.get('captions') or [info['caption']]
            meta = dict(
                caption=captions if len(captions) > 1 else captions[0],
                image=info['img_path'],
                source=where)
            _add_member(tar, f'{key}.{ext}', data)
            if len(captions) == 1:
                _add_member(tar, f'{key}.txt', captions[0].encode('utf-8'))
            _add_member(tar, f'{key}.json', json.dumps(meta, ensure_ascii=False).encode('utf-8'))
            written += 1
    skipped = {r: n - before.get(r, 0) for r, n in skips.counts.items() if n - before.get(r, 0)}
    return dict(
        file=shard_name(prefix, index),
        num_samples=written,
        first_source_index=start,
        stop_source_index=stop,
        skipped=skipped)


def pack_shards(dataset,
                out_dir: str,
                options: dict,
                samples_per_shard: int = 1000,
                prefix: str = 'shard',
                shard: Tuple[int, int] = (0, 1),
                verify: bool = True,
                progress: bool = True,
                max_reported: int = 20,
                source_skipped: Optional[Dict[str, int]] = None) -> Dict:
    """Write this process's shards of ``dataset`` (see the module docstring); returns a summary
    dict (``written``, ``reused``, ``num_shards``, ``manifest`` path or None, ``skipped``).

    ``options`` (the source and settings) is stored in every record; records from other
    options in ``out_dir`` raise ``ValueError`` instead of being mixed in. ``source_skipped``
    (the source reader's skip counts, e.g. empty captions) goes into the manifest.
    """
    if samples_per_shard < 1:
        raise ValueError(f'samples_per_shard must be >= 1, got {samples_per_shard}')
    if not re.fullmatch(r'[A-Za-z0-9_-]+', prefix):
        raise ValueError(f'prefix must be letters, digits, _ or - (no dots), got {prefix!r}')
    from tqdm import tqdm
    os.makedirs(out_dir, exist_ok=True)
    digest = options_digest(dict(options, samples_per_shard=samples_per_shard, verify=verify))
    total = len(dataset)
    num_shards = math.ceil(total / samples_per_shard)
    mine = [j for j in range(num_shards) if j % shard[1] == shard[0]]
    skips = SkipCounter('make_image_text_shards', max_reported=max_reported)
    written = reused = 0
    todo = []
    for j in mine:
        record = osp.join(out_dir, done_name(prefix, j))
        if osp.isfile(record) and osp.isfile(osp.join(out_dir, shard_name(prefix, j))):
            found = load_json(record, 'shard record')
            if found.get('options_digest') != digest:
                raise ValueError(f'{record} was written with other options (source or settings: '
                                 f'{found.get("options")}); use a new output folder')
            reused += 1
        else:
            todo.append(j)
    num_todo = sum(min(total, (j + 1) * samples_per_shard) - j * samples_per_shard for j in todo)
    with tqdm(total=num_todo, unit='img', disable=not progress, desc='packing') as bar:
        for j in todo:
            start, stop = j * samples_per_shard, min(total, (j + 1) * samples_per_shard)
            rec = write_shard(dataset, j, start, stop, out_dir, prefix, verify, skips, bar)
            rec.update(options=options, options_digest=digest)
            atomic_write_json(rec, osp.join(out_dir, done_name(prefix, j)))
            written += 1
    manifest = write_manifest(out_dir, prefix, num_shards, digest, options, source_skipped)
    print_log(
        f'make_image_text_shards: shard {shard[0]}/{shard[1]}: {written} shard(s) written, '
        f'{reused} already done, of {num_shards}; skipped in this run: {skips.summary()}' +
        (f'; manifest {manifest}' if manifest else '; manifest not written yet (other '
         'processes still have shards to write)'),
        logger='current',
        level=logging.WARNING if skips.total() else logging.INFO)
    return dict(
        written=written,
        reused=reused,
        num_shards=num_shards,
        manifest=manifest,
        skipped=dict(skips.counts))


def write_manifest(out_dir: str,
                   prefix: str,
                   num_shards: int,
                   digest: str,
                   options: dict,
                   source_skipped: Optional[Dict[str, int]] = None) -> Optional[str]:
    """Write ``{prefix}.json`` when every shard has its record; its path, else None."""
    records = []
    for j in range(num_shards):
        path = osp.join(out_dir, done_name(prefix, j))
        if not osp.isfile(path):
            return None
        rec = load_json(path, 'shard record')
        if rec.get('options_digest') != digest:
            raise ValueError(f'{path} was written with other options; use a new output folder')
        records.append(rec)
    skipped: Dict[str, int] = {}
    for rec in records:
        for reason, n in rec.get('skipped', {}).items():
            skipped[reason] = skipped.get(reason, 0) + n
    manifest = dict(
        format=MANIFEST_FORMAT,
        version=1,
        num_samples=sum(r['num_samples'] for r in records),
        num_shards=num_shards,
        shards=[dict(file=r['file'], num_samples=r['num_samples']) for r in records],
        skipped=skipped,
        source_skipped=dict(source_skipped or {}),
        options=options)
    return atomic_write_json(manifest, osp.join(out_dir, f'{prefix}.json'))
