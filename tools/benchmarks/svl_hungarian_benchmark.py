"""Benchmark the SPL of the semantic-visual-loss VLP: Hungarian matching vs the training step.

1. Matching: ``match_set_predictions`` (cost gather, one host copy, scipy
   ``linear_sum_assignment`` per image) for ``--batch-size`` images x ``--num-queries`` queries
   x 1600 Bottom-Up-Attention classes, with per-image label counts drawn from 10..100 (the
   adaptive BUTD extractor) or fixed at 36; peaked and near-uniform predictions.
2. Training step: one forward + backward (+ AdamW step) of the paper-size SPL ``SemanticVLP``
   (ViT-B/32 with 9 layers at 384 px, BERT-base config (random init, nothing downloaded),
   5 cross-modality layers of width 768, set predictor with N queries) at ``--batch-size``
   with ``--text-len`` tokens; the matching inside the step is timed separately, giving its
   share of the step.
3. Cross-modal encoder: forward + backward of the 5-layer encoder with 36 / 100 SPL object
   features against the 144-cell grid (384 px) and the 324-cell grid (576 px, the paper's
   "18*18"), plus the SPL decoder that produces the object features.

Times are CPU time of this process (``time.process_time``), so other jobs on a shared machine do
not inflate them; run with one thread (set below). ``--scale`` < 1 shrinks the widths of every
transformer (for machines without the memory for the paper-size step); the output says so.
Results go to ``--out`` (JSON, atomic write) and a table on stdout.
"""
import os

for _var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMBA_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
    os.environ.setdefault(_var, '1')

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import torch  # noqa: E402


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-queries', type=int, default=100)
    parser.add_argument('--num-classes', type=int, default=1600)
    parser.add_argument('--text-len', type=int, default=20, help='tokens per caption (LXMERT)')
    parser.add_argument('--img-size', type=int, default=384)
    parser.add_argument(
        '--labels',
        choices=['adaptive', 'fixed36'],
        default='adaptive',
        help='pseudo-labels per image: uniform in 10..100 (adaptive BUTD) or 36')
    parser.add_argument('--match-repeats', type=int, default=20)
    parser.add_argument('--encoder-repeats', type=int, default=2)
    parser.add_argument(
        '--scale', type=float, default=1.0, help='width factor of every transformer (1 = paper)')
    parser.add_argument('--optimizer', choices=['adamw', 'none'], default='adamw')
    parser.add_argument(
        '--skip',
        nargs='*',
        default=[],
        choices=['match', 'step', 'encoder'],
        help='sections to leave out')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='work_dirs/benchmarks/svl_hungarian.json')
    return parser.parse_args(argv)


