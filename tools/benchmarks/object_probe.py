"""Object probes of a frozen backbone: linear and kNN classification of ground-truth objects
pooled with RoIAlign from the backbone's feature maps (docs/toy_benchmark.md).

Examples::

    # a pretraining checkpoint (online backbone) or an extract_weights.py --target mmpretrain file
    python tools/benchmarks/object_probe.py \
        configs/toy_benchmark/benchmarks/probes/object-probe_resnet18-w32_toybench.py \
        work_dirs/byol/epoch_8.pth
    # the random-init baseline (seeded) and the pixel-statistics reference
    python tools/benchmarks/object_probe.py CONFIG random --seed 1
    python tools/benchmarks/object_probe.py CONFIG pixel-stats

Writes the results (accuracies in percent, the chosen C, object counts) as JSON to ``--out``
(default: ``WORK_DIR/object_probe.json``) and prints them.
"""
import argparse
import json
import os.path as osp

from mmengine.config import Config, DictAction


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Linear / kNN object probes on frozen backbone features',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('Examples::')[1])
    parser.add_argument('config', help='probe config (backbone, data preprocessor, object_probe)')
    parser.add_argument(
        'checkpoint',
        help='training checkpoint (backbone.* weights), extract_weights.py --target mmpretrain '
        'output or bare backbone; "random" for random init, "pixel-stats" for the colour '
        'reference')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random initialisation')
    parser.add_argument('--work-dir', help='default: work_dirs/object_probe/<config>')
    parser.add_argument('--out', help='results JSON (default: WORK_DIR/object_probe.json)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bars')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import mmvisrep  # noqa: F401  (registers modules, allow-lists checkpoint types)
    from mmvisrep.evaluation.probes import PIXEL_STATS, run_object_probes
    from mmvisrep.utils.atomic_io import atomic_write_text

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.checkpoint not in ('random', PIXEL_STATS) and not osp.isfile(args.checkpoint):
        raise SystemExit(f'object_probe.py: error: checkpoint {args.checkpoint} does not exist')
    work_dir = args.work_dir or osp.join('work_dirs', 'object_probe',
                                         osp.splitext(osp.basename(args.config))[0])
    out = args.out or osp.join(work_dir, 'object_probe.json')
    results = run_object_probes(cfg, args.checkpoint, args.seed, not args.no_progress)
    results.update(config=args.config, checkpoint=args.checkpoint, seed=args.seed)
    atomic_write_text(json.dumps(results, indent=2, sort_keys=True), out)
    print(f'linear {results["linear"]["accuracy"]:.2f} % (C={results["linear"]["C"]}), '
          f'kNN {results["knn"]["accuracy"]:.2f} %, chance {results["chance"]:.2f} % on '
          f'{results["num_test_objects"]} test objects ({results["num_train_objects"]} labelled, '
          f'{results["feature_dim"]}-d, {results["seconds"]} s); written to {out}')


if __name__ == '__main__':
    main()
