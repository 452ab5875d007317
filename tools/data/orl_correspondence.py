r"""ORL Stage 2(c): RoI-pair mining -> train2017_10nn_instance_correspondence.json.

Examples::

    # one process: filter + embed every image's RoIs, mine the pairs, write the json
    python tools/data/orl_correspondence.py generate CONFIG work_dirs/orl_stage1/epoch_800.pth \
        --knn-json data/coco/meta/train2017_10nn_instance.json \
        --proposal-json data/coco/meta/train2017_selective_search_proposal.json \
        --img-dir data/coco/train2017 --out-dir data/coco/meta/orl_correspondence

    # 8 GPUs (one shard per rank); the last rank to finish mines and merges
    torchrun --nproc_per_node 8 tools/data/orl_correspondence.py generate CONFIG CKPT ...

    # a slurm array of 16 tasks, then mining + merging in one job
    sbatch --array=0-15 --gres=gpu:1 --wrap "python tools/data/orl_correspondence.py generate \
        CONFIG CKPT ... --no-merge"
    python tools/data/orl_correspondence.py merge --out-dir data/coco/meta/orl_correspondence

See docs/orl_stage2.md for the files and the differences from the official scripts.
"""
import os

from mmvisrep.utils.cli import (TOOL_ERRORS, add_chunk_size_arg, add_device_progress_args,
                                add_shard_arg, run_subcommand, subcommand_parser)