def _cpu_seconds(fn, repeats: int):
    """Median and all CPU times of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times), times


def _label_sets(args, gen):
    if args.labels == 'fixed36':
        counts = [36] * args.batch_size
    else:
        counts = torch.randint(10, 101, (args.batch_size, ), generator=gen).tolist()
    return [torch.randint(0, args.num_classes, (m, ), generator=gen) for m in counts]


def bench_match(args) -> dict:
    """CPU time of matching one batch, for peaked and near-uniform class distributions."""
    from scipy.optimize import linear_sum_assignment

    from mmvisrep.models.utils import match_set_predictions
    gen = torch.Generator().manual_seed(args.seed)
    labels = _label_sets(args, gen)
    out = dict(num_labels=[int(lab.numel()) for lab in labels])
    for name, std in (('peaked', 3.0), ('near_uniform', 0.02)):
        logits = torch.randn(
            args.batch_size, args.num_queries, args.num_classes, generator=gen) * std
        probs = logits.softmax(-1)
        median, times = _cpu_seconds(lambda: match_set_predictions(probs, labels),
                                     args.match_repeats)
        costs = [-probs[b][:, lab].double().numpy() for b, lab in enumerate(labels)]
        lsa, _ = _cpu_seconds(lambda: [linear_sum_assignment(c) for c in costs],
                              args.match_repeats)
        out[name] = dict(
            batch_ms=1e3 * median,
            lsa_only_ms=1e3 * lsa,
            per_image_ms=1e3 * median / args.batch_size,
            all_ms=[1e3 * t for t in times])
    return out


def _dims(args):
    width = max(64, int(round(768 * args.scale / 64)) * 64)
    heads = width // 64
    return width, heads, 4 * width


def paper_model_cfg(args, num_queries=None) -> dict:
    """The SPL SemanticVLP at paper size (or widths scaled by ``--scale``)."""
    from mmvisrep.models.backbones import vit_b32_l9_384
    width, heads, ffn = _dims(args)
    return dict(
        type='SemanticVLP',
        backbone=vit_b32_l9_384(
            arch=dict(embed_dims=width, num_layers=9, num_heads=heads, feedforward_channels=ffn),
            img_size=args.img_size),
        text_encoder=dict(
            type='HFTextEncoder',
            config=dict(
                vocab_size=30522,
                hidden_size=width,
                num_hidden_layers=12,
                num_attention_heads=heads,
                intermediate_size=ffn)),
        cross_modal_encoder=dict(
            hidden_size=width, num_layers=5, num_heads=heads, intermediate_size=ffn),
        mask_token_id=103,
        special_token_ids=[0, 100, 101, 102, 103],
        spl=dict(
            head=dict(
                type='SetPredictor',
                num_classes=args.num_classes,
                num_queries=num_queries or args.num_queries,
                embed_dims=width,
                num_heads=heads,
                feedforward_channels=ffn)))


def _samples(args, gen):
    from mmpretrain.structures import DataSample
    out = []
    for lab in _label_sets(args, gen):
        ids = torch.randint(1000, 30000, (args.text_len, ), generator=gen)
        ids[0], ids[-1] = 101, 102
        s = DataSample()
        s.set_field(ids, 'input_ids')
        s.set_field(torch.ones(args.text_len, dtype=torch.long), 'attention_mask')
        s.set_field(lab, 'pseudo_labels')
        s.set_field(int(lab.numel()), 'num_pseudo_labels')
        out.append(s)
    return out


@contextmanager
def timed_matching(record: list):
    """Accumulate the CPU time of every SPL matching call into ``record``."""
    from mmvisrep.models.losses import set_prediction_loss as module
    original = module.match_set_predictions

    def wrapper(*a, **k):
        start = time.process_time()
        try:
            return original(*a, **k)
        finally:
            record.append(time.process_time() - start)

    module.match_set_predictions = wrapper
    try:
        yield
    finally:
        module.match_set_predictions = original


def bench_step(args) -> dict:
    """CPU time of one SPL training step and of the matching inside it."""
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    MMLogger.get_current_instance().setLevel('WARNING')  # no per-parameter init log
    torch.manual_seed(args.seed)
    model = MODELS.build(paper_model_cfg(args))
    model.init_weights()
    model.train()
    num_params = sum(p.numel() for p in model.parameters())
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4) if args.optimizer == 'adamw' else None
    gen = torch.Generator().manual_seed(args.seed)

    def step(batch):
        img = torch.randn(batch, 3, args.img_size, args.img_size, generator=gen)
        data = _samples(argparse.Namespace(**{**vars(args), 'batch_size': batch}), gen)
        losses = model.loss(img, data)
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
        loss.backward()
        if optim is not None:
            optim.step()
        model.zero_grad(set_to_none=True)
        return {k: float(v.detach()) for k, v in losses.items()}

    step(2)  # warm-up (allocator, lazy init)
    record = []
    with timed_matching(record):
        start = time.process_time()
        losses = step(args.batch_size)
        step_s = time.process_time() - start
    match_s = sum(record)
    return dict(
        num_params_m=num_params / 1e6,
        step_s=step_s,
        matching_ms=1e3 * match_s,
        matching_share_pct=100 * match_s / step_s,
        losses=losses,
        optimizer=args.optimizer)


def bench_encoder(args) -> dict:
    """Forward+backward CPU time of the cross-modal encoder for 36/100 objects vs grids."""
    from mmvisrep.models.heads import SetPredictor
    from mmvisrep.models.necks import CrossModalEncoder
    width, heads, ffn = _dims(args)
    torch.manual_seed(args.seed)
    encoder = CrossModalEncoder(
        visual_in_channels=width,
        hidden_size=width,
        num_layers=5,
        num_heads=heads,
        intermediate_size=ffn,
        output_visual=False)
    encoder.init_weights()
    batch, length = args.batch_size, args.text_len
    lang = torch.randn(batch, length, width, requires_grad=True)
    mask = torch.ones(batch, length, dtype=torch.long)
    rows = {}
    for name, tokens in (('spl36', 36), ('spl100', 100), ('grid144_384px', 144), ('grid324_576px',
                                                                                  324)):
        visual = torch.randn(batch, tokens, width, requires_grad=True)

        def run():
            out, _ = encoder(lang, mask, visual)
            out.sum().backward()

        run()  # warm-up
        median, _ = _cpu_seconds(run, args.encoder_repeats)
        rows[name] = dict(visual_tokens=tokens, fwd_bwd_ms=1e3 * median)
    for num_queries in (36, 100):
        head = SetPredictor(
            in_channels=width,
            num_classes=args.num_classes,
            num_queries=num_queries,
            embed_dims=width,
            num_heads=heads,
            feedforward_channels=ffn)
        grid = torch.randn(batch, width, 12, 12, requires_grad=True)

        def run_head():
            objects, logits = head(grid)
            (objects.sum() + logits.sum()).backward()

        run_head()
        median, _ = _cpu_seconds(run_head, args.encoder_repeats)
        rows[f'spl{num_queries}_decoder'] = dict(visual_tokens=144, fwd_bwd_ms=1e3 * median)
    ref = rows['grid144_384px']['fwd_bwd_ms']
    for row in rows.values():
        row['vs_grid144'] = row['fwd_bwd_ms'] / ref
    return rows


def main(argv=None):
    args = parse_args(argv)
    from mmvisrep.utils.atomic_io import atomic_write_json
    width, heads, _ = _dims(args)
    result = dict(
        config=vars(args),
        width=width,
        heads=heads,
        paper_size=width == 768,
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        cpu=platform.processor() or platform.machine(),
        timer='time.process_time (CPU seconds of this process)')
    if 'match' not in args.skip:
        print('[1/3] matching ...', flush=True)
        result['match'] = bench_match(args)
    if 'encoder' not in args.skip:
        print('[2/3] cross-modal encoder ...', flush=True)
        result['encoder'] = bench_encoder(args)
    if 'step' not in args.skip:
        print('[3/3] SPL training step (paper size may take minutes on one core) ...', flush=True)
        result['step'] = bench_step(args)
        if 'match' in result:
            per_batch = result['match']['peaked']['batch_ms'] / 1e3
            result['step']['standalone_matching_share_pct'] = \
                100 * per_batch / result['step']['step_s']
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    atomic_write_json(result, args.out)

    print(f'\nwidth {width} ({"paper size" if width == 768 else f"scaled x{args.scale}"}), '
          f'batch {args.batch_size}, N={args.num_queries}, {args.num_classes} classes, '
          f'{torch.get_num_threads()} thread(s), CPU time')
    if 'match' in result:
        m = result['match']
        print(f'matching, labels/image {min(m["num_labels"])}..{max(m["num_labels"])}: '
              f'peaked {m["peaked"]["batch_ms"]:.1f} ms/batch '
              f'(LSA only {m["peaked"]["lsa_only_ms"]:.1f}), near-uniform '
              f'{m["near_uniform"]["batch_ms"]:.1f} ms/batch')
    if 'encoder' in result:
        print('cross-modal encoder (5 layers) fwd+bwd:')
        for name, row in result['encoder'].items():
            print(f'  {name:16s} V={row["visual_tokens"]:4d} {row["fwd_bwd_ms"]:9.1f} ms '
                  f'({row["vs_grid144"]:.2f}x grid144)')
    if 'step' in result:
        s = result['step']
        print(f'SPL step ({s["num_params_m"]:.0f}M params, optimizer {s["optimizer"]}): '
              f'{s["step_s"]:.1f} s; matching inside {s["matching_ms"]:.1f} ms = '
              f'{s["matching_share_pct"]:.3f}% of the step')
    print(f'written {args.out}')
    return result


if __name__ == '__main__':
    main()
