"""Caption images with a trained MUG checkpoint: greedy decoding or beam search.

Images come from a folder, a COCO json (``images[].file_name``) or a file list. Each image is
resized (short side to 8/7 of the model's input size) and centre-cropped to the input size, as
the data configs' ``val_pipeline`` does. By default the decoder attends to what it was trained
on: the latents of a masked view (the model's mask ratio; the mask of image i is drawn with seed
``--seed + i``, so results do not depend on batching or sharding); ``--mask-ratio 0`` conditions
on all patches. Output: ``OUT_DIR/shards/shard-i-of-N.json`` per shard
(``{"meta", "images": {key: {"path", "caption", "tokens", "logprob"}}, "failures"}``), written
in chunks (a killed run resumes where it stopped) and, once every shard is there,
``OUT_DIR/captions.json`` (``{key: caption}``).

Example::

    python tools/analysis_tools/mug_caption.py \\
        configs/mug/mug_vit-base-p16_8xb512-amp-coslr-400e_cc3m.py work_dirs/mug/epoch_400.pth \\
        --img-dir data/coco/val2017 --out-dir work_dirs/mug_captions --num-beams 5
    # 4 processes (torchrun / slurm env or --shard i/4), then the merged file appears
"""
import argparse
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

FORMAT_VERSION = 1


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Arguments shared with mug_reconstruction.py: model, images, decoding, sharding."""
    parser.add_argument('config', help='MUG config')
    parser.add_argument('checkpoint', help='MUG checkpoint (a training checkpoint)')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--img-dir', help='caption every image below this folder')
    src.add_argument('--ann-file', help='COCO json: caption its images (file_name)')
    src.add_argument('--file-list', help='text file, one image path per line')
    parser.add_argument(
        '--img-root', help='folder the --ann-file / --file-list paths are relative to')
    parser.add_argument('--num', type=int, help='only the first N images (after sorting)')
    parser.add_argument(
        '--num-beams', type=int, default=1, help='1: greedy decoding (default); >1: beam search')
    parser.add_argument(
        '--length-penalty',
        type=float,
        default=1.0,
        help='beam search: score = log-prob / length ** penalty (default 1.0)')
    parser.add_argument(
        '--max-length',
        type=int,
        help='tokens per caption with [CLS] (default: the data config\'s max_length, else 32)')
    parser.add_argument(
        '--mask-ratio',
        type=float,
        help='mask ratio of the view the caption is conditioned on (default: the model\'s, when '
        'it was trained on visible latents; 0 = all patches)')
    parser.add_argument('--seed', type=int, default=0, help='mask seed of image i: seed + i')
    parser.add_argument('--tokenizer', help='tokenizer name or folder (default: the config\'s)')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument(
        '--shard', help='i/N: this process takes shard i of N (default: torchrun/slurm env)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings')


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        description='Generate captions with a MUG checkpoint (greedy or beam search)')
    add_common_args(parser)
    parser.add_argument('--out-dir', required=True, help='where the caption files go')
    parser.add_argument(
        '--chunk-size', type=int, default=256, help='images per resumable chunk (default 256)')
    parser.add_argument(
        '--overwrite', action='store_true', help='recompute this shard even if files exist')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------- setup
def load_config(args) -> Config:
    import mmvisrep  # noqa: F401  (registers MUG; allow-lists checkpoint types)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def build_model(cfg: Config, checkpoint: str, device: str):
    """The MUG model of ``cfg`` with the checkpoint's weights (strict), in eval mode."""
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor.copy())
    model = MODELS.build(model_cfg)
    if not hasattr(model, 'text_decoder') or not hasattr(model, 'generate_captions'):
        raise ValueError(f'{cfg.filename}: the model ({type(model).__name__}) is not MUG')
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval()


def build_tokenizer(cfg: Config, override: Optional[str] = None):
    """The captions' tokenizer: ``--tokenizer``, the text decoder's, or the data config's."""
    from mmvisrep.datasets.transforms.captions import build_tokenizer as build
    if override is not None:
        return build(dict(type='AutoTokenizer', name_or_path=override))
    tok = cfg.model.text_decoder.get('tokenizer') or cfg.get('tokenizer')
    if tok is None:
        raise ValueError(f'{cfg.filename}: no tokenizer in the config (model.text_decoder.'
                         'tokenizer or tokenizer); pass --tokenizer NAME_OR_DIR')
    return build(dict(tok))


def default_max_length(cfg: Config, given: Optional[int]) -> int:
    if given is not None:
        return given
    return int(cfg.get('max_length', 32))


