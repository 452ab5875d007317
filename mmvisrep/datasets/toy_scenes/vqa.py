"""VQAv2-format questions and answers about the toy scenes, from their COCO instance annotations.

For every image of ``annotations/instances_{split}2017.json`` the questions cycle through three
types, each with 10 annotator answers of which every one is, with probability ``noise``, a
plausible wrong answer (marked ``answer_confidence='maybe'``):

* ``count``   "how many circles are there?"       -> "0", "1", ... (answer_type ``number``)
* ``exists``  "is there a star?"                   -> "yes" / "no"  (answer_type ``yes/no``)
* ``largest`` "what shape is the largest object?" -> a class name  (answer_type ``other``)

Counts and the largest object (by annotated visible area) come from the instances. The files
follow the official VQAv2 layout (``v2_OpenEnded_mscoco_{split}2017_questions.json`` with
``questions`` and ``v2_mscoco_{split}2017_annotations.json`` with ``annotations`` in the same
order, ``question_id = image_id * 1000 + k``), so mmpretrain's ``COCOVQA`` reads them with
``data_prefix='{split}2017'``: it finds images by the 12-digit id in their file names, which the
toy scenes' COCO names (``000000000001.jpg``) carry. Each image's questions are a pure function
of ``(seed, split, image_id)``.
"""
import json
from collections import Counter
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np
from tqdm import tqdm

from mmvisrep.utils.atomic_io import atomic_write_json

QUESTION_TYPES = ('count', 'exists', 'largest')
ANSWERS_PER_QUESTION = 10
SPLIT_CODES = {'train': 0, 'val': 1}
MAX_QUESTIONS_PER_IMAGE = 1000  # question_id = image_id * 1000 + k


def question_file_name(split: str) -> str:
    """Official VQAv2 name of a split's question file (``2017`` instead of ``2014``)."""
    return f'v2_OpenEnded_mscoco_{split}2017_questions.json'


def annotation_file_name(split: str) -> str:
    """Official VQAv2 name of a split's annotation file."""
    return f'v2_mscoco_{split}2017_annotations.json'


def _plural(name: str) -> str:
    return name + ('es' if name.endswith(('s', 'x', 'ch', 'sh')) else 's')


def _article(name: str) -> str:
    return 'an' if name[0] in 'aeiou' else 'a'


def load_instances(path: Path):
    """``(images, objects per image id, category names by id)`` of a COCO instances file."""
    if not path.is_file():
        raise FileNotFoundError(f'make_toy_vqa: {path} not found (generate the toy scenes first: '
                                'tools/data/make_toy_scenes.py)')
    with open(path, encoding='utf-8') as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'make_toy_vqa: {path} is not valid json: {err}') from None
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(data.get(key), list):
            raise ValueError(f'make_toy_vqa: {path} has no `{key}` list (not a COCO instances '
                             'file)')
    names = {}
    for i, cat in enumerate(data['categories']):
        if not isinstance(cat, dict) or not isinstance(cat.get('id'), int) or \
                not isinstance(cat.get('name'), str) or not cat['name']:
            raise ValueError(f'make_toy_vqa: {path}: category {i} needs an int id and a name, '
                             f'got {cat!r}')
        names[cat['id']] = cat['name']
    if len(names) < 2:
        raise ValueError(f'make_toy_vqa: {path}: at least 2 categories are needed')
    images, objects = [], {}
    for i, img in enumerate(data['images']):
        if not isinstance(img, dict) or not isinstance(img.get('id'), int) or img['id'] < 0:
            raise ValueError(f'make_toy_vqa: {path}: image record {i} has no non-negative int '
                             f'id: {img!r}')
        if img['id'] in objects:
            raise ValueError(f'make_toy_vqa: {path}: image id {img["id"]} appears twice')
        images.append(img['id'])
        objects[img['id']] = []
    for i, ann in enumerate(data['annotations']):
        if not isinstance(ann, dict) or ann.get('image_id') not in objects:
            raise ValueError(f'make_toy_vqa: {path}: annotation {i} refers to an unknown image '
                             f'{ann.get("image_id") if isinstance(ann, dict) else ann!r}')
        if ann.get('category_id') not in names:
            raise ValueError(f'make_toy_vqa: {path}: annotation {i} (id {ann.get("id")}) has '
                             f'an unknown category_id {ann.get("category_id")!r}')
        area = ann.get('area')
        if not isinstance(area, (int, float)) or area < 0:
            raise ValueError(f'make_toy_vqa: {path}: annotation {i} (id {ann.get("id")}) has no '
                             f'valid area: {area!r}')
        if not ann.get('iscrowd', 0):
            objects[ann['image_id']].append((ann['category_id'], float(area)))
    return images, objects, names


def _noisy(rng, truth: str, wrong: Sequence[str], noise: float):
    """10 answers: ``truth`` or, with probability ``noise`` each, a random ``wrong`` one."""
    answers = []
    for _ in range(ANSWERS_PER_QUESTION):
        if wrong and rng.random() < noise:
            answers.append((str(wrong[int(rng.integers(len(wrong)))]), 'maybe'))
        else:
            answers.append((truth, 'yes'))
    return answers


