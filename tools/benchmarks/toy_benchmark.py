"""The toy benchmark: does each method learn features that transfer, on a 2-core CPU?

Generates the benchmark's toy scenes (and what the methods need: selective-search proposals,
caption lists, detector pseudo-labels), pretrains every method per seed through
``tools/train.py``, runs every probe that fits the method's backbone, and writes
``docs/toy_benchmark.md``, ``docs/toy_benchmark/results.json`` and the plots from the logs.
Every finished step is cached under ``--work-dir``: rerun the same command after an interruption
and only the unfinished work runs (training resumes from its last epoch checkpoint)::

    python tools/benchmarks/toy_benchmark.py                      # everything, seeds 0 1 2
    python tools/benchmarks/toy_benchmark.py --seeds 0 --methods random byol
    python tools/benchmarks/toy_benchmark.py --report-only        # rewrite the docs from the cache

``--config byol=MY_BYOL.py`` pretrains a method with another config (a variant of its
``configs/toy_benchmark/`` config) and probes it as the benchmark does; a work dir holds one
config per method, so give such runs their own ``--work-dir``.

See docs/toy_benchmark.md for the protocol and the results.
"""
import argparse
import os.path as osp
import sys
import time


def parse_args(argv=None):
    """Parse the command line."""
    from mmvisrep.toy_benchmark.methods import METHOD_NAMES
    from mmvisrep.toy_benchmark.runner import PROBES

    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='default: 0 1 2')
    parser.add_argument(
        '--methods', nargs='+', choices=METHOD_NAMES, help='default: all (table order)')
    parser.add_argument('--probes', nargs='+', choices=list(PROBES), help='default: all')
    parser.add_argument(
        '--work-dir', default='work_dirs/toy_benchmark', help='runs and the step cache')
    parser.add_argument(
        '--data-root', default='data/toy_benchmark', help='where the toy scenes are generated')
    parser.add_argument(
        '--docs-dir', default='docs', help='where toy_benchmark.md and toy_benchmark/ go')
    parser.add_argument(
        '--config',
        nargs='+',
        default=[],
        metavar='METHOD=CONFIG',
        help='pretrain METHOD with CONFIG instead of its configs/toy_benchmark/ config')
    parser.add_argument(
        '--report-only', action='store_true', help='only rewrite the docs from finished steps')
    parser.add_argument('--python', default=sys.executable, help='interpreter of the tools')
    return parser.parse_args(argv)


def parse_configs(pairs):
    """``['byol=path.py']`` -> ``{'byol': 'path.py'}``."""
    configs = {}
    for pair in pairs:
        name, sep, config = pair.partition('=')
        if not sep or not name or not config:
            sys.exit(f'toy_benchmark.py: error: --config takes METHOD=CONFIG, got {pair!r}')
        configs[name] = config
    return configs


def main(argv=None):
    args = parse_args(argv)
    from mmvisrep.toy_benchmark.methods import methods_for
    from mmvisrep.toy_benchmark.runner import StepError, ToyBenchmark
    from mmvisrep.toy_benchmark.write import write_report

    try:
        bench = ToyBenchmark(
            args.work_dir,
            args.data_root,
            seeds=args.seeds,
            methods=methods_for(args.methods),
            probes=args.probes,
            python=args.python,
            configs=parse_configs(args.config))
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'toy_benchmark.py: error: {err}')
    start = time.time()
    try:
        if not args.report_only:
            bench.run()
    except StepError as err:
        sys.exit(f'toy_benchmark.py: error: {err}')
    results = write_report(
        args.work_dir, args.data_root, args.seeds, args.docs_dir, python=args.python)
    if results['probes']:
        from mmvisrep.toy_benchmark.report import results_table
        from mmvisrep.toy_benchmark.write import PROBE_TITLES, method_labels, method_order
        print(results_table(results, method_order(), method_labels(), PROBE_TITLES))
    print(f'toy_benchmark: wrote {osp.join(args.docs_dir, "toy_benchmark.md")} and '
          f'{osp.join(args.docs_dir, "toy_benchmark", "results.json")} '
          f'({len(results["probes"])} probes; {time.time() - start:.0f} s this call)')


if __name__ == '__main__':
    main()
