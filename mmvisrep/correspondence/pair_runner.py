"""ORL Stage 2(c): RoI-pair mining -> the official correspondence json.

Three steps, each resumable and (for the first two) shardable:

1. ``embed_shard``: filter every image's selective-search boxes once, crop the kept RoIs,
   resize them, and embed them with the Stage-1 backbone (res5 + global average pool,
   L2-normalised). The official script recomputes every neighbour's RoIs for each query,
   i.e. 11 times per image with K = 10; here each image is embedded once.
2. ``mine``: for every query image and each of its K neighbours, ``S = F_q F_k^T`` and the
   top ``int(ratio * B_q)`` (>= 1) entries give the box pairs. Cheap (matrix products).
3. ``merge``: mine what is missing, then stream the official json.

Layout of an output directory::

    OUT/run.json                        parameters (inputs, filter, crops, model, chunk size)
    OUT/roi_feats/chunk-000012.npy      RoI embeddings of the images of chunk 12, stacked
    OUT/roi_feats/chunk-000012.json     their kept boxes / counts (the completion marker)
    OUT/pairs/chunk-000012.json         mined pairs of the queries of chunk 12
    OUT/<kNN json stem>_correspondence.json, e.g. train2017_10nn_instance_correspondence.json
    OUT/<same stem>_stats.json          counts: boxes, fallbacks, pairs, RoIs outside images
"""
import os.path as osp
import time
from collections import OrderedDict
from typing import Callable, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from mmvisrep.utils.atomic_io import atomic_write_json, load_json
from mmvisrep.utils.resume import meta_mismatch, progress_bar
from .boxes import BoxFilter
from .crops import crop_boxes_int, crop_resize, to_chw_tensor
from .data import RoiImages, first_item, image_paths
from .layouts import load_knn_json, load_proposals, write_correspondence_json
from .model import default_device
from .retrieval import top_pairs
from .store import ArrayCache, ChunkStore, StaleChunkError, digest, plan_shard, shard_chunks

FORMAT_VERSION = 1
ROI_DIR = 'roi_feats'
PAIR_DIR = 'pairs'
RUN_FILE = 'run.json'
DEFAULT_CHUNK_SIZE = 256
FEAT_DTYPES = ('float16', 'float32')


def output_name(knn_json: str) -> str:
    """``train2017_10nn_instance.json`` -> ``train2017_10nn_instance_correspondence.json``."""
    return osp.splitext(osp.basename(knn_json))[0] + '_correspondence.json'


def embed_meta(knn, proposal_json: str, box_filter: BoxFilter, crop_size: int, antialias: bool,
               ignore_exif: bool, feat_dtype: str, checkpoint: dict, chunk_size: int) -> dict:
    """What makes RoI embeddings reusable: every chunk file carries (and is checked against) it."""
    if feat_dtype not in FEAT_DTYPES:
        raise ValueError(f'feature dtype must be one of {FEAT_DTYPES}, got {feat_dtype!r}')
    return dict(
        version=FORMAT_VERSION,
        kind='orl_roi_embeddings',
        num_images=len(knn.images),
        images_sha1=digest(knn.images.file_names),
        proposals=dict(name=osp.basename(proposal_json), bytes=osp.getsize(proposal_json)),
        filter=box_filter.as_dict(),
        crop_size=int(crop_size),
        antialias=bool(antialias),
        ignore_exif=bool(ignore_exif),
        feat_dtype=feat_dtype,
        checkpoint=checkpoint,
        chunk_size=int(chunk_size))


def _read_run(out_dir: str) -> dict:
    return load_json(osp.join(out_dir, RUN_FILE), 'correspondence run file')


def prepare_run(out_dir: str,
                knn_json: str,
                proposal_json: str,
                img_dir: str,
                meta: dict,
                knn_image_num: int,
                pair_ratio: float,
                overwrite: bool = False) -> dict:
    """Write ``OUT/run.json``; refuse one that describes other embeddings (unless overwrite)."""
    path = osp.join(out_dir, RUN_FILE)
    if osp.isfile(path) and not overwrite:
        reason = meta_mismatch(_read_run(out_dir).get('embed', {}), meta)
        if reason:
            raise ValueError(f'{path} belongs to a different run ({reason}); use another '
                             '--out-dir, the same arguments, or --overwrite to recompute this '
                             "shard's RoI embeddings")
    run = dict(
        embed=meta,
        knn_json=osp.abspath(knn_json),
        proposal_json=osp.abspath(proposal_json),
        img_dir=osp.abspath(img_dir),
        knn_image_num=int(knn_image_num),
        pair_ratio=float(pair_ratio))
    atomic_write_json(run, path)
    return run


