r"""Selective-search proposals for SoCo and ORL: generate (sharded, resumable), merge, filter.

Examples::

    # one machine, 8 processes: proposals + merge + ratio3size0308post filter in one go
    python tools/data/selective_search.py generate --img-dir data/imagenet/train \
        --out-dir data/imagenet/soco_proposals --workers 8

    # ORL stage 2: OpenCV's fast mode, one box list per image in instances_train2017 order
    python tools/data/selective_search.py generate --preset orl \
        --ann-file data/coco/annotations/instances_train2017.json \
        --img-dir data/coco/train2017 --out-dir data/coco/meta --workers 8

    # a slurm job array of 16 tasks (shard = array index); merge once all are done
    sbatch --array=0-15 --wrap "python tools/data/selective_search.py generate \
        --file-list data/imagenet/meta/train.txt --img-dir data/imagenet/train \
        --out-dir data/imagenet/soco_proposals --workers 8"
    python tools/data/selective_search.py merge --out-dir data/imagenet/soco_proposals

    # re-filter an existing raw file with another rule
    python tools/data/selective_search.py filter data/x/train_ss_raw.json --filter ratio2post

See docs/proposals.md for the output files and the differences from the official generator.
"""
import os.path as osp

from mmvisrep.utils.cli import (TOOL_ERRORS, add_chunk_size_arg, add_shard_arg, run_subcommand,
                                subcommand_parser)


def _add_filter_arg(parser, default='ratio3size0308post'):
    parser.add_argument(
        '--filter',
        default=default,
        metavar='STRATEGY',
        help="SoCo filter strategy: none | ratio<R> | size<AA> | ratio<R>size<AA><BB>, plus "
        "'post' to refill images left empty with ratio3 then none (default: "
        'ratio3size0308post, the file SoCo trains on; ORL runs are not filtered)')
    parser.add_argument(
        '--prefix',
        help='output file prefix (default: train, e.g. train_ss_raw.json; train2017 for ORL '
        'runs: train2017_selective_search_proposal.json)')


