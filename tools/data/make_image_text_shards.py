"""Pack image-caption pairs into webdataset-style tar shards for ``ImageTextShardDataset``.

Sources: a COCO captions json, or a TSV (header with ``image`` and ``caption`` columns) / JSONL
(``{"image": ..., "caption": ...}``) list, with image paths relative to ``--img-root``. Each
sample becomes ``{key}.jpg|png|...`` (the original bytes), ``{key}.txt`` (the caption) and
``{key}.json`` (caption(s), source image, source record); a COCO image packed per image keeps
all its captions in the json and the reader draws one per visit. Unreadable images and empty
captions are counted, logged and left out.

Examples::

    python tools/data/make_image_text_shards.py data/cc3m/train.tsv data/cc3m_shards \
        --img-root data/cc3m --prefix cc3m --samples-per-shard 10000
    # 4 processes (or torchrun / slurm env), then rerun any of them to resume:
    python tools/data/make_image_text_shards.py data/coco/annotations/captions_train2017.json \
        data/coco_caption_shards --img-root data/coco/train2017 --shard 0/4

The output folder gets ``{prefix}-000000.tar``..., one ``.done.json`` record per shard and,
once all shards exist, the manifest ``{prefix}.json``. See docs/image_text_data.md.
"""
import argparse
import os.path as osp
import sys
import time

from mmengine.logging import MMLogger


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Pack image-caption pairs into webdataset-style tar shards')
    parser.add_argument('ann', help='COCO captions .json, or a .tsv / .jsonl image-caption list')
    parser.add_argument('out', help='output folder (created; rerun to resume)')
    parser.add_argument(
        '--img-root', default='', help='folder the image paths are relative to (default: none)')
    parser.add_argument(
        '--format',
        choices=('coco', 'tsv', 'jsonl'),
        help='source format (default: .json -> coco, else from the extension)')
    parser.add_argument('--samples-per-shard', type=int, default=1000)
    parser.add_argument('--prefix', default='shard', help='shard file prefix (no dots)')
    parser.add_argument(
        '--coco-sample-per',
        choices=('image', 'caption'),
        default='image',
        help='COCO: one sample per image with all its captions (default), or per caption')
    parser.add_argument('--image-key', default='image', help='TSV column / JSONL key of images')
    parser.add_argument('--caption-key', default='caption', help='column / key of captions')
    parser.add_argument(
        '--no-verify', action='store_true', help='do not decode images to check them (faster)')
    parser.add_argument(
        '--shard',
        help='i/N: write every N-th shard starting at i (default: RANK/WORLD_SIZE or slurm '
        'env, else all)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    return parser, parser.parse_args(argv)


def build_source(args):
    """The map-style dataset that reads the source list (same parsing and skips as training)."""
    from mmvisrep.datasets.image_text import CocoCaptionsDataset, ImageTextFileDataset
    fmt = args.format or ('coco' if args.ann.endswith('.json') else None)
    if fmt == 'coco':
        return CocoCaptionsDataset(
            ann_file=args.ann, data_prefix=args.img_root, sample_per=args.coco_sample_per), fmt
    dataset = ImageTextFileDataset(
        ann_file=args.ann,
        data_prefix=args.img_root,
        file_format=fmt,
        image_key=args.image_key,
        caption_key=args.caption_key,
        index_cache=None,
        index_progress=not args.no_progress)
    return dataset, dataset.formats[0]


def main(argv=None):
    parser, args = parse_args(argv)
    from mmvisrep.datasets.image_text.shard_writer import pack_shards
    from mmvisrep.proposals.runner import resolve_shard
    if not MMLogger.check_instance_created('make_image_text_shards'):
        MMLogger.get_instance('make_image_text_shards', log_level='INFO')
    start = time.time()
    try:
        index, count, how = resolve_shard(args.shard)
        dataset, fmt = build_source(args)
        stat = osp.getmtime(args.ann), osp.getsize(args.ann)
        options = dict(
            source=osp.abspath(args.ann),
            source_mtime_size=list(stat),
            format=fmt,
            img_root=osp.abspath(args.img_root) if args.img_root else '',
            coco_sample_per=args.coco_sample_per if fmt == 'coco' else None,
            image_key=args.image_key,
            caption_key=args.caption_key)
        summary = pack_shards(
            dataset,
            args.out,
            options,
            samples_per_shard=args.samples_per_shard,
            prefix=args.prefix,
            shard=(index, count),
            verify=not args.no_verify,
            progress=not args.no_progress,
            source_skipped=dict(dataset.skips.counts))
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    print(f'{len(dataset)} source samples -> {summary["num_shards"]} shard(s) in {args.out} '
          f'(process {index}/{count} by {how}: {summary["written"]} written, '
          f'{summary["reused"]} reused) in {time.time() - start:.1f}s; skipped: '
          f'{summary["skipped"] or "none"}; manifest: {summary["manifest"] or "not yet"}')
    return summary


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
