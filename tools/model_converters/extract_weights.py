"""Export the pretrained backbone (and optional necks/heads) of a checkpoint for downstream use.

Example::

    python tools/model_converters/extract_weights.py work_dirs/byol/epoch_200.pth \
        byol_r50_mmdet.pth --target mmdet

A SoCo checkpoint exported with ``--target mmdet`` gets, automatically, what SoCo transfers:
backbone + FPN + box-head shared convs/fc (SoCo-FPN, SoCo*) or backbone + res5 as the C4 RoI
head's ``roi_head.shared_head.layer4`` (SoCo-C4), from the online network; load such a file
with ``load_from``. ``--no-auto`` exports the backbone only.

``--target mmseg-mae`` writes an mmpretrain ViT / MAEViT (MUG, MAE) for mmseg's BEiT-style
``MAE`` backbone (mmseg's MAE UperNet recipe), sized for that backbone's config::

    python tools/model_converters/extract_weights.py work_dirs/mug/epoch_400.pth mug_mae.pth \
        --target mmseg-mae \
        --seg-config configs/mug/benchmarks/upernet_mae-base_8xb2-amp-160k_ade20k-512x512.py

The output loads with ``torch.load(weights_only=True)``; see docs/transfer.md for the
matching downstream ``init_cfg`` / ``load_from`` of each target.
"""
import argparse

from mmengine.logging import MMLogger

import mmvisrep  # noqa: F401  (allow-lists mmengine checkpoint types for torch.load)
from mmvisrep.utils.weight_conversion import (OPENMMLAB_TARGETS, TARGETS, extract_weights,
                                              save_weights, summarize)


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Export pretrained weights for mmdet / mmseg (VisionTransformer or MAE) / '
        'mmpretrain / torchvision / detectron2')
    parser.add_argument('checkpoint', help='training checkpoint or plain state dict')
    parser.add_argument('out', help='output file')
    parser.add_argument(
        '--target',
        required=True,
        choices=TARGETS,
        help='downstream codebase; mmseg-mae: mmseg\'s MAE backbone (BEiT-style ViT) from an '
        'mmpretrain ViT/MAEViT')
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
        'e.g. "neck" or "roi_head.bbox_head"; mmdet, mmseg and mmpretrain only')
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
    parser.add_argument(
        '--c4-shared-head',
        action='store_true',
        default=None,
        help='mmdet C4 detectors: export backbone.layer4 as roi_head.shared_head.layer4 (mmdet '
        'ResLayer shared head) and the rest as backbone.; automatic for SoCo-C4 checkpoints')
    parser.add_argument(
        '--no-auto',
        action='store_true',
        help='do not recognise SoCo checkpoints: export only --prefix and --include')
    mae = parser.add_argument_group(
        'mmseg-mae', 'the mmseg MAE backbone the weights are for (its relative-position tables '
        'and pos_embed are sized for its patch grid; num_heads is not stored in the weights)')
    mae.add_argument(
        '--seg-config',
        metavar='CONFIG',
        help='mmseg config whose model.backbone (type MAE) takes the weights: gives img_size, '
        'num_heads, final_norm, and the export is checked against it (same keys and shapes, '
        'but for the relative_position_index buffers the model builds itself)')
    mae.add_argument(
        '--img-size',
        type=int,
        help='without --seg-config: the backbone\'s img_size (square, e.g. 512 for ADE20K)')
    mae.add_argument(
        '--num-heads', type=int, help='without --seg-config: the backbone\'s num_heads')
    mae.add_argument(
        '--final-norm',
        action='store_true',
        default=None,
        help='without --seg-config: the backbone is built with final_norm=True, export the '
        'ViT\'s final norm as ln1 (default: dropped, as mmseg\'s MAE recipe has no final norm)')
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
            target_map=target_map,
            auto=not args.no_auto,
            c4_shared_head=args.c4_shared_head,
            seg_config=args.seg_config,
            img_size=args.img_size,
            num_heads=args.num_heads,
            final_norm=args.final_norm)
    except (OSError, ValueError, TypeError, RuntimeError) as err:
        raise SystemExit(f'extract_weights: error: {err}')
    save_weights(obj, args.out, args.target)
    logger.info(f'{args.checkpoint} -> {args.out}\n{summarize(obj, args.target)}')
    if args.target in OPENMMLAB_TARGETS:
        meta = obj['meta']
        logger.info(f"selection: {meta['selection']}")
        if meta['downstream_load'] == 'load_from':
            parts = ', '.join(sorted(set(meta['exported'].values())))
            examples = {
                'auto: SoCo-FPN ': 'mask-rcnn_r50_fpn_soco-head_syncbn-1x_coco.py',
                'auto: SoCo-C4 ': 'mask-rcnn_r50-c4_soco_syncbn-1x_coco.py',
            }
            example = next(
                (f', e.g. configs/benchmarks/mmdetection/{name}'
                 for key, name in examples.items() if meta['selection'].startswith(key)), '')
            logger.info(f'downstream: load the whole file into the model with --cfg-options '
                        f'load_from={args.out} ({parts}; the backbone init_cfg must be None)'
                        f'{example}')
        else:
            prefix = meta['init_prefix']
            hint = f", prefix='{prefix}'" if prefix else ''
            logger.info(
                f"downstream: init_cfg=dict(type='Pretrained', checkpoint='{args.out}'{hint})")
    print(args.out)
    return args.out


if __name__ == '__main__':
    main()
