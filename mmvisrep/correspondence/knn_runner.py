"""ORL Stage 2(a): image embeddings (sharded, resumable) and kNN retrieval -> the kNN json.

Layout of an output directory::

    OUT/knn_feats/run.json              parameters of the run (resume checks, retrieval inputs)
    OUT/knn_feats/images.json           {"file_name": [...], "id": [...]} in COCO order
    OUT/knn_feats/chunk-000012.npy      L2-normalised projector embeddings of chunk 12 (float32)
    OUT/knn_feats/chunk-000012.json     its completion marker (image range, run meta)
    OUT/train2017_10nn_instance.json    the official kNN file
    OUT/train2017_10nn_instance_sims.npy  cosine similarity of every retrieved neighbour
"""
import os.path as osp
import time
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from mmvisrep.utils.atomic_io import atomic_write_json, load_json
from mmvisrep.utils.resume import meta_mismatch, progress_bar
from .data import GlobalViews, image_paths
from .layouts import ImageList, knn_json, read_coco_images
from .model import default_device
from .retrieval import knn_search
from .store import ChunkStore, atomic_save_npy, digest, plan_shard

FORMAT_VERSION = 1
FEATS_DIR = 'knn_feats'
DEFAULT_CHUNK_SIZE = 1024


def knn_output_name(prefix: str, k: int) -> str:
    """The official file name, e.g. ``train2017_10nn_instance.json``."""
    return f'{prefix}_{k}nn_instance.json'


def _meta(images: ImageList, resize: int, crop: int, ignore_exif: bool, checkpoint: dict,
          chunk_size: int) -> dict:
    return dict(
        version=FORMAT_VERSION,
        kind='orl_knn_embeddings',
        num_images=len(images),
        images_sha1=digest(images.file_names),
        resize=int(resize),
        crop=int(crop),
        ignore_exif=bool(ignore_exif),
        checkpoint=checkpoint,
        chunk_size=int(chunk_size))


def _check_run(path: str, meta: dict, overwrite: bool):
    """Refuse to mix a run into a folder holding another one (unless ``overwrite``)."""
    if overwrite or not osp.isfile(path):
        return
    reason = meta_mismatch(load_json(path, 'run file').get('meta', {}), meta)
    if reason:
        raise ValueError(f'{path} belongs to a different run ({reason}); use another --out-dir, '
                         'the same arguments, or --overwrite to recompute this shard')


def extract_shard(encoder_factory: Callable,
                  ann_files: Sequence[str],
                  img_dir: str,
                  out_dir: str,
                  checkpoint: dict,
                  index: int = 0,
                  count: int = 1,
                  resize: int = 256,
                  crop: int = 224,
                  chunk_size: int = DEFAULT_CHUNK_SIZE,
                  batch_size: int = 64,
                  workers: int = 2,
                  ignore_exif: bool = False,
                  overwrite: bool = False,
                  progress: bool = True,
                  log: Callable = print) -> dict:
    """Embed the images of shard ``index``/``count``; finished chunks are skipped.

    ``encoder_factory()`` returns a :class:`Stage1Encoder`; it is only called when there is
    work left, so a finished shard costs no model load. Returns a summary dict.
    """
    images = read_coco_images(ann_files)
    meta = _meta(images, resize, crop, ignore_exif, checkpoint, chunk_size)
    root = osp.join(out_dir, FEATS_DIR)
    run_file = osp.join(root, 'run.json')
    _check_run(run_file, meta, overwrite)
    store = ChunkStore(root, meta, len(images), chunk_size)
    todo, items, summary = plan_shard(store, index, count, overwrite)
    atomic_write_json(
        dict(
            meta=meta, ann_files=[osp.abspath(a) for a in ann_files],
            img_dir=osp.abspath(img_dir)), run_file)
    atomic_write_json(
        dict(file_name=images.file_names, id=images.ids), osp.join(root, 'images.json'))
    if not items:
        summary['skipped'] = True
        return summary

    tic = time.time()
    encoder = encoder_factory()
    dataset = GlobalViews(
        image_paths(img_dir, images.file_names), items, resize, crop, ignore_exif)
    # batches never straddle chunks: a chunk's images are batched from its start, so the
    # features do not depend on the shard count
    loader = DataLoader(
        dataset, batch_sampler=_ChunkBatches(todo, store, batch_size), num_workers=workers)
    bar = progress_bar(summary['images'], f'kNN features shard {index}/{count}', progress,
                       summary['resumed'])
    pending, feats = {}, {}
    try:
        for idx, views in loader:
            emb = encoder.image_embeddings(views).cpu().numpy().astype(np.float32)
            for i, e in zip(idx.tolist(), emb):
                feats[i] = e
            bar.update(len(idx))
            c = idx[0].item() // chunk_size
            start, stop = store.range(c)
            pending.setdefault(c, 0)
            pending[c] += len(idx)
            if pending[c] == stop - start:
                array = np.stack([feats.pop(i) for i in range(start, stop)])
                store.save(c, dict(num_images=stop - start, dim=int(array.shape[1])), array)
                del pending[c]
    finally:
        bar.close()
    summary['seconds'] = time.time() - tic
    return summary