def parse_args(argv=None):
    """Command-line arguments of the three subcommands."""
    parser, sub = subcommand_parser(
        __doc__, epilog='Run "%(prog)s COMMAND --help" for the options of a command.')

    gen = sub.add_parser(
        'generate',
        help='compute the proposals of one shard (and merge + filter once all shards exist)',
        description='Compute selective-search proposals of the images of one shard. Finished '
        'shards are skipped and an unfinished shard resumes from its last complete chunk. '
        'Unreadable images are recorded as failures and never stop the run. When every shard '
        'of the run exists afterwards, the shards are merged and filtered (see merge).')
    src = gen.add_argument_group('images (an image directory, a COCO json or a file list)')
    src.add_argument(
        '--img-dir',
        help='image folder (searched recursively when alone; otherwise the prefix of the '
        'paths in --ann-file / --file-list)')
    src.add_argument('--ann-file', help='COCO instances json; its "images" list names the images')
    src.add_argument(
        '--file-list',
        help='text file, one image path per line, optionally followed by a tab or an integer '
        'label (SoCo train_map.txt, mmpretrain ann files)')
    gen.add_argument('--out-dir', required=True, help='output directory (shards/ and the json)')
    gen.add_argument(
        '--workers', type=int, default=1, help='processes for this shard (default: 1)')
    add_shard_arg(gen)
    add_chunk_size_arg(
        gen,
        default=256,
        help='images per resume point: a killed run loses at most the chunk(s) in flight '
        '(default: %(default)s)')
    gen.add_argument(
        '--preset',
        choices=['soco', 'orl'],
        default='soco',
        help='soco (default): the official SoCo generator (numba backend), images sorted by '
        'key, SoCo filter files. orl: OpenCV fast mode as ORL stage 2, images in the order of '
        '--ann-file / --file-list, one {"bbox": [...]} file, no filter')
    ss = gen.add_argument_group(
        'selective search (defaults: those of the preset; an option the chosen backend and '
        'method do not use is an error)')
    ss.add_argument(
        '--backend',
        choices=['numba', 'opencv'],
        help='numba: our port of the official generator (default for soco); opencv: OpenCV '
        'ximgproc (default for orl)')
    ss.add_argument(
        '--method',
        choices=['soco', 'fast', 'quality'],
        help="soco: the official configuration (default for --preset soco); fast / quality: "
        "OpenCV's switchToSelectiveSearchFast/Quality on the BGR image (opencv only; fast is "
        'the default for --preset orl)')
    ss.add_argument('--scale', type=float, help='Felzenszwalb k (soco methods; default 300)')
    ss.add_argument(
        '--sigma', type=float, help='Gaussian sigma (default 0.9 for soco, 0.8 for fast/quality)')
    ss.add_argument('--min-size', type=int, help='minimum segment size (soco; default 100)')
    ss.add_argument(
        '--neighbours',
        choices=['bbox', 'adjacent'],
        help="numba: 'bbox' (default) is the official rule (a box corner strictly inside the "
        "other box), 'adjacent' pairs regions that touch")
    ss.add_argument(
        '--dedupe',
        action='store_const',
        const=True,
        help='numba: drop repeated boxes (the official keeps them)')
    ss.add_argument(
        '--color-space',
        choices=['rgb', 'hsv', 'lab'],
        help='opencv soco: the single colour space (default: rgb, the image the official '
        'segments)')
    ss.add_argument(
        '--strategies',
        nargs='+',
        choices=['color', 'texture', 'size', 'fill'],
        help='opencv soco: similarities, equally weighted (default: all four, as the official)')
    ss.add_argument('--base-k', type=int, help='opencv fast/quality: first k (default 150)')
    ss.add_argument('--inc-k', type=int, help='opencv fast/quality: k step (default 150)')
    ss.add_argument(
        '--seed',
        type=int,
        help="opencv fast/quality: C rand() seed set before each image, so that OpenCV's "
        'random box order is reproducible (default 0)')
    _add_filter_arg(gen, default=None)
    gen.add_argument(
        '--no-merge', action='store_true', help='never merge, even when all shards are done')
    gen.add_argument(
        '--no-raw', action='store_true', help='when merging, skip the (large) raw json')
    gen.add_argument(
        '--overwrite', action='store_true', help='recompute this shard even if it exists')
    gen.add_argument('--no-progress', action='store_true', help='hide the progress bar')

    mrg = sub.add_parser(
        'merge',
        help='combine the shard files into one json and filter it',
        description='Combine OUT/shards/shard-*-of-N.json into PREFIX_ss_sizes.json, '
        'PREFIX_ss_failures.json/.txt and, for SoCo runs, PREFIX_ss_raw.json and the filtered '
        'files, for ORL runs PREFIX_selective_search_proposal.json. Refuses to run, naming '
        'them, while shards are missing.')
    mrg.add_argument('--out-dir', required=True, help='the --out-dir of generate')
    mrg.add_argument(
        '--num-shards', type=int, help='shard count N (default: the one found in shards/)')
    mrg.add_argument('--no-raw', action='store_true', help='skip the (large) raw json')
    _add_filter_arg(mrg)

    flt = sub.add_parser(
        'filter',
        help='filter a raw proposal json',
        description='Filter {key: [[x, y, w, h], ...]} with SoCo rules. Writes the strict '
        'file, the list of images it leaves empty, and with "post" the refilled file, its '
        'empty list and a stats json counting the images decided by each rule.')
    flt.add_argument('raw', help='raw proposal json, e.g. OUT/train_ss_raw.json')
    flt.add_argument(
        '--sizes', help='{key: [W, H]} json (default: RAW with _raw.json -> _sizes.json)')
    flt.add_argument('--out-dir', help='output directory (default: the folder of RAW)')
    _add_filter_arg(flt)
    return parser, parser.parse_args(argv)