def select_images(args) -> List[Tuple[str, str]]:
    """``(key, path)`` pairs of the chosen source, sorted by key (first ``--num``)."""
    from mmvisrep.proposals.io import list_images
    images = list_images(
        img_dir=args.img_dir or args.img_root, ann_file=args.ann_file, file_list=args.file_list)
    if args.num is not None:
        images = images[:args.num]
    return images


def image_size(model) -> int:
    size = model.backbone.img_size
    if size[0] != size[1]:
        raise ValueError(f'MUG tools need a square input size, the model has {size}')
    return int(size[0])


def build_pipeline(size: int):
    """Load (BGR, as training) -> short side 8/7 x size (bicubic) -> centre crop to size."""
    from mmcv.transforms import Compose
    from mmpretrain.registry import TRANSFORMS
    return Compose([
        TRANSFORMS.build(dict(type='LoadImageFromFile')),
        TRANSFORMS.build(
            dict(
                type='ResizeEdge',
                scale=size * 8 // 7,
                edge='short',
                backend='pillow',
                interpolation='bicubic')),
        TRANSFORMS.build(dict(type='CenterCrop', crop_size=size)),
    ])


def load_batch(pipeline, items: Sequence[Tuple[int, str, str]]):
    """``(uint8 (B, 3, S, S) BGR tensor, kept items, failures {key: {path, error}})``."""
    imgs, kept, failures = [], [], {}
    for index, key, path in items:
        try:
            results = pipeline(dict(img_path=path))
        except Exception as err:  # unreadable/corrupt image: reported, not silently dropped
            failures[key] = dict(path=path, error=f'{type(err).__name__}: {err}')
            continue
        if results is None:
            failures[key] = dict(path=path, error='the pipeline returned None')
            continue
        img = np.ascontiguousarray(results['img'])
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        imgs.append(torch.from_numpy(img).permute(2, 0, 1))
        kept.append((index, key, path))
    batch = torch.stack(imgs) if imgs else None
    return batch, kept, failures


def preprocess(model, batch: torch.Tensor) -> torch.Tensor:
    """The model's data preprocessor (BGR -> RGB, mean/std) on a uint8 batch."""
    from mmpretrain.structures import DataSample
    data = dict(inputs=batch, data_samples=[DataSample() for _ in range(len(batch))])
    return model.data_preprocessor(data, training=False)['inputs']


def caption_view_ratio(model, mask_ratio: Optional[float]) -> float:
    """The ratio the caption is conditioned on (see the module docstring)."""
    if mask_ratio is not None:
        return float(mask_ratio)
    return float(model.backbone.mask_ratio) if model.caption_latents == 'visible' else 0.


def encode_per_image(model, inputs: torch.Tensor, indices: Sequence[int], mask_ratio: float,
                     seed: int):
    """``model.encode`` image by image with the mask of image i drawn from seed ``seed + i``."""
    outs = []
    for row, index in zip(inputs, indices):
        torch.manual_seed(seed + int(index))
        outs.append(model.encode(row[None], mask_ratio))
    return tuple(torch.cat(parts) for parts in zip(*outs))


@torch.no_grad()
def caption_batch(model,
                  tokenizer,
                  inputs: torch.Tensor,
                  indices: Sequence[int],
                  args,
                  max_length: int,
                  latent: Optional[torch.Tensor] = None) -> List[dict]:
    """Generated caption (text, token ids, log-probability) of each image of a batch."""
    if latent is None and model.caption_latents == 'visible':
        ratio = caption_view_ratio(model, args.mask_ratio)
        latent = encode_per_image(model, inputs, indices, ratio, args.seed)[0]
    tokens, logprob = model.generate_captions(
        inputs,
        latent=latent,
        num_beams=args.num_beams,
        max_length=max_length,
        length_penalty=args.length_penalty,
        return_scores=True)
    return [
        dict(
            caption=tokenizer.decode(ids, skip_special_tokens=True).strip(),
            tokens=list(map(int, ids)),
            logprob=round(float(lp), 5)) for ids, lp in zip(tokens, logprob)
    ]


