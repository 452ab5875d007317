"""VOC07 linear-SVM benchmark of a frozen backbone: full (trainval -> test mAP) and low-shot.

Follows the FAIR self-supervision benchmark as used by OpenSelfSup/mmselfsup
(``tools/benchmarks/classification/svm_voc07/``); every protocol choice and its source is in
docs/svm_voc07.md. Examples::

    # a full self-supervised checkpoint (online backbone) or an extract_weights.py output
    python tools/benchmarks/voc07_svm.py configs/benchmarks/svm/resnet50_1xb32-svm-feat5_voc07.py \
        work_dirs/orl/epoch_800.pth --n-jobs 16
    python tools/benchmarks/voc07_svm.py configs/benchmarks/svm/resnet50_1xb32-svm-feat5_voc07.py \
        byol_r50_cls.pth --mode low-shot
    # toy scenes, random-init baseline
    python tools/benchmarks/voc07_svm.py \
        configs/benchmarks/svm/toy/resnet18_1xb32-svm-toy_toyscenes.py random

Features are cached under ``WORK_DIR/features/`` (a rerun only trains SVMs) and every finished
class / (run, k) sample under ``WORK_DIR/svm_cache/`` (an interrupted run resumes). Results:
``WORK_DIR/<feature>_svm_results.json`` and a table in the log.
"""
import argparse
import os.path as osp
import time

from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.utils import mkdir_or_exist

import mmvisrep  # noqa: F401  (registers modules, allow-lists checkpoint types)
from mmvisrep.evaluation.svm import run_svm_benchmark
from mmvisrep.evaluation.svm.benchmark import MODES


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='VOC07 linear SVM (full and low-shot) on frozen backbone features')
    parser.add_argument('config', help='SVM benchmark config (backbone, data, svm settings)')
    parser.add_argument(
        'checkpoint',
        help='full training checkpoint, extract_weights.py output or bare backbone state dict; '
        '"random" for the random-init baseline')
    parser.add_argument(
        '--work-dir',
        help='where features, caches and results go (default: '
        'work_dirs/svm/<config>/<checkpoint>)')
    parser.add_argument('--mode', choices=MODES, default='both', help='which protocol(s) to run')
    parser.add_argument(
        '--prefix',
        default='auto',
        help='key prefix of the backbone in the checkpoint ("auto": backbone. if present, else '
        'a bare backbone; "" = the whole file)')
    parser.add_argument(
        '--use-target',
        action='store_true',
        help='evaluate the momentum (EMA) encoder instead of the online backbone')
    parser.add_argument('--n-jobs', type=int, default=1, help='parallel SVM processes')
    parser.add_argument('--device', help='feature extraction device (default: cuda if present)')
    parser.add_argument(
        '--global-pool',
        action='store_true',
        help='global average pooling of the last stage instead of the config\'s pooling')
    parser.add_argument(
        '--k', type=int, nargs='+', help='low-shot k values (default: the config\'s)')
    parser.add_argument('--runs', type=int, help='low-shot runs (default: the config\'s)')
    parser.add_argument(
        '--force-extract', action='store_true', help='recompute the cached features')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. train_dataloader.dataset.data_root=...')
    return parser.parse_args(argv)


def default_work_dir(config: str, checkpoint: str) -> str:
    """``work_dirs/svm/<config stem>/<checkpoint stem>`` (as mmselfsup's svm scripts)."""
    stem = osp.splitext(osp.basename(config))[0]
    return osp.join('work_dirs', 'svm', stem, osp.splitext(osp.basename(checkpoint))[0])


def main(argv=None):
    """Run the benchmark; return the results dict."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.checkpoint != 'random' and not osp.isfile(args.checkpoint):
        raise SystemExit(f'voc07_svm: checkpoint not found: {args.checkpoint}')
    work_dir = args.work_dir or default_work_dir(args.config, args.checkpoint)
    mkdir_or_exist(work_dir)
    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    logger = MMLogger.get_instance(
        f'voc07_svm_{timestamp}',
        logger_name='mmvisrep',
        log_file=osp.join(work_dir, f'svm_{timestamp}.log'))
    logger.info(f'config {args.config}, checkpoint {args.checkpoint}, work dir {work_dir}')
    try:
        results = run_svm_benchmark(
            cfg,
            args.checkpoint,
            work_dir,
            mode=args.mode,
            prefix=args.prefix,
            use_target=args.use_target,
            device=args.device,
            n_jobs=args.n_jobs,
            global_pool=args.global_pool,
            force_extract=args.force_extract,
            ks=args.k,
            runs=args.runs,
            progress=not args.no_progress,
            logger=logger)
    except (OSError, ValueError, RuntimeError) as err:
        raise SystemExit(f'voc07_svm: error: {err}')
    return results


if __name__ == '__main__':
    main()