def _print_filter(result):
    stats = result['stats']
    if stats.get('layout') == 'orl':
        print(f'ORL proposals: {stats["images"]} images, {stats["boxes"]} boxes; unreadable '
              f'images (kept as []): {stats["images_failed"]} (listed in '
              f'{result["paths"]["failures"]})')
        print(f'Proposal file: {result["paths"]["final"]}')
        return
    rules = ', '.join(f'{k}: {v}' for k, v in stats['images_by_rule'].items())
    print(f'Filter {stats["strategy"]}: {stats["images"]} images, {stats["boxes_in"]} -> '
          f'{stats["boxes_out"]} boxes; images per rule: {rules}; left empty: '
          f'{stats["images_empty"]} (strict rule alone: {stats["strict_images_empty"]})')
    if 'images_failed' in stats:
        print(f'Unreadable images: {stats["images_failed"]} (listed in '
              f'{result["paths"]["failures"]})')
    print(f'Proposal file: {result["paths"]["final"]}')


def generate_params(args):
    """``(params, layout, sort)`` of a generate command line (preset defaults, then options)."""
    from mmvisrep.proposals import make_params
    orl = args.preset == 'orl'
    backend = args.backend or ('opencv' if orl else 'numba')
    if orl and backend != 'opencv':
        raise ValueError("--preset orl runs OpenCV's selective search: drop --backend numba")
    if orl and args.filter is not None:
        raise ValueError('--preset orl writes unfiltered proposals (as ORL): drop --filter')
    method = args.method or ('fast' if orl else 'soco')
    params = make_params(backend, method, args.scale, args.sigma, args.min_size, args.color_space,
                         args.strategies, args.neighbours, args.dedupe, args.base_k, args.inc_k,
                         args.seed)
    return params, ('orl' if orl else 'soco'), not orl


def run_generate(args):
    """``generate``: one shard, then merge when every shard exists."""
    from mmvisrep.proposals import list_images, resolve_shard, run_shard
    from mmvisrep.proposals.filters import parse_strategy
    from mmvisrep.proposals.runner import DEFAULT_STRATEGY, all_shards_done, merge_shards
    params, layout, sort = generate_params(args)
    strategy = args.filter or DEFAULT_STRATEGY
    parse_strategy(strategy)
    index, count, source = resolve_shard(args.shard)
    images = list_images(args.img_dir, args.ann_file, args.file_list, sort=sort)
    print(f'{len(images)} images; shard {index}/{count} (from {source}); {args.workers} '
          f'worker(s); output {args.out_dir}; {layout} layout; parameters {params}')
    summary = run_shard(
        images,
        args.out_dir,
        index,
        count,
        params=params,
        workers=args.workers,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        layout=layout)
    if summary.get('skipped'):
        print(f'Shard {summary["shard"]} was already finished ({summary["path"]}); skipped')
    else:
        rate = summary['computed'] / max(summary['seconds'], 1e-9)
        print(f'Shard {summary["shard"]}: {summary["images"]} images ({summary["computed"]} '
              f'computed, {summary["resumed"]} resumed), {summary["failed"]} unreadable, '
              f'{summary["boxes"]} boxes, {summary["seconds"]:.1f}s ({rate:.2f} img/s)')
    if args.no_merge:
        return
    if not all_shards_done(args.out_dir, count):
        print(f'Not merging yet: other shards of {count} are unfinished; run "merge" '
              'when they are')
        return
    _print_filter(
        merge_shards(args.out_dir, args.prefix, count, strategy, write_raw=not args.no_raw))


def run_merge(args):
    """``merge``: all shards -> raw/sizes/failures/filtered files."""
    from mmvisrep.proposals.runner import merge_shards
    _print_filter(
        merge_shards(args.out_dir, args.prefix, args.num_shards, args.filter, not args.no_raw))


def run_filter(args):
    """``filter``: an existing raw json -> filtered files."""
    from mmvisrep.proposals.runner import filter_file
    sizes = args.sizes
    if sizes is None:
        stem = args.raw[:-len('_raw.json')] if args.raw.endswith('_raw.json') else \
            osp.splitext(args.raw)[0]
        sizes = stem + '_sizes.json'
    _print_filter(filter_file(args.raw, sizes, args.out_dir, args.prefix or 'train', args.filter))


def main(argv=None):
    parser, args = parse_args(argv)
    run_subcommand(parser, args, dict(generate=run_generate, merge=run_merge, filter=run_filter),
                   TOOL_ERRORS + (ImportError, ))


if __name__ == '__main__':
    main()
