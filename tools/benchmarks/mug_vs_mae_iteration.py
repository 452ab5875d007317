"""Benchmark: one MUG training iteration against one mmpretrain MAE iteration on the CPU.

Both models share the ViT encoder, the pixel decoder and the reconstruction head of the MUG
config (MAE is built from the same parts and loads MUG's weights), the batch of images and the
optimizer settings (AdamW, fp32: no AMP on the CPU); MUG adds the text decoder and the caption
loss on captions of ``--caption-length`` tokens (the data config's ``max_length``; real lengths
drawn between 8 and that, the rest padding). An iteration is ``model.train_step`` (data
preprocessor, forward, backward, optimizer step); both models mask with the same seed. The
iterations of the two models alternate so machine noise hits both alike; the medians of wall
time and of process CPU time after the warm-up are reported, and the ratio MUG / MAE.

Use ``--threads 1`` on a shared machine. Examples::

    python tools/benchmarks/mug_vs_mae_iteration.py --threads 1            # ViT-B/16, 224 px
    python tools/benchmarks/mug_vs_mae_iteration.py --toy --batch 16 --threads 1
"""
import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAPER_CONFIG = 'configs/mug/mug_vit-base-p16_8xb512-amp-coslr-400e_cc3m.py'
TOY_CONFIG = 'configs/mug/mug_vit-tiny-p16_1xb16-toy-10e_toyscenes.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', help=f'MUG config (default: {PAPER_CONFIG})')
    parser.add_argument('--toy', action='store_true', help=f'use {TOY_CONFIG}')
    parser.add_argument('--batch', type=int, default=8, help='images per iteration')
    parser.add_argument(
        '--caption-length', type=int, help='tokens per caption (default: the config max_length)')
    parser.add_argument('--iters', type=int, default=3, help='timed iterations per model')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations per model')
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: all)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the results as JSON to this file')
    return parser.parse_args(argv)


def build_models(cfg: Config):
    """MUG from the config and MAE from its image parts, with identical image-side weights."""
    from mmpretrain.registry import MODELS
    mug_cfg = cfg.model.to_dict()
    mug_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    mae_cfg = {
        k: v
        for k, v in mug_cfg.items()
        if k in ('backbone', 'neck', 'head', 'init_cfg', 'data_preprocessor')
    }
    mae_cfg['type'] = 'MAE'
    mug = MODELS.build(mug_cfg)
    mug.init_weights()
    mae = MODELS.build(mae_cfg)
    missing, _ = mae.load_state_dict(mug.state_dict(), strict=False)
    if missing:
        raise RuntimeError(f'MAE does not share these weights with MUG: {missing[:5]}')
    optim = cfg.optim_wrapper.to_dict()
    optim['type'] = 'OptimWrapper'  # no AMP on the CPU
    optim.pop('loss_scale', None)
    mug_optim = build_optim_wrapper(mug, optim)
    mae_optim = build_optim_wrapper(mae, optim)
    return mug.train(), mug_optim, mae.train(), mae_optim


def make_batch(model, batch: int, length: int, rng):
    """Random uint8 images and padded captions ([CLS] ids [SEP] [PAD]...) of the data contract."""
    from mmpretrain.structures import DataSample
    size = model.backbone.img_size[0]
    dec = model.text_decoder
    specials = {dec.bos_token_id, dec.eos_token_id, dec.pad_token_id}
    vocab = np.array([t for t in range(min(dec.vocab_size, 30000)) if t not in specials])
    samples = []
    for _ in range(batch):
        n = int(rng.integers(min(8, length), length + 1))
        ids = np.full(length, dec.pad_token_id, np.int64)
        ids[:n] = rng.choice(vocab, n)
        ids[0], ids[n - 1] = dec.bos_token_id, dec.eos_token_id
        sample = DataSample()
        sample.set_field(torch.from_numpy(ids), 'input_ids')
        sample.set_field(
            torch.from_numpy((np.arange(length) < n).astype(np.int64)), 'attention_mask')
        samples.append(sample)
    imgs = torch.from_numpy(rng.integers(0, 256, (batch, 3, size, size), dtype=np.uint8))
    return dict(inputs=imgs, data_samples=samples)


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):  # no /proc (not Linux): keep platform's name
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        cpu = names[0] if names else cpu
    return dict(
        cpu=cpu,
        cores=os.cpu_count(),
        load_average=[round(v, 2) for v in os.getloadavg()],
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        date=datetime.datetime.now().strftime('%Y-%m-%d %H:%M'))


