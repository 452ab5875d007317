"""Build the VQA answer vocabulary (the answer classes of a VQA model) from annotation files.

The Bottom-Up-Attention rule that LXMERT / UNITER reuse: normalise every question's
``multiple_choice_answer`` with the official VQA rules and keep the answers at least
``--min-count`` questions have. On VQAv2 train2014 + val2014 with the default 9 this gives the
standard 3,129 answers::

    python tools/data/build_vqa_answer_vocab.py \
        data/coco/annotations/v2_mscoco_train2014_annotations.json \
        data/coco/annotations/v2_mscoco_val2014_annotations.json \
        --out data/coco/annotations/vqav2_answer_vocab_min9.json

Writes a json list, most frequent answer first (ties alphabetical), atomically.
"""
import argparse
import time

from mmvisrep.datasets.vqa_answers import DEFAULT_MIN_COUNT, build_answer_vocab
from mmvisrep.utils.atomic_io import atomic_write_json


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='VQA answer vocabulary from annotation files')
    parser.add_argument(
        'ann_files', nargs='+', help='official VQA annotation json files (e.g. train + val)')
    parser.add_argument('--out', required=True, help='output json list')
    parser.add_argument(
        '--min-count',
        type=int,
        default=DEFAULT_MIN_COUNT,
        help=f'keep answers counted at least this often (default {DEFAULT_MIN_COUNT}: 3,129 '
        'answers on VQAv2 train + val)')
    parser.add_argument(
        '--count-by',
        choices=['multiple_choice', 'any'],
        default='multiple_choice',
        help='count questions whose multiple_choice_answer is the answer (default, '
        'Bottom-Up-Attention) or questions where any annotator gave it')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bars')
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    if args.min_count < 1:
        parser.error(f'--min-count must be >= 1, got {args.min_count}')
    start = time.time()
    try:
        vocab, stats = build_answer_vocab(args.ann_files, args.min_count, args.count_by,
                                          not args.no_progress)
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    if not vocab:
        parser.error(f'no answer is counted {args.min_count} times; lower --min-count')
    atomic_write_json(vocab, args.out)
    print(f'{stats["questions"]} questions, {stats["distinct_answers"]} distinct answers; kept '
          f'{stats["answers"]} counted >= {args.min_count} times ({args.count_by}); '
          f'multiple_choice_answer in the vocabulary for '
          f'{100 * stats["multiple_choice_coverage"]:.2f}% of the questions, some annotator '
          f'answer for {100 * stats["any_answer_coverage"]:.2f}%')
    print(f'most frequent: {vocab[:10]}')
    print(f'wrote {args.out} in {time.time() - start:.1f}s')
    return vocab, stats


if __name__ == '__main__':
    main()