def _roi_store(out_dir: str, meta: dict) -> ChunkStore:
    return ChunkStore(osp.join(out_dir, ROI_DIR), meta, meta['num_images'], meta['chunk_size'])


def embed_shard(encoder_factory: Callable,
                knn_json: str,
                proposal_json: str,
                img_dir: str,
                out_dir: str,
                checkpoint: dict,
                index: int = 0,
                count: int = 1,
                box_filter: BoxFilter = BoxFilter(),
                crop_size: int = 224,
                antialias: bool = True,
                crop_batch: int = 128,
                feat_dtype: str = 'float16',
                chunk_size: int = DEFAULT_CHUNK_SIZE,
                workers: int = 2,
                ignore_exif: bool = False,
                knn_image_num: Optional[int] = None,
                pair_ratio: float = 0.1,
                overwrite: bool = False,
                progress: bool = True,
                log: Callable = print) -> dict:
    """Filter, crop and embed the RoIs of the images of shard ``index``/``count``.

    Finished chunks are skipped; ``encoder_factory()`` (a :class:`Stage1Encoder`) is only
    built when work is left. Every image's RoIs go through the network together (split into
    ``crop_batch``-sized batches), independently of other images, so results do not depend on
    the shard count. Returns a summary dict.
    """
    knn = load_knn_json(knn_json)
    k = knn.k if knn_image_num is None else int(knn_image_num)
    if not 1 <= k <= knn.k:
        raise ValueError(f'--knn-image-num {k} must be in [1, {knn.k}] ({knn_json})')
    if not pair_ratio > 0:
        raise ValueError(f'pair ratio must be > 0, got {pair_ratio}')
    meta = embed_meta(knn, proposal_json, box_filter, crop_size, antialias, ignore_exif,
                      feat_dtype, checkpoint, chunk_size)
    prepare_run(out_dir, knn_json, proposal_json, img_dir, meta, k, pair_ratio, overwrite)
    store = _roi_store(out_dir, meta)
    _, items, summary = plan_shard(store, index, count, overwrite)
    summary.update(rois=0, fallbacks=0)
    if not items:
        summary['skipped'] = True
        return summary

    tic = time.time()
    all_boxes = load_proposals(proposal_json, len(knn.images))
    proposals = {i: all_boxes[i] for i in items}
    del all_boxes
    encoder = encoder_factory()
    dataset = RoiImages(
        image_paths(img_dir, knn.images.file_names), items, proposals, box_filter, proposal_json,
        ignore_exif)
    loader = DataLoader(
        dataset, batch_size=1, num_workers=workers, collate_fn=first_item, shuffle=False)
    dtype = np.dtype(feat_dtype)
    bar = progress_bar(summary['images'], f'RoI embeddings shard {index}/{count}', progress,
                       summary['resumed'])
    record = None
    try:
        for item in loader:
            i = item['index']
            c = i // chunk_size
            start, stop = store.range(c)
            if record is None:
                record = dict(
                    counts=[],
                    boxes=[],
                    sizes=[],
                    num_raw=[],
                    fallback=[],
                    feats=[],
                    out_of_image=0)
            img = to_chw_tensor(item['img'], encoder.device)
            height, width = item['img'].shape[:2]
            boxes = item['boxes']
            crops = crop_resize(img, boxes, crop_size, antialias)
            emb = torch.cat([
                encoder.roi_embeddings(crops[j:j + crop_batch])
                for j in range(0, len(crops), crop_batch)
            ])
            ib = crop_boxes_int(boxes)
            record['out_of_image'] += int(
                ((ib[:, 0] < 0) | (ib[:, 1] < 0) | (ib[:, 0] + ib[:, 2] > width)
                 | (ib[:, 1] + ib[:, 3] > height)).sum())
            record['feats'].append(emb.cpu().numpy().astype(dtype))
            record['counts'].append(len(boxes))
            record['boxes'].append(boxes)
            record['sizes'].append([int(width), int(height)])
            record['num_raw'].append(item['num_raw'])
            if item['fallback']:
                record['fallback'].append(i)
            summary['rois'] += len(boxes)
            summary['fallbacks'] += int(item['fallback'])
            bar.update(1)
            if i == stop - 1:
                feats = np.concatenate(record.pop('feats'))
                record['dim'] = int(feats.shape[1])
                store.save(c, record, feats)
                record = None
    finally:
        bar.close()
    summary['seconds'] = time.time() - tic
    return summary


