"""Write VQAv2-format questions and answers about a toy-scene set (train and val splits).

Example::

    python tools/data/make_toy_scenes.py data/toy_scenes --num-train 400 --num-val 100
    python tools/data/make_toy_vqa.py data/toy_scenes            # -> data/toy_scenes/vqa/
    python tools/data/build_vqa_answer_vocab.py \
        data/toy_scenes/vqa/v2_mscoco_train2017_annotations.json \
        data/toy_scenes/vqa/v2_mscoco_val2017_annotations.json \
        --min-count 1 --out data/toy_scenes/vqa/answer_vocab.json

The files read with mmpretrain's ``COCOVQA`` (``data_prefix='train2017'``); see
``mmvisrep/datasets/toy_scenes/vqa.py`` for the question types.
"""
import argparse
import json
import time
from collections import Counter

from mmvisrep.datasets.toy_scenes.vqa import make_toy_vqa


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='VQAv2-format questions about toy scenes')
    parser.add_argument('root', help='toy-scene root (with annotations/instances_*2017.json)')
    parser.add_argument('--out-dir', help='output folder (default ROOT/vqa)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'], help='splits to write')
    parser.add_argument('--seed', type=int, default=0, help='random seed (>= 0)')
    parser.add_argument(
        '--questions-per-image',
        type=int,
        default=3,
        help='questions per image, cycling count / exists / largest (default 3)')
    parser.add_argument(
        '--noise',
        type=float,
        default=0.1,
        help='probability that an annotator answer is a plausible wrong one (default 0.1)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    if args.seed < 0:
        parser.error(f'--seed must be >= 0, got {args.seed}')
    start = time.time()
    try:
        written = make_toy_vqa(
            args.root,
            args.out_dir,
            splits=args.splits,
            seed=args.seed,
            questions_per_image=args.questions_per_image,
            noise=args.noise,
            progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    for split, paths in written.items():
        with open(paths['annotations'], encoding='utf-8') as f:
            anns = json.load(f)['annotations']
        types = Counter(a['answer_type'] for a in anns)
        print(f'{split}: {len(anns)} questions ({dict(sorted(types.items()))}) -> '
              f'{paths["questions"]}, {paths["annotations"]}')
    print(f'done in {time.time() - start:.1f}s')
    return written


if __name__ == '__main__':
    main()