class _ChunkBatches:
    """Batch sampler over dataset positions: ``batch_size`` images, never across chunks."""

    def __init__(self, chunks: Sequence[int], store: ChunkStore, batch_size: int):
        self.batches, pos = [], 0
        for c in chunks:
            start, stop = store.range(c)
            n = stop - start
            for b in range(0, n, batch_size):
                self.batches.append(list(range(pos + b, pos + min(b + batch_size, n))))
            pos += n

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def load_run(out_dir: str):
    """``(run, store, images)`` of the extraction run in ``out_dir``."""
    root = osp.join(out_dir, FEATS_DIR)
    run = load_json(osp.join(root, 'run.json'), 'kNN feature run file')
    meta = run['meta']
    names = load_json(osp.join(root, 'images.json'), 'image list')
    images = ImageList(names['file_name'], names['id'])
    if digest(images.file_names) != meta['images_sha1']:
        raise ValueError(f'{osp.join(root, "images.json")} does not match {root}/run.json')
    store = ChunkStore(root, meta, meta['num_images'], meta['chunk_size'])
    return run, store, images


def all_chunks_done(out_dir: str) -> bool:
    try:
        _, store, _ = load_run(out_dir)
    except (FileNotFoundError, KeyError, ValueError):
        return False
    return not store.missing()


def retrieve(out_dir: str,
             k: int = 10,
             prefix: str = 'train2017',
             out_file: Optional[str] = None,
             block_size: int = 1024,
             device: Optional[str] = None,
             progress: bool = True,
             log: Callable = print) -> dict:
    """kNN over the full feature bank -> the official kNN json (+ a ``_sims.npy``)."""
    run, store, images = load_run(out_dir)
    missing = store.missing()
    if missing:
        names = ', '.join(store.path(c) for c in missing[:5])
        raise FileNotFoundError(f'cannot retrieve: {len(missing)} of {store.num_chunks} feature '
                                f'chunks are not finished, e.g. {names}')
    device = device or default_device()
    bank = np.concatenate([np.load(store.path(c, 'npy')) for c in range(store.num_chunks)])
    if bank.shape[0] != len(images):
        raise ValueError(f'{bank.shape[0]} features for {len(images)} images in {store.root}')
    bank = torch.from_numpy(bank).to(device)
    tic = time.time()
    index, sims = [], []
    bar = progress_bar(len(images), 'kNN retrieval', progress)
    for start in range(0, len(images), block_size):
        rows = torch.arange(start, min(start + block_size, len(images)), device=device)
        idx, sim = knn_search(bank[rows], bank, k, rows, block_size)
        index.append(idx.cpu())
        sims.append(sim.cpu())
        bar.update(len(rows))
    bar.close()
    index, sims = torch.cat(index).numpy(), torch.cat(sims).numpy()
    out_file = out_file or osp.join(out_dir, knn_output_name(prefix, k))
    atomic_write_json(knn_json(images, index.tolist(), k), out_file)
    sims_file = osp.splitext(out_file)[0] + '_sims.npy'
    atomic_save_npy(sims.astype(np.float32), sims_file)
    return dict(
        path=out_file,
        sims_path=sims_file,
        images=len(images),
        k=k,
        dim=int(bank.shape[1]),
        mean_sim=float(sims.mean()),
        seconds=time.time() - tic)