class RoiReader:
    """Kept boxes and RoI embeddings of any image, read from the chunk files (LRU-cached)."""

    def __init__(self, store: ChunkStore, capacity: int = 64):
        self.store = store
        self.arrays = ArrayCache(store, capacity)
        self.records = OrderedDict()
        self.capacity = capacity

    def _record(self, chunk: int):
        if chunk in self.records:
            self.records.move_to_end(chunk)
            return self.records[chunk]
        data = self.store.load(chunk)
        if data is None:
            raise FileNotFoundError(f'RoI chunk missing: {self.store.path(chunk)}')
        offsets = np.concatenate([[0], np.cumsum(data['counts'])]).astype(np.int64)
        self.records[chunk] = (data, offsets)
        if len(self.records) > self.capacity:
            self.records.popitem(last=False)
        return data, offsets

    def get(self, image: int):
        """``(boxes, features)`` of image ``image`` (global index)."""
        chunk = image // self.store.chunk_size
        data, offsets = self._record(chunk)
        local = image - self.store.range(chunk)[0]
        feats = self.arrays.get(chunk)[offsets[local]:offsets[local + 1]]
        return data['boxes'][local], feats


def _check_roi_chunks(store: ChunkStore):
    missing = store.missing()
    if missing:
        names = ', '.join(store.path(c) for c in missing[:5])
        raise FileNotFoundError(f'RoI embeddings are not finished: {len(missing)} of '
                                f'{store.num_chunks} chunks missing, e.g. {names}; run '
                                '"generate" for every shard first')


def _mining_setup(out_dir: str, knn_image_num: Optional[int], pair_ratio: Optional[float],
                  knn_json: Optional[str]):
    run = _read_run(out_dir)
    meta = run['embed']
    store = _roi_store(out_dir, meta)
    _check_roi_chunks(store)
    knn = load_knn_json(knn_json or run['knn_json'])
    if digest(knn.images.file_names) != meta['images_sha1']:
        raise ValueError(f'kNN json {knn.path} lists other images than the RoI embeddings '
                         f'of {out_dir}')
    k = run['knn_image_num'] if knn_image_num is None else int(knn_image_num)
    ratio = run['pair_ratio'] if pair_ratio is None else float(pair_ratio)
    if not 1 <= k <= knn.k:
        raise ValueError(f'knn image number {k} must be in [1, {knn.k}] ({knn.path})')
    if not ratio > 0:
        raise ValueError(f'pair ratio must be > 0, got {ratio}')
    pair_meta = dict(
        version=FORMAT_VERSION,
        kind='orl_roi_pairs',
        embed_sha1=digest(meta),
        knn_sha1=digest([row[:k] for row in knn.knn]),
        knn_image_num=k,
        pair_ratio=ratio)
    pairs = ChunkStore(
        osp.join(out_dir, PAIR_DIR), pair_meta, meta['num_images'], meta['chunk_size'])
    return run, store, knn, k, ratio, pairs