def run(args) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    import mmvisrep  # noqa: F401  (registers MUG)
    init_default_scope('mmpretrain')
    MessageHub.get_current_instance().update_info('max_iters', 1000)
    path = args.config or (TOY_CONFIG if args.toy else PAPER_CONFIG)
    cfg = Config.fromfile(path if os.path.isabs(path) else os.path.join(REPO, path))
    torch.manual_seed(args.seed)
    mug, mug_optim, mae, mae_optim = build_models(cfg)
    length = args.caption_length or int(cfg.get('max_length', 32))
    data = make_batch(mug, args.batch, length, rng)

    wall = dict(mug=[], mae=[])
    cpu = dict(mug=[], mae=[])
    for it in range(args.warmup + args.iters):
        for name, model, optim in (('mae', mae, mae_optim), ('mug', mug, mug_optim)):
            torch.manual_seed(args.seed + it)  # the same masks for both models
            start, start_cpu = time.perf_counter(), time.process_time()
            log_vars = model.train_step(data, optim)
            elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
            if not np.isfinite(float(log_vars['loss'].detach())):
                raise RuntimeError(f'{name}: non-finite loss at iteration {it}')
            if it >= args.warmup:
                wall[name].append(elapsed)
                cpu[name].append(elapsed_cpu)
    vit = mug.backbone
    result = dict(
        machine=machine_info(),
        config=os.path.relpath(cfg.filename, REPO),
        encoder=f'ViT {vit.embed_dims}-d x {vit.num_layers} layers, patch '
        f'{vit.patch_embed.projection.kernel_size[0]}, {vit.img_size[0]} px, mask ratio '
        f'{vit.mask_ratio}',
        text_decoder=f'{mug.text_decoder.model.config.num_hidden_layers} layers x '
        f'{mug.text_decoder.hidden_size}-d, vocab {mug.text_decoder.vocab_size}',
        batch=args.batch,
        caption_length=length,
        iters=args.iters,
        warmup=args.warmup,
        wall_s=wall,
        cpu_s=cpu)
    for kind, times in (('wall', wall), ('cpu', cpu)):
        mug_med, mae_med = statistics.median(times['mug']), statistics.median(times['mae'])
        result[f'{kind}_median_s'] = dict(mug=round(mug_med, 4), mae=round(mae_med, 4))
        result[f'{kind}_ratio'] = round(mug_med / mae_med, 3)
    return result


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = run(args)
    m = result['machine']
    print(f"machine: {m['cpu']}, {m['cores']} cores, load {m['load_average']}, torch "
          f"{m['torch']} with {m['threads']} threads, {m['date']}")
    print(f"{result['config']}: {result['encoder']}; text decoder {result['text_decoder']}; "
          f"batch {result['batch']}, captions of {result['caption_length']} tokens; "
          f"{result['iters']} timed iterations after {result['warmup']} warm-up")
    for kind in ('wall', 'cpu'):
        times = result[f'{kind}_s']
        print(f'{kind} s/iter  MAE: ' + ' '.join(f'{t:.3f}' for t in times['mae']) + '  MUG: ' +
              ' '.join(f'{t:.3f}' for t in times['mug']))
        med = result[f'{kind}_median_s']
        print(f"median {kind} time: MUG {med['mug']:.3f} s, MAE {med['mae']:.3f} s, ratio "
              f"{result[f'{kind}_ratio']:.2f}x")
    if args.out:
        from mmvisrep.utils.atomic_io import atomic_write_text
        atomic_write_text(json.dumps(result, indent=1), args.out)
    return result


if __name__ == '__main__':
    main()