def _number(text: str):
    """An int when integral (so the json info reads 96, not 96.0), else a float."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _add_mining_args(parser):
    parser.add_argument(
        '--knn-image-num',
        type=int,
        help='neighbours per image to pair with (default: the kNN json\'s knn_image_num)')
    parser.add_argument(
        '--pair-ratio',
        type=float,
        help='pairs per (query, neighbour) = int(ratio x query RoIs), >= 1 (default: 0.1)')
    add_device_progress_args(parser)


def parse_args(argv=None):
    parser, sub = subcommand_parser(__doc__)

    gen = sub.add_parser(
        'generate',
        help='filter + embed the RoIs of one shard (then mine + merge once all are done)',
        description='Filter each image\'s selective-search boxes (ORL rule), crop and resize '
        'the kept RoIs, embed them with the Stage-1 backbone (res5, average pool, '
        'L2-normalised). Resumable per chunk. When every chunk exists afterwards, the pairs '
        'are mined and the json is written (see merge).')
    gen.add_argument('config', help='Stage-1 model config (mmpretrain, e.g. BYOL)')
    gen.add_argument('checkpoint', help='Stage-1 checkpoint (the online backbone is used)')
    gen.add_argument('--knn-json', required=True, help='kNN json of tools/data/orl_knn.py')
    gen.add_argument(
        '--proposal-json',
        required=True,
        help='{"bbox": [[[x, y, w, h], ...] per image]} in the kNN json\'s image order')
    gen.add_argument('--img-dir', required=True, help='folder of the file_name paths')
    gen.add_argument('--out-dir', required=True, help='output folder')
    add_shard_arg(gen)
    flt = gen.add_argument_group('RoI filter (defaults: ORL; 0 switches a rule off)')
    flt.add_argument('--min-size', type=_number, default=96, help='minimum w and h (96)')
    flt.add_argument('--max-ratio', type=_number, default=3, help='maximum w/h and h/w (3)')
    flt.add_argument(
        '--max-iou-thr', type=_number, default=0.5, help='greedy de-duplication IoU (0.5)')
    flt.add_argument('--topn', type=int, default=100, help='RoIs kept per image (100)')
    emb = gen.add_argument_group('RoI embeddings')
    emb.add_argument('--crop-size', type=int, default=224, help='crop side (default: 224)')
    emb.add_argument(
        '--no-antialias',
        action='store_true',
        help='plain bilinear resizing (default: antialiased, as PIL / TF.resized_crop)')
    emb.add_argument('--crop-batch', type=int, default=128, help='RoIs per forward pass')
    emb.add_argument(
        '--feat-dtype',
        default='float16',
        choices=['float16', 'float32'],
        help='stored RoI embeddings (default: float16, half the disk; float32 for exactness)')
    emb.add_argument('--workers', type=int, default=2, help='image decoding processes')
    add_chunk_size_arg(emb, default=256)
    emb.add_argument(
        '--ignore-exif',
        action='store_true',
        help='ignore EXIF orientation like the official PIL loading; must match how the '
        'proposals were computed (default: apply it, like mmpretrain)')
    gen.add_argument(
        '--overwrite', action='store_true', help="recompute this shard's RoI embeddings")
    gen.add_argument(
        '--no-merge', action='store_true', help='never mine/merge, even when all are done')
    gen.add_argument(
        '--out-file', help='output json (default: OUT/<kNN stem>_correspondence.json)')
    _add_mining_args(gen)

    mine = sub.add_parser(
        'mine',
        help='mine the RoI pairs of one shard of queries (optional; merge mines what is left)',
        description='Needs every RoI chunk. Resumable per chunk.')
    mine.add_argument('--out-dir', required=True, help='the --out-dir of generate')
    mine.add_argument('--knn-json', help='kNN json (default: the one generate used)')
    add_shard_arg(mine)
    _add_mining_args(mine)

    mrg = sub.add_parser(
        'merge',
        help='mine missing pairs and write the official correspondence json',
        description='Refuses, naming them, while RoI chunks are missing.')
    mrg.add_argument('--out-dir', required=True, help='the --out-dir of generate')
    mrg.add_argument('--knn-json', help='kNN json (default: the one generate used)')
    mrg.add_argument(
        '--out-file', help='output json (default: OUT/<kNN stem>_correspondence.json)')
    _add_mining_args(mrg)
    return parser, parser.parse_args(argv)


def _merge(args):
    from mmvisrep.correspondence.pair_runner import merge
    res = merge(
        args.out_dir,
        knn_image_num=args.knn_image_num,
        pair_ratio=args.pair_ratio,
        knn_json=getattr(args, 'merge_knn_json', None),
        out_file=args.out_file,
        device=args.device,
        progress=not args.no_progress)
    s = res['stats']
    print(f'Correspondence: {s["images"]} images, {s["raw_boxes"]} proposals -> '
          f'{s["kept_boxes"]} RoIs ({s["mean_kept_boxes"]:.1f}/image, {s["fallback_images"]} '
          f'images kept only their first box), {s["pairs"]} pairs '
          f'({s["mean_pairs_per_neighbour"]:.2f} per neighbour)')
    if s['rois_outside_image']:
        print(f'Warning: {s["rois_outside_image"]} RoIs extend beyond their image (zero-padded '
              'crops); check that the proposals match the images (EXIF orientation?)')
    print(f'Correspondence json: {res["path"]} (stats: {res["stats_path"]})')


def run_generate(args):
    from mmvisrep.correspondence import BoxFilter
    from mmvisrep.correspondence.model import checkpoint_identity, load_encoder
    from mmvisrep.correspondence.pair_runner import all_roi_chunks_done, embed_shard
    from mmvisrep.proposals.runner import resolve_shard
    index, count, source = resolve_shard(args.shard)
    if not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    box_filter = BoxFilter(args.min_size, args.max_ratio, args.max_iou_thr, args.topn)
    print(f'Shard {index}/{count} (from {source}); filter {box_filter.as_dict()}; output '
          f'{args.out_dir}')
    summary = embed_shard(
        lambda: load_encoder(args.config, args.checkpoint, args.device, need_neck=False),
        args.knn_json,
        args.proposal_json,
        args.img_dir,
        args.out_dir,
        checkpoint_identity(args.checkpoint),
        index,
        count,
        box_filter=box_filter,
        crop_size=args.crop_size,
        antialias=not args.no_antialias,
        crop_batch=args.crop_batch,
        feat_dtype=args.feat_dtype,
        chunk_size=args.chunk_size,
        workers=args.workers,
        ignore_exif=args.ignore_exif,
        knn_image_num=args.knn_image_num,
        pair_ratio=0.1 if args.pair_ratio is None else args.pair_ratio,
        overwrite=args.overwrite,
        progress=not args.no_progress)
    if summary.get('skipped'):
        print(f'Shard {summary["shard"]} was already finished ({summary["images"]} images); '
              'skipped')
    else:
        rate = summary['computed'] / max(summary['seconds'], 1e-9)
        print(f'Shard {summary["shard"]}: {summary["images"]} images ({summary["computed"]} '
              f'computed, {summary["resumed"]} resumed), {summary["rois"]} RoIs, '
              f'{summary["fallbacks"]} first-box fallbacks, {summary["seconds"]:.1f}s '
              f'({rate:.2f} img/s)')
    if args.no_merge:
        return
    if not all_roi_chunks_done(args.out_dir):
        print('Not merging yet: other shards are unfinished; run "merge" when they are')
        return
    _merge(args)


def run_mine(args):
    from mmvisrep.correspondence.pair_runner import mine
    from mmvisrep.proposals.runner import resolve_shard
    index, count, source = resolve_shard(args.shard)
    s = mine(
        args.out_dir,
        index,
        count,
        knn_image_num=args.knn_image_num,
        pair_ratio=args.pair_ratio,
        knn_json=args.knn_json,
        device=args.device,
        progress=not args.no_progress)
    print(f'Pairs shard {s["shard"]} (from {source}): {s["queries"]} queries ({s["computed"]} '
          f'computed, {s["resumed"]} resumed), {s["pairs"]} pairs, {s["seconds"]:.1f}s')


def run_merge(args):
    args.merge_knn_json = args.knn_json
    _merge(args)


def main(argv=None):
    parser, args = parse_args(argv)
    from mmvisrep.correspondence.data import ImageReadError
    run_subcommand(parser, args, dict(generate=run_generate, mine=run_mine, merge=run_merge),
                   TOOL_ERRORS + (ImageReadError, ))


if __name__ == '__main__':
    main()
