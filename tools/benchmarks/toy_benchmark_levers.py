"""Measure the toy benchmark's probe-side levers on its finished random-init, BYOL and MAE runs.

Re-runs the object probe with each setting of ``mmvisrep/toy_benchmark/levers.py`` (feature
maps, RoI bins, labelled images; the ViT's input and blocks) on the backbones of every seed,
re-pretrains stock BYOL for every seed with each schedule setting (pretraining epochs, backbone
width) and probes it, pretrains its pretraining levers (e.g. SVL with BERT's init std) for seed
0, caches each run in the benchmark's step cache, writes ``WORK_DIR/levers.json`` and rewrites
the benchmark's report, which renders it::

    python tools/benchmarks/toy_benchmark.py --methods random byol mae   # the runs it reuses
    python tools/benchmarks/toy_benchmark_levers.py
"""
import argparse
import sys


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='default: 0 1 2')
    parser.add_argument('--work-dir', default='work_dirs/toy_benchmark')
    parser.add_argument('--data-root', default='data/toy_benchmark')
    parser.add_argument('--docs-dir', default='docs')
    parser.add_argument(
        '--no-pretrain',
        action='store_true',
        help='skip the schedule and pretraining levers (probes only; earlier results are kept)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmvisrep.toy_benchmark.levers import PRETRAIN_LEVERS, SCHEDULE_LEVERS, run_levers
    from mmvisrep.toy_benchmark.runner import StepError, ToyBenchmark

    bench = ToyBenchmark(args.work_dir, args.data_root, seeds=args.seeds)
    try:
        levers = run_levers(
            bench,
            pretrain_levers=() if args.no_pretrain else PRETRAIN_LEVERS,
            schedule_levers=() if args.no_pretrain else SCHEDULE_LEVERS)
    except (StepError, RuntimeError) as err:
        sys.exit(f'toy_benchmark_levers.py: error: {err}')
    for row in levers['rows']:
        gain = row.get('gain', {})
        print(f'{row["lever"]:>16} | {row["setting"]:<22} | {row["probe"]:<18} | '
              f'random {row["random"]["mean"]:.1f} ± {row["random"]["std"]:.1f} | '
              f'{row["baseline"]} {row[row["baseline"]]["mean"]:.1f} ± '
              f'{row[row["baseline"]]["std"]:.1f} | '
              f'{gain.get("ratio", float("nan")):+.1f} spreads')
    from mmvisrep.toy_benchmark.write import write_report
    write_report(args.work_dir, args.data_root, args.seeds, args.docs_dir)
    print(f'toy_benchmark_levers: wrote {args.work_dir}/levers.json; report rewritten in '
          f'{args.docs_dir}')


if __name__ == '__main__':
    main()
