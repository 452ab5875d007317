"""Generate toy scenes in the official COCO 2017 / COCO-Stuff / Localized Narratives layout.

Example::

    python tools/data/make_toy_scenes.py data/toy_scenes --num-train 200 --num-val 50 \
        --img-size 128 --seed 0

See docs/toy_scenes.md for the layout and how the stock dataset configs point at it.
"""
import argparse
import time

from mmvisrep.datasets.toy_scenes import generate_toy_scenes
from mmvisrep.datasets.toy_scenes.visualize import plot_toy_scenes


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(
        description='Generate procedural toy scenes in the COCO 2017 on-disk formats')
    parser.add_argument('out', help='output directory (created; must be empty or new)')
    parser.add_argument('--num-train', type=int, default=200, help='train2017 images (>= 1)')
    parser.add_argument('--num-val', type=int, default=50, help='val2017 images (>= 1)')
    parser.add_argument(
        '--img-size', type=int, default=128, help='square image side in pixels (>= 64)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (>= 0)')
    parser.add_argument(
        '--textures',
        choices=('class', 'random'),
        default='class',
        help='object surface patterns: one per shape class (default), or drawn per object so '
        'that only the outline identifies the class')
    parser.add_argument(
        '--max-objects', type=int, default=6, help='shapes per image: 1..N (default 6)')
    parser.add_argument(
        '--radius-range',
        type=float,
        nargs=2,
        default=(0.07, 0.22),
        metavar=('LOW', 'HIGH'),
        help='shape radius as a fraction of the image side, before the per-class area factor '
        '(default 0.07 0.22)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='allow a non-empty OUT: its train2017/, val2017/, annotations/, '
        'stuffthingmaps/ and meta/ are deleted and regenerated; other files are kept')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument(
        '--preview',
        metavar='PNG',
        help='also save a figure of up to 4 val2017 samples read back from OUT '
        '(overlays, stuff maps, narrative traces, captions), e.g. docs/_static/toy_scenes.png')
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    start = time.time()
    try:
        out = generate_toy_scenes(
            args.out,
            num_train=args.num_train,
            num_val=args.num_val,
            img_size=args.img_size,
            seed=args.seed,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            textures=args.textures,
            max_objects=args.max_objects,
            radius_range=tuple(args.radius_range))
    except (ValueError, TypeError, FileExistsError, NotADirectoryError) as err:
        parser.error(str(err))
    print(f'Wrote {args.num_train} train + {args.num_val} val toy scenes of '
          f'{args.img_size}px (seed {args.seed}) to {out} in {time.time() - start:.1f}s')
    if args.preview:
        preview = plot_toy_scenes(out, args.preview, 'val', range(min(4, args.num_val)))
        print(f'Saved a preview figure to {preview}')


if __name__ == '__main__':
    main()