def mine(out_dir: str,
         index: int = 0,
         count: int = 1,
         knn_image_num: Optional[int] = None,
         pair_ratio: Optional[float] = None,
         knn_json: Optional[str] = None,
         device: Optional[str] = None,
         progress: bool = True,
         log: Callable = print) -> dict:
    """Mine the RoI pairs of the query images of shard ``index``/``count``.

    Needs every RoI chunk. Finished pair chunks of the same parameters are skipped; chunks from
    other parameters (another K or ratio) are recomputed.
    """
    run, store, knn, k, ratio, pairs = _mining_setup(out_dir, knn_image_num, pair_ratio, knn_json)
    device = torch.device(device or default_device())
    chunks = shard_chunks(pairs.num_items, pairs.chunk_size, index, count)
    todo = []
    for c in chunks:
        try:
            if pairs.load(c) is None:
                todo.append(c)
        except StaleChunkError as err:
            log(f'recomputing pairs: {err}')
            todo.append(c)
    reader = RoiReader(store)
    total = sum(len(range(*pairs.range(c))) for c in chunks)
    done = total - sum(len(range(*pairs.range(c))) for c in todo)
    summary = dict(
        shard=f'{index}/{count}',
        queries=total,
        computed=total - done,
        resumed=done,
        pairs=0,
        seconds=0.0)
    tic = time.time()
    bar = progress_bar(total, f'RoI pairs shard {index}/{count}', progress, done)
    try:
        for c in todo:
            bboxes, knn_pairs = [], []
            for q in range(*pairs.range(c)):
                q_boxes, q_feats = reader.get(q)
                fq = torch.from_numpy(np.array(q_feats, dtype=np.float32)).to(device)
                neighbours = [reader.get(n) for n in knn.knn[q][:k]]
                # one product against all K neighbours' RoIs, split per neighbour
                fk = torch.from_numpy(
                    np.concatenate([np.asarray(f, dtype=np.float32) for _, f in neighbours]))
                sims = torch.split(fq @ fk.to(device).T, [len(b) for b, _ in neighbours], 1)
                per_nn = []
                for (n_boxes, _), sim in zip(neighbours, sims):
                    qi, ki = top_pairs(sim, ratio)
                    per_nn.append([list(q_boxes[a]) + list(n_boxes[b]) for a, b in zip(qi, ki)])
                    summary['pairs'] += len(qi)
                bboxes.append(q_boxes)
                knn_pairs.append(per_nn)
                bar.update(1)
            pairs.save(c, dict(bbox=bboxes, knn_bbox_pair=knn_pairs))
    finally:
        bar.close()
    summary['seconds'] = time.time() - tic
    return summary


def merge(out_dir: str,
          knn_image_num: Optional[int] = None,
          pair_ratio: Optional[float] = None,
          knn_json: Optional[str] = None,
          out_file: Optional[str] = None,
          device: Optional[str] = None,
          progress: bool = True,
          log: Callable = print) -> dict:
    """Mine any missing pair chunk, then write the official correspondence json and stats."""
    mined = mine(out_dir, 0, 1, knn_image_num, pair_ratio, knn_json, device, progress, log)
    run, store, knn, k, ratio, pairs = _mining_setup(out_dir, knn_image_num, pair_ratio, knn_json)
    box_filter = BoxFilter(**run['embed']['filter'])
    info = dict(box_filter.as_info(), knn_image_num=k, knn_bbox_pair_ratio=ratio)
    stats = dict(
        images=pairs.num_items,
        raw_boxes=0,
        kept_boxes=0,
        fallback_images=0,
        rois_outside_image=0,
        pairs=0)
    for c in range(store.num_chunks):
        data = store.load(c)
        stats['raw_boxes'] += sum(data['num_raw'])
        stats['kept_boxes'] += sum(data['counts'])
        stats['fallback_images'] += len(data['fallback'])
        stats['rois_outside_image'] += data['out_of_image']

    def _field(name):
        for c in range(pairs.num_chunks):
            yield from pairs.load(c)[name]

    def _pairs():
        for per_image in _field('knn_bbox_pair'):
            stats['pairs'] += sum(len(p) for p in per_image)
            yield per_image

    out_file = out_file or osp.join(out_dir, output_name(run['knn_json']))
    write_correspondence_json(out_file, info, knn.images, knn.image_ids,
                              [row[:k] for row in knn.knn], _field('bbox'), _pairs())
    stats.update(
        info=info,
        mean_kept_boxes=stats['kept_boxes'] / max(stats['images'], 1),
        mean_pairs_per_neighbour=stats['pairs'] / max(stats['images'] * k, 1))
    stats_file = osp.splitext(out_file)[0] + '_stats.json'
    atomic_write_json(stats, stats_file)
    return dict(path=out_file, stats_path=stats_file, stats=stats, mined=mined)


def all_roi_chunks_done(out_dir: str) -> bool:
    try:
        run = _read_run(out_dir)
        return not _roi_store(out_dir, run['embed']).missing()
    except (FileNotFoundError, KeyError, ValueError):
        return False
