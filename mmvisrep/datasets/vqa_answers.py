"""VQA answers: the official normalisation, the answer vocabulary and soft-score targets.

The normalisation is the one mmpretrain's ``VQAAcc`` applies before comparing answers (the
official VQA evaluation's punctuation, number-word, article and contraction rules), so the
vocabulary strings a model predicts are compared exactly as they were counted.

The vocabulary follows the Bottom-Up-Attention VQA preprocessing that LXMERT, UNITER and most
VQAv2 models reuse (``tools/compute_softscore.py`` of hengyuan-hu/bottom-up-attention-vqa): the
normalised ``multiple_choice_answer`` of every train + val question, kept when at least 9
questions have it, which gives the standard 3,129 answers.

Soft scores of an answer given by ``c`` of the ``n`` annotators:

* ``'vqa'``: the official metric's leave-one-annotator-out average,
  ``(c * min(1, (c - 1) / 3) + (n - c) * min(1, c / 3)) / n``; for ``n = 10`` this is 0.3, 0.6,
  0.9, 1 for c = 1, 2, 3, >= 4 (the Bottom-Up-Attention / LXMERT targets);
* ``'min3'``: ``min(1, c / 3)``, the accuracy mmpretrain's ``VQAAcc`` computes.
"""
import json
import os.path as osp
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from mmpretrain.evaluation.metrics.vqa import _process_digit_article, _process_punctuation

SOFT_SCORE_RULES = ('vqa', 'min3')
# VQAv2 collects 10 answers per question.
VQA_NUM_ANNOTATORS = 10
# Bottom-Up-Attention's threshold: 3,129 answers on VQAv2 train + val.
DEFAULT_MIN_COUNT = 9


def normalize_answer(answer: str) -> str:
    """The official VQA answer normalisation (identical to ``VQAAcc._process_answer``)."""
    if not isinstance(answer, str):
        raise TypeError(f'normalize_answer: expected a string, got {answer!r}')
    answer = answer.replace('\n', ' ').replace('\t', ' ').strip()
    return _process_digit_article(_process_punctuation(answer))


def soft_score(count: float, num_annotators: int = VQA_NUM_ANNOTATORS, rule: str = 'vqa') -> float:
    """Target score of an answer given by ``count`` of ``num_annotators`` people."""
    if rule not in SOFT_SCORE_RULES:
        raise ValueError(f'soft_score: rule must be one of {SOFT_SCORE_RULES}, got {rule!r}')
    if not 0 <= count <= num_annotators:
        raise ValueError(f'soft_score: count {count} outside [0, {num_annotators}]')
    if count == 0:
        return 0.
    if rule == 'min3':
        return min(1., count / 3.)
    return (count * min(1., (count - 1) / 3.) +
            (num_annotators - count) * min(1., count / 3.)) / num_annotators


def answer_counts(answers: Union[str, Sequence[str]],
                  weights: Optional[Sequence[float]] = None,
                  num_annotators: int = VQA_NUM_ANNOTATORS,
                  where: str = 'sample') -> Dict[str, int]:
    """``{normalised answer: annotator count}`` from ``COCOVQA``'s ``gt_answer`` (distinct raw
    answers) and ``gt_answer_weight`` (each answer's share of the annotators).

    Raw answers that normalise to the same string are merged. Without weights every listed
    answer counts ``num_annotators / len(answers)`` (a single answer gets the full count).
    """
    if isinstance(answers, str):
        answers = [answers]
    answers = list(answers)
    if weights is None:
        weights = [1. / len(answers)] * len(answers) if answers else []
    weights = [float(w) for w in weights]
    if len(weights) != len(answers):
        raise ValueError(f'{where}: {len(answers)} gt_answer entries but {len(weights)} '
                         'gt_answer_weight entries')
    counts = Counter()
    for answer, weight in zip(answers, weights):
        count = weight * num_annotators
        if abs(count - round(count)) > 1e-3 or round(count) < 0:
            raise ValueError(f'{where}: answer {answer!r} has weight {weight}, which is not a '
                             f'multiple of 1/{num_annotators}; set num_annotators to the number '
                             'of answers per question of this dataset')
        counts[normalize_answer(answer)] += int(round(count))
    total = sum(counts.values())
    if total > num_annotators:
        raise ValueError(f'{where}: the answer weights sum to {total}/{num_annotators} > 1')
    return dict(counts)


def load_answer_vocab(vocab: Union[str, Sequence[str]]) -> List[str]:
    """The answer list of a vocabulary json file (or a list given as is), checked."""
    source = 'answer vocabulary'
    if isinstance(vocab, str):
        source = vocab
        if not osp.isfile(vocab):
            raise FileNotFoundError(f'answer vocabulary {vocab} not found; build it with '
                                    'tools/data/build_vqa_answer_vocab.py')
        with open(vocab, encoding='utf-8') as f:
            try:
                vocab = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f'answer vocabulary {source} is not valid json: {err}') from None
    if isinstance(vocab, dict) and 'answers' in vocab:
        vocab = vocab['answers']
    if not isinstance(vocab, (list, tuple)) or not vocab:
        raise ValueError(f'answer vocabulary {source}: expected a non-empty json list of '
                         'answer strings')
    out = []
    for i, answer in enumerate(vocab):
        if not isinstance(answer, str) or normalize_answer(answer) != answer:
            raise ValueError(f'answer vocabulary {source}: entry {i} ({answer!r}) is not a '
                             'normalised answer string (normalize_answer)')
        out.append(answer)
    duplicates = [a for a, n in Counter(out).items() if n > 1]
    if duplicates:
        raise ValueError(f'answer vocabulary {source}: duplicate answers {duplicates[:5]}')
    return out


