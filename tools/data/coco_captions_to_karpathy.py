r"""Convert a COCO-format captions json into the Karpathy split format.

Example (the toy retrieval split read by configs/_base_/datasets/toy_scenes_retrieval_svl.py)::

    python tools/data/coco_captions_to_karpathy.py \
        data/toy_scenes/annotations/captions_val2017.json \
        data/toy_scenes/annotations/karpathy_val2017.json --split test

The output is what mmpretrain's ``Flickr30kRetrieval`` reads (the dataset of the COCO /
Flickr30k retrieval configs), so toy runs use the same dataset class and metric as the real
Karpathy COCO 5k / Flickr30k 1k test splits. Every image gets ``--split``; images keep the file's
order, captions the annotation order; images without captions are left out (reported). The
output is written atomically.
"""
import argparse
import os.path as osp
import re
import sys

from mmvisrep.datasets.karpathy_captions import KARPATHY_SPLITS, coco_captions_to_karpathy
from mmvisrep.utils.atomic_io import atomic_write_json, load_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('captions', help='COCO captions json (images + annotations/caption)')
    parser.add_argument('out', help='Karpathy-format json to write')
    parser.add_argument(
        '--split', default='test', choices=KARPATHY_SPLITS, help='default: %(default)s')
    parser.add_argument(
        '--filepath',
        help='"filepath" of every image (its folder); default: NAME of captions_NAME.json')
    parser.add_argument('--max-images', type=int, help='keep the first N captioned images')
    parser.add_argument('--dataset', default='coco', help='"dataset" field (%(default)s)')
    return parser, parser.parse_args(argv)


def main(argv=None) -> dict:
    parser, args = parse_args(argv)
    try:
        if osp.abspath(args.out) == osp.abspath(args.captions):
            raise ValueError('the output would overwrite the input captions file')
        coco = load_json(args.captions, 'captions file')
        filepath = args.filepath
        if filepath is None:
            match = re.fullmatch(r'captions_(.+)\.json', osp.basename(args.captions))
            if match is None:
                raise ValueError(f'cannot derive the image folder from {args.captions}; '
                                 'pass --filepath')
            filepath = match.group(1)
        karpathy, stats = coco_captions_to_karpathy(
            coco,
            split=args.split,
            filepath=filepath,
            source=args.captions,
            max_images=args.max_images,
            dataset=args.dataset)
        if not stats['images']:
            raise ValueError(f'{args.captions}: no captioned image to write')
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f'{parser.prog}: error: {err}\n')
    atomic_write_json(karpathy, args.out)
    print(f'{stats["images"]} images, {stats["captions"]} captions (split {args.split!r}, '
          f'filepath {filepath!r}) -> {args.out}; images without captions left out: '
          f'{stats["images_without_captions"]}')
    return stats


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