def _ask(kind: str, rng, objects, names: Dict[int, str], noise: float):
    """``(question, question_type, answer_type, answers)`` of one question about an image."""
    counts = Counter(c for c, _ in objects)
    cats = sorted(names)
    if kind == 'largest' and not objects:
        kind = 'count'  # no object to ask about
    if kind == 'count':
        present = [c for c in cats if counts[c]]
        absent = [c for c in cats if not counts[c]]
        pool = present if present and (not absent or rng.random() < 0.75) else absent
        cat = pool[int(rng.integers(len(pool)))]
        truth = counts[cat]
        wrong = [str(n) for n in (truth - 1, truth + 1) if n >= 0]
        return (f'how many {_plural(names[cat])} are there?', 'how many', 'number',
                _noisy(rng, str(truth), wrong, noise))
    if kind == 'exists':
        present = [c for c in cats if counts[c]]
        absent = [c for c in cats if not counts[c]]
        pool = present if present and (not absent or rng.random() < 0.5) else absent
        cat = pool[int(rng.integers(len(pool)))]
        truth = 'yes' if counts[cat] else 'no'
        return (f'is there {_article(names[cat])} {names[cat]}?', 'is there a', 'yes/no',
                _noisy(rng, truth, ['no' if truth == 'yes' else 'yes'], noise))
    if kind == 'largest':
        cat = max(objects, key=lambda o: o[1])[0]
        wrong = [names[c] for c in cats if c != cat]
        return ('what shape is the largest object?', 'what shape is the', 'other',
                _noisy(rng, names[cat], wrong, noise))
    raise ValueError(f'unknown question type {kind!r}')


def make_split(root: Union[str, Path],
               split: str,
               seed: int = 0,
               questions_per_image: int = 3,
               noise: float = 0.1,
               progress: bool = False):
    """The question and annotation json objects of one split."""
    if split not in SPLIT_CODES:
        raise ValueError(f'make_toy_vqa: split must be one of {sorted(SPLIT_CODES)}, got '
                         f'{split!r}')
    if not 1 <= questions_per_image < MAX_QUESTIONS_PER_IMAGE:
        raise ValueError(f'make_toy_vqa: questions_per_image must be in [1, '
                         f'{MAX_QUESTIONS_PER_IMAGE - 1}], got {questions_per_image}')
    if not 0. <= noise <= 1.:
        raise ValueError(f'make_toy_vqa: noise must be in [0, 1], got {noise}')
    path = Path(root) / 'annotations' / f'instances_{split}2017.json'
    images, objects, names = load_instances(path)
    questions, annotations = [], []
    for image_id in tqdm(images, desc=f'toy VQA {split}', unit='img', disable=not progress):
        rng = np.random.default_rng(np.random.SeedSequence([seed, SPLIT_CODES[split], image_id]))
        for k in range(questions_per_image):
            kind = QUESTION_TYPES[k % len(QUESTION_TYPES)]
            question, qtype, atype, answers = _ask(kind, rng, objects[image_id], names, noise)
            qid = image_id * MAX_QUESTIONS_PER_IMAGE + k
            questions.append(dict(image_id=image_id, question=question, question_id=qid))
            annotations.append(
                dict(
                    question_type=qtype,
                    multiple_choice_answer=Counter(a for a, _ in answers).most_common(1)[0][0],
                    answers=[
                        dict(answer=a, answer_confidence=c, answer_id=j + 1)
                        for j, (a, c) in enumerate(answers)
                    ],
                    image_id=image_id,
                    answer_type=atype,
                    question_id=qid))
    info = dict(
        description=f'mmvisrep toy-scene VQA ({split}2017): seed {seed}, {questions_per_image} '
        f'questions per image, answer noise {noise}',
        version='1.0',
        year=2017,
        contributor='mmvisrep tools/data/make_toy_vqa.py')
    license_ = dict(name='Generated by mmvisrep (same license as the code)', url='')
    common = dict(info=info, license=license_, data_type='mscoco', data_subtype=f'{split}2017')
    question_json = dict(common, task_type='Open-Ended', questions=questions)
    return question_json, dict(common, annotations=annotations)


def make_toy_vqa(root: Union[str, Path],
                 out_dir: Optional[Union[str, Path]] = None,
                 splits: Sequence[str] = ('train', 'val'),
                 seed: int = 0,
                 questions_per_image: int = 3,
                 noise: float = 0.1,
                 progress: bool = False) -> Dict[str, Dict[str, Path]]:
    """Write the VQAv2-format files of ``splits`` of the toy scenes at ``root`` to ``out_dir``
    (default ``root/vqa``), atomically. Returns ``{split: {'questions': path, 'annotations':
    path}}``."""
    out_dir = Path(root) / 'vqa' if out_dir is None else Path(out_dir)
    written = {}
    for split in splits:
        questions, annotations = make_split(root, split, seed, questions_per_image, noise,
                                            progress)
        qpath = out_dir / question_file_name(split)
        apath = out_dir / annotation_file_name(split)
        atomic_write_json(questions, str(qpath))
        atomic_write_json(annotations, str(apath))
        written[split] = dict(questions=qpath, annotations=apath)
    return written


__all__ = [
    'make_toy_vqa', 'make_split', 'question_file_name', 'annotation_file_name', 'QUESTION_TYPES',
    'ANSWERS_PER_QUESTION'
]