# ---------------------------------------------------------------------------- shards
def run(args) -> dict:
    from tqdm import tqdm

    from mmvisrep.proposals.io import (atomic_write_json, chunk_dir, chunk_path, find_shards,
                                       load_json, shard_path)
    from mmvisrep.proposals.runner import resolve_shard, shard_bounds
    cfg = load_config(args)
    images = select_images(args)
    index, count, source = resolve_shard(args.shard)
    model = build_model(cfg, args.checkpoint, args.device)
    tokenizer = build_tokenizer(cfg, args.tokenizer)
    max_length = default_max_length(cfg, args.max_length)
    size = image_size(model)
    pipeline = build_pipeline(size)

    start, stop = shard_bounds(len(images), index, count)
    mine = [(start + i, k, p) for i, (k, p) in enumerate(images[start:stop])]
    meta = dict(
        version=FORMAT_VERSION,
        checkpoint=osp.abspath(args.checkpoint),
        num_beams=args.num_beams,
        length_penalty=args.length_penalty,
        max_length=max_length,
        mask_ratio=caption_view_ratio(model, args.mask_ratio),
        seed=args.seed,
        image_size=size,
        shard=index,
        num_shards=count,
        num_images=len(images))
    final = shard_path(args.out_dir, index, count)
    if args.overwrite:
        if osp.exists(final):
            os.unlink(final)
        shutil.rmtree(chunk_dir(args.out_dir, index, count), ignore_errors=True)

    def done(path, expected):
        if not osp.isfile(path):
            return None
        data = load_json(path, 'caption file')
        if data.get('meta') != expected:
            raise ValueError(f'{path} was written with other settings ({data.get("meta")} '
                             f'there, {expected} now): use another --out-dir, the same '
                             'arguments, or --overwrite')
        return data

    summary = dict(
        shard=f'{index}/{count} ({source})',
        images=len(mine),
        computed=0,
        resumed=0,
        failed=0,
        path=final)
    tic = time.time()
    if done(final, meta) is None:
        chunks = [mine[i:i + args.chunk_size] for i in range(0, len(mine), args.chunk_size)]
        results = []
        bar = tqdm(
            total=len(mine),
            desc=f'captions shard {index}/{count}',
            unit='img',
            disable=args.no_progress,
            dynamic_ncols=True)
        try:
            for c, chunk in enumerate(chunks):
                chunk_meta = dict(meta, chunk=c, first=chunk[0][0], last=chunk[-1][0])
                path = chunk_path(args.out_dir, index, count, c)
                data = done(path, chunk_meta)
                if data is not None:
                    summary['resumed'] += len(chunk)
                    bar.update(len(chunk))
                    results.append(data)
                    continue
                data = dict(meta=chunk_meta, images={}, failures={})
                for b in range(0, len(chunk), args.batch_size):
                    batch, kept, failures = load_batch(pipeline, chunk[b:b + args.batch_size])
                    data['failures'].update(failures)
                    if kept:
                        inputs = preprocess(model, batch.to(args.device))
                        outs = caption_batch(model, tokenizer, inputs, [i for i, _, _ in kept],
                                             args, max_length)
                        for (_, key, path_), out in zip(kept, outs):
                            data['images'][key] = dict(path=path_, **out)
                    bar.update(len(chunk[b:b + args.batch_size]))
                atomic_write_json(data, path)
                summary['computed'] += len(chunk)
                results.append(data)
        finally:
            bar.close()
        merged = dict(meta=meta, images={}, failures={})
        for data in results:
            merged['images'].update(data['images'])
            merged['failures'].update(data['failures'])
        atomic_write_json(merged, final)
        shutil.rmtree(chunk_dir(args.out_dir, index, count), ignore_errors=True)
    else:
        summary['resumed'] = len(mine)
    shard = load_json(final, 'caption file')
    summary['failed'] = len(shard['failures'])
    for key, fail in shard['failures'].items():
        print(f'could not caption {fail["path"]}: {fail["error"]}')
    summary['seconds'] = round(time.time() - tic, 2)

    shards = {(i, n): p for i, n, p in find_shards(args.out_dir) if n == count}
    if len(shards) == count:
        captions: Dict[str, str] = {}
        for i in range(count):
            part = load_json(shards[(i, count)], 'caption file')
            if part['meta'] != dict(meta, shard=i):
                raise ValueError(f'{shards[(i, count)]} was written with other settings; '
                                 'rerun that shard with the same arguments')
            captions.update({k: v['caption'] for k, v in part['images'].items()})
        summary['merged'] = atomic_write_json(captions, osp.join(args.out_dir, 'captions.json'))
    return summary


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.num_beams < 1 or args.batch_size < 1 or args.chunk_size < 1:
        raise SystemExit('--num-beams, --batch-size and --chunk-size must be >= 1')
    summary = run(args)
    print(f"shard {summary['shard']}: {summary['images']} images, {summary['computed']} "
          f"captioned, {summary['resumed']} resumed, {summary['failed']} failed "
          f"({summary['seconds']} s) -> {summary['path']}")
    if 'merged' in summary:
        print(f"all shards done: {summary['merged']}")
    return summary


if __name__ == '__main__':
    main()
