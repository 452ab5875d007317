"""Export the pretrained backbone (and optional necks/heads) of a checkpoint for downstream use.

Example::

    python tools/model_converters/extract_weights.py work_dirs/byol/epoch_200.pth \
        byol_r50_mmdet.pth --target mmdet

The output loads with ``torch.load(weights_only=True)``; see docs/transfer.md for the
matching downstream ``init_cfg`` of each target.
"""
import argparse

from mmengine.logging import MMLogger

import mmvisrep  # noqa: F401  (allow-lists mmengine checkpoint types for torch.load)
from mmvisrep.utils.weight_conversion import TARGETS, extract_weights, save_weights, summarize


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Export pretrained weights for mmdet / mmseg / mmpretrain / torchvision / '
        'detectron2')
    parser.add_argument('checkpoint', help='training checkpoint or plain state dict')
    parser.add_argument('out', help='output file')
    parser.add_argument('--target', required=True, choices=TARGETS, help='downstream codebase')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help='submodule of the pretraining model to export as the backbone '
        '(default "backbone."; "" = the whole state dict)')
    parser.add_argument(
        '--include',
        nargs='+',
        default=[],
        metavar='SRC[:DST]',
        help='extra submodules the target can use, exported under DST (default: SRC), '
        'e.g. "neck" or "roi_head.bbox_head"; OpenMMLab targets only')
    parser.add_argument(
        '--use-target',
        action='store_true',
        help='export the momentum/EMA encoder instead of the online one (backbone. -> '
        '<root>.module.0., neck. -> <root>.module.1. for root target_net, '
        'momentum_encoder or encoder_k)')
    parser.add_argument(
        '--target-map',
        nargs='+',
        default=[],
        metavar='ONLINE:EMA',
        help='with --use-target: where the EMA copy of an online prefix lives, e.g. '
        '"backbone.:target_net.module.0."')
    return parser.parse_args(argv)


def main(argv=None):
    """Run the export and print a summary; return the output path."""
    args = parse_args(argv)
    logger = MMLogger.get_current_instance()
    target_map = {}
    for item in args.target_map:
        online, sep, ema = item.partition(':')
        if not sep or not online or not ema:
            raise SystemExit(f'--target-map {item!r}: expected ONLINE:EMA')
        target_map[online] = ema
    try:
        obj = extract_weights(
            args.checkpoint,
            args.target,
            prefix=args.prefix,
            include=args.include,
            use_target=args.use_target,
            target_map=target_map)
    except (OSError, ValueError, TypeError, RuntimeError) as err:
        raise SystemExit(f'extract_weights: error: {err}')
    save_weights(obj, args.out, args.target)
    logger.info(f'{args.checkpoint} -> {args.out}\n{summarize(obj, args.target)}')
    if args.target in ('mmdet', 'mmseg', 'mmpretrain'):
        prefix = obj['meta']['init_prefix']
        hint = f", prefix='{prefix}'" if prefix else ''
        logger.info(f"downstream: init_cfg=dict(type='Pretrained', checkpoint='{args.out}'{hint})")
    print(args.out)
    return args.out


if __name__ == '__main__':
    main()