def count_answer_occurrences(annotations: Iterable[dict],
                             source: str = 'annotations',
                             count_by: str = 'multiple_choice') -> Tuple[Counter, int]:
    """Count normalised answers over VQA annotation records.

    ``count_by='multiple_choice'`` counts the questions whose ``multiple_choice_answer`` is the
    answer (Bottom-Up-Attention's rule); ``'any'`` counts the questions where at least one
    annotator gave it. Returns ``(Counter, number of questions)``.
    """
    if count_by not in ('multiple_choice', 'any'):
        raise ValueError(f"count_by must be 'multiple_choice' or 'any', got {count_by!r}")
    counts, seen = Counter(), set()
    num = 0
    for i, ann in enumerate(annotations):
        qid = ann.get('question_id') if isinstance(ann, dict) else None
        if qid is None:
            raise ValueError(f'{source}: annotation {i} has no question_id')
        if qid in seen:
            raise ValueError(f'{source}: question_id {qid} appears twice')
        seen.add(qid)
        if count_by == 'multiple_choice':
            answer = ann.get('multiple_choice_answer')
            if not isinstance(answer, str):
                raise ValueError(f'{source}: annotation of question {qid} has no '
                                 'multiple_choice_answer string')
            counts[normalize_answer(answer)] += 1
        else:
            answers = ann.get('answers')
            if not isinstance(answers, list) or not all(
                    isinstance(a, dict) and isinstance(a.get('answer'), str) for a in answers):
                raise ValueError(f'{source}: annotation of question {qid} has no list of '
                                 "{'answer': str} answers")
            for answer in {normalize_answer(a['answer']) for a in answers}:
                counts[answer] += 1
        num += 1
    return counts, num


def select_answers(counts: Counter, min_count: int = DEFAULT_MIN_COUNT) -> List[str]:
    """Answers counted at least ``min_count`` times, most frequent first (ties by string).

    The empty string (an answer made only of articles or punctuation) never enters.
    """
    if min_count < 1:
        raise ValueError(f'min_count must be >= 1, got {min_count}')
    kept = [(a, n) for a, n in counts.items() if n >= min_count and a]
    return [a for a, _ in sorted(kept, key=lambda item: (-item[1], item[0]))]


def load_vqa_annotations(path: str) -> List[dict]:
    """The ``annotations`` list of an official VQA annotation json file, checked."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'VQA annotation file {path} not found')
    with open(path, encoding='utf-8') as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'VQA annotation file {path} is not valid json: {err}') from None
    anns = data.get('annotations') if isinstance(data, dict) else None
    if not isinstance(anns, list):
        raise ValueError(f'{path} has no `annotations` list (a VQA question file instead of the '
                         'annotation file?)')
    return anns


def build_answer_vocab(ann_files: Sequence[str],
                       min_count: int = DEFAULT_MIN_COUNT,
                       count_by: str = 'multiple_choice',
                       progress: bool = False) -> Tuple[List[str], dict]:
    """Answer vocabulary of VQA annotation files and statistics (questions, distinct answers,
    share of questions whose ``multiple_choice_answer`` / any annotator answer is kept)."""
    from tqdm import tqdm
    counts, num = Counter(), 0
    all_anns = []
    for path in ann_files:
        anns = load_vqa_annotations(path)
        file_counts, file_num = count_answer_occurrences(
            tqdm(anns, desc=osp.basename(path), unit='q', disable=not progress), path, count_by)
        counts.update(file_counts)
        num += file_num
        all_anns.append((path, anns))
    vocab = select_answers(counts, min_count)
    kept = set(vocab)
    mc_hits = any_hits = 0
    for path, anns in all_anns:
        for ann in anns:
            mc_hits += normalize_answer(ann.get('multiple_choice_answer', '')) in kept
            any_hits += any(
                normalize_answer(a.get('answer', '')) in kept for a in ann.get('answers', []))
    stats = dict(
        questions=num,
        distinct_answers=len(counts),
        answers=len(vocab),
        min_count=min_count,
        count_by=count_by,
        multiple_choice_coverage=mc_hits / max(num, 1),
        any_answer_coverage=any_hits / max(num, 1))
    return vocab, stats


__all__ = [
    'normalize_answer', 'soft_score', 'answer_counts', 'load_answer_vocab',
    'count_answer_occurrences', 'select_answers', 'load_vqa_annotations', 'build_answer_vocab',
    'SOFT_SCORE_RULES', 'VQA_NUM_ANNOTATORS', 'DEFAULT_MIN_COUNT'
]
