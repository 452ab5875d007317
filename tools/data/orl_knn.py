r"""ORL Stage 2(a): Stage-1 image embeddings and kNN retrieval -> train2017_10nn_instance.json.

Examples::

    # one process: embed every train2017 image, then retrieve 10 neighbours each
    python tools/data/orl_knn.py extract CONFIG work_dirs/orl_stage1/epoch_800.pth \
        --ann-file data/coco/annotations/instances_train2017.json \
        --img-dir data/coco/train2017 --out-dir data/coco/meta

    # 8 GPUs (one shard per rank); the last rank to finish runs the retrieval
    torchrun --nproc_per_node 8 tools/data/orl_knn.py extract CONFIG CKPT ...

    # retrieval alone (all shards finished), e.g. with another k
    python tools/data/orl_knn.py retrieve --out-dir data/coco/meta --k 10

See docs/orl_stage2.md for the files and the differences from the official notebook.
"""
import os

from mmvisrep.utils.cli import (TOOL_ERRORS, add_chunk_size_arg, add_device_progress_args,
                                add_shard_arg, run_subcommand, subcommand_parser)


def _add_retrieval_args(parser):
    parser.add_argument(
        '--k', type=int, default=10, help='neighbours per image (default: %(default)s)')
    parser.add_argument(
        '--prefix',
        default='train2017',
        help='output name prefix: PREFIX_{k}nn_instance.json (default: %(default)s)')
    parser.add_argument('--out-file', help='output json (default: OUT/PREFIX_{k}nn_instance.json)')
    parser.add_argument(
        '--block-size',
        type=int,
        default=1024,
        help='queries per similarity block (memory: block x images floats)')
    add_device_progress_args(parser)


def parse_args(argv=None):
    parser, sub = subcommand_parser(__doc__)
    ext = sub.add_parser(
        'extract',
        help='embed the images of one shard (then retrieve once every shard is done)',
        description='Resize(R) + CenterCrop(C), Stage-1 online backbone + projector, '
        'L2-normalised; written per chunk, resumable. When all chunks exist afterwards, the '
        'kNN json is written (see retrieve).')
    ext.add_argument('config', help='Stage-1 model config (mmpretrain, e.g. BYOL)')
    ext.add_argument('checkpoint', help='Stage-1 checkpoint (online backbone + neck are used)')
    ext.add_argument(
        '--ann-file',
        action='append',
        required=True,
        help='COCO json whose "images" are embedded, in order; repeat for COCO+ (train2017, '
        'then unlabeled2017)')
    ext.add_argument('--img-dir', required=True, help='folder of the file_name paths')
    ext.add_argument('--out-dir', required=True, help='output folder (knn_feats/ and the json)')
    add_shard_arg(ext)
    ext.add_argument('--resize', type=int, default=256, help='shorter side (default: 256)')
    ext.add_argument('--crop-size', type=int, default=224, help='center crop (default: 224)')
    ext.add_argument('--batch-size', type=int, default=64, help='images per forward')
    ext.add_argument('--workers', type=int, default=2, help='data loading processes')
    add_chunk_size_arg(ext, default=1024)
    ext.add_argument(
        '--ignore-exif',
        action='store_true',
        help='ignore EXIF orientation like the official PIL loading (default: apply it, like '
        'mmpretrain)')
    ext.add_argument('--overwrite', action='store_true', help="recompute this shard's chunks")
    ext.add_argument(
        '--no-retrieve', action='store_true', help='never retrieve, even when all are done')
    _add_retrieval_args(ext)

    ret = sub.add_parser(
        'retrieve',
        help='kNN retrieval over the finished embeddings -> kNN json',
        description='Cosine similarity over the full bank in blocks; the query itself is '
        'excluded by index; ties broken by the lower index.')
    ret.add_argument('--out-dir', required=True, help='the --out-dir of extract')
    _add_retrieval_args(ret)
    return parser, parser.parse_args(argv)


def _retrieve(args):
    from mmvisrep.correspondence.knn_runner import retrieve
    res = retrieve(
        args.out_dir,
        k=args.k,
        prefix=args.prefix,
        out_file=args.out_file,
        block_size=args.block_size,
        device=args.device,
        progress=not args.no_progress)
    print(f'kNN: {res["images"]} images, k={res["k"]}, {res["dim"]}-d features, mean '
          f'neighbour similarity {res["mean_sim"]:.4f}, {res["seconds"]:.1f}s')
    print(f'kNN json: {res["path"]}')


def run_extract(args):
    from mmvisrep.correspondence.knn_runner import all_chunks_done, extract_shard
    from mmvisrep.correspondence.model import checkpoint_identity, load_encoder
    from mmvisrep.proposals.runner import resolve_shard
    index, count, source = resolve_shard(args.shard)
    if not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    print(f'Shard {index}/{count} (from {source}); output {args.out_dir}')
    summary = extract_shard(
        lambda: load_encoder(args.config, args.checkpoint, args.device, need_neck=True),
        args.ann_file,
        args.img_dir,
        args.out_dir,
        checkpoint_identity(args.checkpoint),
        index,
        count,
        resize=args.resize,
        crop=args.crop_size,
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        workers=args.workers,
        ignore_exif=args.ignore_exif,
        overwrite=args.overwrite,
        progress=not args.no_progress)
    if summary.get('skipped'):
        print(f'Shard {summary["shard"]} was already finished ({summary["images"]} images); '
              'skipped')
    else:
        print(f'Shard {summary["shard"]}: {summary["images"]} images ({summary["computed"]} '
              f'computed, {summary["resumed"]} resumed) in {summary["seconds"]:.1f}s')
    if args.no_retrieve:
        return
    if not all_chunks_done(args.out_dir):
        print('Not retrieving yet: other shards are unfinished; run "retrieve" when they are')
        return
    _retrieve(args)


def main(argv=None):
    parser, args = parse_args(argv)
    from mmvisrep.correspondence.data import ImageReadError
    run_subcommand(parser, args, dict(extract=run_extract, retrieve=_retrieve),
                   TOOL_ERRORS + (ImageReadError, ))


if __name__ == '__main__':
    main()
