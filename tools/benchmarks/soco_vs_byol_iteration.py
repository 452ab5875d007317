"""Benchmark (b): one SoCo training iteration against one mmpretrain BYOL iteration on the CPU.

Both models use the same ResNet and batch; an iteration is ``model.train_step`` (data
preprocessor, forward, backward and the optimizer step: SoCo's LARS / mmpretrain's LARS). SoCo
gets the views of its config's ``SoCoViews`` (official: 224 / 224 / 112 for FPN; + 192 for SoCo*;
224 / 224 for C4) and K = 4 boxes per view at random levels; BYOL gets two views of SoCo's V1
size. Iterations of the two models are interleaved so machine noise hits both alike; the medians
after warm-up are reported, with multiply-accumulate counts (mmengine's FlopAnalyzer) of one
forward of each, SoCo's split by module.

Use ``--threads 1`` on a shared machine: with more OpenMP threads than idle cores, the many
small ops of both models stall and the timings mean little. ``--profile N`` lists the N ops that
take the most CPU time in one SoCo iteration (torch.profiler), to show where SoCo's extra time
goes.

Examples::

    python tools/benchmarks/soco_vs_byol_iteration.py --variant fpn --batch 4 --threads 1
    python tools/benchmarks/soco_vs_byol_iteration.py --toy --batch 32 --threads 1
    # the toy benchmark's configs (docs/toy_benchmark.md) at their batch, with the op profile
    python tools/benchmarks/soco_vs_byol_iteration.py --toybench --batch 64 --profile 8
"""
import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOCO_CONFIGS = dict(
    fpn='configs/soco/soco_resnet50-fpn_16xb128-coslr-100e_in1k.py',
    fpn_star='configs/soco/soco-star_resnet50-fpn_16xb128-coslr-400e_in1k.py',
    c4='configs/soco/soco_resnet50-c4_16xb128-coslr-100e_in1k.py')
TOY_SOCO_CONFIGS = dict(
    fpn='configs/soco/soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py',
    fpn_star='configs/soco/soco-star_resnet18-fpn_1xb32-toy-10e_toyscenes.py',
    c4='configs/soco/soco_resnet18-c4_1xb32-toy-10e_toyscenes.py')
BYOL_CONFIG = 'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py'
TOY_BYOL_CONFIG = 'configs/byol/byol_resnet18_1xb32-toy-10e_toyscenes.py'
TOYBENCH_CONFIGS = ('configs/toy_benchmark/soco_resnet18-w32-fpn_1xb64-coslr-8e_toybench.py',
                    'configs/toy_benchmark/byol_resnet18-w32_1xb64-coslr-8e_toybench.py')


def parse_args():
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--variant', choices=sorted(SOCO_CONFIGS), default='fpn')
    parser.add_argument(
        '--toy',
        action='store_true',
        help='the toy configs (R18, 64 px) instead of the paper ones')
    parser.add_argument(
        '--toybench',
        action='store_true',
        help='the toy benchmark\'s SoCo (FPN) and BYOL configs (R18 of width 32, 64 px)')
    parser.add_argument('--depth', type=int, default=None, help='override both ResNet depths')
    parser.add_argument('--batch', type=int, default=8, help='images per iteration')
    parser.add_argument('--num-boxes', type=int, default=4, help='K boxes per view (SoCo: 4)')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations per model')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations per model')
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: all)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-flops', action='store_true', help='skip the MAC count')
    parser.add_argument(
        '--profile',
        type=int,
        default=0,
        metavar='N',
        help='list the N ops with the most self CPU time in one SoCo iteration')
    args = parser.parse_args()
    if args.toybench and (args.toy or args.variant != 'fpn'):
        parser.error('--toybench has the FPN variant only and excludes --toy')
    return args


def _to_bn(cfg):
    """SyncBN -> BN (BN1d for the MLPs) in a model config, for a single CPU process."""
    if isinstance(cfg, dict):
        out = {}
        for key, value in cfg.items():
            if key == 'norm_cfg' and isinstance(value, dict) and value.get('type') == 'SyncBN':
                out[key] = dict(value, type='BN')
            else:
                out[key] = _to_bn(value)
        return out
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_to_bn(v) for v in cfg)
    return cfg


def _mlp_bn1d(mlp):
    mlp = dict(mlp)
    mlp['norm_cfg'] = dict(type='BN1d')
    return mlp


def load_configs(args):
    """The SoCo config of the variant and BYOL's config (paper or toy)."""
    if args.toybench:
        return tuple(Config.fromfile(os.path.join(REPO, c)) for c in TOYBENCH_CONFIGS)
    if args.toy:
        return (Config.fromfile(os.path.join(REPO, TOY_SOCO_CONFIGS[args.variant])),
                Config.fromfile(os.path.join(REPO, TOY_BYOL_CONFIG)))
    return (Config.fromfile(os.path.join(REPO,
                                         SOCO_CONFIGS[args.variant])), get_config(BYOL_CONFIG))


def soco_view_sizes(soco_cfg):
    """View sizes of the config's SoCoViews transform."""
    dataset = soco_cfg.train_dataloader.dataset
    pipeline = dataset.pipeline if 'pipeline' in dataset else dataset.datasets[0].pipeline
    return tuple(t['view_sizes'] for t in pipeline if t['type'] == 'SoCoViews')[0]


def build_models(args, soco_cfg, byol_cfg):
    """SoCo and BYOL from their configs, BN instead of SyncBN, lr scaled to the batch."""
    from mmpretrain.registry import MODELS
    soco_model = _to_bn(soco_cfg.model.to_dict())
    byol_model = _to_bn(byol_cfg.model.to_dict())
    for model in (soco_model, byol_model):
        model['data_preprocessor'] = soco_cfg.data_preprocessor.to_dict()
    byol_model['neck'] = _mlp_bn1d(byol_model['neck'])
    byol_model['head']['predictor'] = _mlp_bn1d(byol_model['head']['predictor'])
    soco_model['projector'] = _mlp_bn1d(soco_model['projector'])
    soco_model['predictor'] = _mlp_bn1d(soco_model['predictor'])
    if args.depth is not None:
        c5 = 512 if args.depth < 50 else 2048
        for model in (soco_model, byol_model):
            model['backbone']['depth'] = args.depth
        byol_model['neck']['in_channels'] = c5
        if args.variant == 'c4':
            soco_model['projector']['in_channels'] = c5
        else:
            soco_model['neck']['in_channels'] = [c5 // 8, c5 // 4, c5 // 2, c5]
    if soco_model['backbone']['depth'] != byol_model['backbone']['depth']:
        raise ValueError('SoCo and BYOL configs use different ResNets; pass --depth')
    soco = MODELS.build(soco_model)
    byol = MODELS.build(byol_model)
    soco.init_weights()
    byol.init_weights()
    soco_optim = soco_cfg.optim_wrapper.to_dict()
    soco_optim['type'] = 'OptimWrapper'  # no AMP on the CPU
    soco_optim.pop('loss_scale', None)
    soco_optim['optimizer']['lr'] = 1.0 * args.batch / 256
    byol_optim = byol_cfg.optim_wrapper.to_dict()
    byol_optim['optimizer']['lr'] = 4.8 * args.batch / 4096
    return (soco.train(), build_optim_wrapper(soco, soco_optim), byol.train(),
            build_optim_wrapper(byol, byol_optim))


def make_batches(args, sizes, rng):
    """Random uint8 views and SoCo samples in the data contract (boxes in [0, 1], level ids)."""
    from mmpretrain.structures import DataSample
    num_pairs = len(sizes) - 1
    num_levels = 1 if args.variant == 'c4' else 4
    k = args.num_boxes
    samples = []
    for _ in range(args.batch):
        xy = rng.uniform(0, 0.6, (num_pairs, 2, k, 2))
        wh = rng.uniform(0.1, 0.4, (num_pairs, 2, k, 2))
        boxes = np.concatenate([xy, np.minimum(xy + wh, 1.)], -1).astype(np.float32)
        ids = np.empty((num_pairs, 2, num_levels * k), dtype=np.int64)
        ids[:, 0] = -1
        for p in range(num_pairs):
            ids[p, 1] = -(p + 2)
            for side in range(2):
                for box in range(k):
                    ids[p, side, rng.integers(num_levels) * k + box] = box + 1
        sample = DataSample()
        sample.set_field(boxes, 'soco_boxes')
        sample.set_field(ids, 'soco_ids')
        samples.append(sample)

    def views(view_sizes):
        return [
            torch.from_numpy(rng.integers(0, 256, (args.batch, 3, s, s), dtype=np.uint8))
            for s in view_sizes
        ]

    soco = dict(inputs=views(sizes), data_samples=samples)
    byol = dict(inputs=views(sizes[:1] * 2), data_samples=[DataSample()] * args.batch)
    return soco, byol


def count_macs(soco, byol, soco_data, byol_data):
    """Multiply-accumulates of one forward of each model (online + target), via mmengine, and
    SoCo's by top-level module."""
    from mmengine.analysis import FlopAnalyzer

    class Loss(torch.nn.Module):

        def __init__(self, model, data):
            super().__init__()
            self.model = model
            self.data = model.data_preprocessor(data, True)

        def forward(self, _):
            return self.model.loss(**self.data)['loss']

    out = []
    for model, data in ((soco, soco_data), (byol, byol_data)):
        analyzer = FlopAnalyzer(Loss(model, data), (torch.zeros(1), ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        out.append(analyzer)
    parts = {
        name: out[0].by_module().get(f'model.{name}', 0)
        for name in ('backbone', 'neck', 'roi_head', 'projector', 'predictor', 'target')
    }
    return out[0].total(), out[1].total(), parts


def profile_ops(model, optim, data, top: int):
    """(op name, self CPU seconds, share of the iteration) of the ``top`` costliest ops of one
    ``train_step``."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.train_step(data, optim)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [(e.key, e.self_cpu_time_total / 1e6, e.self_cpu_time_total / total) for e in ranked]


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    import mmvisrep  # noqa: F401  (registers SoCo)
    init_default_scope('mmpretrain')
    MessageHub.get_current_instance().update_info('max_iters', 1000)
    soco_cfg, byol_cfg = load_configs(args)
    sizes = soco_view_sizes(soco_cfg)
    soco, soco_optim, byol, byol_optim = build_models(args, soco_cfg, byol_cfg)
    soco_data, byol_data = make_batches(args, sizes, rng)

    times = dict(soco=[], byol=[])
    for it in range(args.warmup + args.iters):
        for name, model, optim, data in (('soco', soco, soco_optim, soco_data),
                                         ('byol', byol, byol_optim, byol_data)):
            start = time.perf_counter()
            log_vars = model.train_step(data, optim)
            elapsed = time.perf_counter() - start
            if not np.isfinite(float(log_vars['loss'].detach())):
                raise RuntimeError(f'{name}: non-finite loss at iteration {it}')
            if it >= args.warmup:
                times[name].append(elapsed)
    soco_med = statistics.median(times['soco'])
    byol_med = statistics.median(times['byol'])
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
          f'torch {torch.__version__} with {torch.get_num_threads()} threads')
    print(f'ResNet-{soco.backbone.depth}, batch {args.batch}, SoCo {args.variant} '
          f'({"toybench" if args.toybench else "toy" if args.toy else "paper"} config) views '
          f'{sizes}, K={args.num_boxes}; BYOL '
          f'views {sizes[:1] * 2}; {args.iters} timed iterations after {args.warmup} warm-up')
    print('soco s/iter: ' + ' '.join(f'{t:.2f}' for t in times['soco']))
    print('byol s/iter: ' + ' '.join(f'{t:.2f}' for t in times['byol']))
    print(f'median SoCo {soco_med:.3f} s, BYOL {byol_med:.3f} s, ratio {soco_med / byol_med:.2f}x')
    if not args.no_flops:
        soco_macs, byol_macs, parts = count_macs(soco, byol, soco_data, byol_data)
        print(f'forward MACs (online + target): SoCo {soco_macs / 1e9:.1f} G, BYOL '
              f'{byol_macs / 1e9:.1f} G, ratio {soco_macs / byol_macs:.2f}x')
        print('SoCo forward MACs by module: ' + ', '.join(f'{k} {v / 1e9:.1f} G'
                                                          for k, v in parts.items() if v))
    if args.profile:
        print(f'SoCo: the {args.profile} ops with the most self CPU time in one iteration')
        for name, seconds, share in profile_ops(soco, soco_optim, soco_data, args.profile):
            print(f'  {name:<40} {seconds:7.3f} s  {100 * share:5.1f} %')


if __name__ == '__main__':
    main()
