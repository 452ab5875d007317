"""SVL VQA on toy scenes: toy VQAv2 files (deterministic, consistent with the instances, read by
mmpretrain's COCOVQA), the answer-vocabulary tool, and the toy VQA config fine-tuned through
tools/train.py from a saved SemanticVLP pretraining checkpoint, with VQA accuracy from val."""
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.datasets import COCOVQA
from mmpretrain.registry import MODELS

import mmvisrep  # noqa: F401
from mmvisrep.datasets.toy_scenes.vqa import annotation_file_name, make_toy_vqa, question_file_name
from mmvisrep.datasets.vqa_answers import normalize_answer

REPO = Path(__file__).resolve().parents[2]
TOY_VQA = REPO / 'configs/svl/vqa/toy/svl_vit-tiny_1xb8-vqa-toy-3e_toyscenes.py'
TOY_PRETRAIN = REPO / 'configs/svl/toy/svl-segl_vit-tiny-p32_1xb8-toy-4e_toyscenes.py'
PY_ENV = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', NUMBA_NUM_THREADS='1')
VQA_ONLY_KEYS = ('answer_vocab', 'head_hidden_channels', 'soft_score', 'num_annotators',
                 'scale_loss_by_num_answers', 'loss_weight', 'init_cfg')


def _tool(rel):
    path = REPO / rel
    spec = importlib.util.spec_from_file_location('_tool_' + path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def toy_vqa(toy_scenes, tmp_path_factory):
    """Toy VQA files of the shared toy scenes (outside the read-only fixture folder)."""
    out = tmp_path_factory.mktemp('toy_vqa')
    _tool('tools/data/make_toy_vqa.py').main(
        [str(toy_scenes), '--out-dir', str(out), '--no-progress'])
    return out


def test_toy_vqa_deterministic_and_consistent(toy_scenes, toy_vqa, tmp_path):
    # same seed -> byte-identical files; another seed -> other questions / answers
    again = make_toy_vqa(toy_scenes, tmp_path / 'again')
    other = make_toy_vqa(toy_scenes, tmp_path / 'other', seed=1)
    for split in ('train', 'val'):
        for name in (question_file_name(split), annotation_file_name(split)):
            assert (toy_vqa / name).read_bytes() == (tmp_path / 'again' / name).read_bytes()
    assert again['val']['annotations'].read_bytes() != other['val']['annotations'].read_bytes()

    # without noise every answer is the truth of the COCO instances
    clean = make_toy_vqa(toy_scenes, tmp_path / 'clean', splits=['val'], noise=0.)
    inst = json.loads((toy_scenes / 'annotations/instances_val2017.json').read_text())
    names = {c['id']: c['name'] for c in inst['categories']}
    objects = {img['id']: [] for img in inst['images']}
    for ann in inst['annotations']:
        objects[ann['image_id']].append((names[ann['category_id']], ann['area']))
    questions = json.loads(clean['val']['questions'].read_text())['questions']
    anns = json.loads(clean['val']['annotations'].read_text())['annotations']
    assert len(questions) == 3 * len(inst['images']) == len(anns)
    assert len({q['question_id'] for q in questions}) == len(questions)
    for q, a in zip(questions, anns):
        assert q['question_id'] == a['question_id'] == q['image_id'] * 1000 + \
            q['question_id'] % 1000
        assert len(a['answers']) == 10 and len({x['answer'] for x in a['answers']}) == 1
        truth, objs = a['multiple_choice_answer'], objects[q['image_id']]
        shapes = [n for n, _ in objs]
        if a['answer_type'] == 'number':
            shape = next(n for n in names.values() if f' {n}' in ' ' + q['question'])
            assert truth == str(shapes.count(shape))
        elif a['answer_type'] == 'yes/no':
            shape = q['question'].split()[-1].rstrip('?')
            assert truth == ('yes' if shape in shapes else 'no')
        else:
            assert truth == max(objs, key=lambda o: o[1])[0]
    # the noisy default: some answers differ from the majority, marked 'maybe'
    anns = json.loads((toy_vqa / annotation_file_name('train')).read_text())['annotations']
    noisy = [x for a in anns for x in a['answers'] if x['answer'] != a['multiple_choice_answer']]
    assert noisy and all(x['answer_confidence'] == 'maybe' for x in noisy)

    # COCOVQA reads the files as they are (images by the 12-digit id of the COCO file names)
    init_default_scope('mmpretrain')
    ds = COCOVQA(
        data_root=str(toy_scenes),
        data_prefix='val2017',
        question_file=str(toy_vqa / question_file_name('val')),
        ann_file=str(toy_vqa / annotation_file_name('val')),
        pipeline=[])
    assert len(ds) == 3 * len(inst['images'])
    info = ds.get_data_info(0)
    assert Path(info['img_path']).name == f'{info["image_id"]:012d}.jpg'
    assert Path(info['img_path']).is_file()
    assert sum(info['gt_answer_weight']) == pytest.approx(1.)
    assert info['question'].endswith('?')

    with pytest.raises(FileNotFoundError, match='instances_val2017.json'):
        make_toy_vqa(tmp_path / 'missing', splits=['val'])


def test_answer_vocab_tool(toy_vqa, tmp_path):
    tool = _tool('tools/data/build_vqa_answer_vocab.py')
    files = [str(toy_vqa / annotation_file_name(s)) for s in ('train', 'val')]
    anns = [a for f in files for a in json.loads(Path(f).read_text())['annotations']]
    counts = Counter(normalize_answer(a['multiple_choice_answer']) for a in anns)
    for min_count in (1, 4):
        out = tmp_path / f'vocab{min_count}.json'
        vocab, stats = tool.main(
            files + ['--out', str(out), '--min-count',
                     str(min_count), '--no-progress'])
        assert json.loads(out.read_text()) == vocab
        expected = sorted((a for a, n in counts.items() if n >= min_count),
                          key=lambda a: (-counts[a], a))
        assert vocab == expected and stats['questions'] == len(anns)

    # the Bottom-Up-Attention rule on a hand-made file: multiple_choice_answer, normalised
    hand = tmp_path / 'hand.json'
    records = [('Two', 1), ('2', 2), ('two.', 3), ('a Dog', 4), ('dog', 5), ('cat', 6)]
    hand.write_text(
        json.dumps(
            dict(annotations=[
                dict(
                    question_id=q,
                    multiple_choice_answer=a,
                    answers=[dict(answer=a, answer_id=1, answer_confidence='yes')])
                for a, q in records
            ])))
    vocab, stats = tool.main(
        [str(hand), '--out',
         str(tmp_path / 'h.json'), '--min-count', '2', '--no-progress'])
    assert vocab == ['2', 'dog'] and stats['multiple_choice_coverage'] == pytest.approx(5 / 6)
    with pytest.raises(SystemExit):  # a question file is not an annotation file
        tool.main([str(toy_vqa / question_file_name('val')), '--out', str(tmp_path / 'x.json')])


def _pretrain_model_cfg():
    """The toy SVL + SEGL pretraining model (the paper's best model, which the VQA config
    fine-tunes)."""
    model = Config.fromfile(TOY_PRETRAIN).model.to_dict()
    assert model['segl'] is not None
    return model


def test_toy_config_matches_pretraining_sizes():
    vqa = Config.fromfile(TOY_VQA).model.to_dict()
    pre = Config.fromfile(TOY_PRETRAIN).model.to_dict()
    for key in ('backbone', 'text_encoder', 'cross_modal_encoder', 'visual_pos_embed', 'tokenizer',
                'data_preprocessor'):
        assert vqa.get(key) == pre.get(key), key
    assert vqa['type'] == 'SemanticVLPVQA' and vqa.get('spl') is None
    paper = Config.fromfile(REPO / 'configs/svl/vqa/svl-segl_vit-b32-l9_8xb32-vqa-10e_vqav2.py')
    assert paper.model.init_cfg.type == 'Pretrained' and paper.val_evaluator.type == 'VQAAcc'
    assert paper.test_evaluator.type == 'ReportVQA'
    assert paper.train_dataloader.dataset.pipeline[2].max_length == 20


def test_finetune_toy_config(toy_scenes, toy_vqa, tmp_path):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    pretrain = MODELS.build(_pretrain_model_cfg())
    pretrain.init_weights()
    pre_sd = pretrain.state_dict()
    ckpt = tmp_path / 'pretrain.pth'
    torch.save(dict(state_dict=pre_sd, meta=dict()), ckpt)
    vocab = tmp_path / 'vocab.json'
    _tool('tools/data/build_vqa_answer_vocab.py').main([
        str(toy_vqa / annotation_file_name('train')),
        str(toy_vqa / annotation_file_name('val')), '--min-count', '1', '--out',
        str(vocab), '--no-progress'
    ])

    work = tmp_path / 'work'
    data = []
    for loader, split in (('train_dataloader', 'train'), ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        data += [
            f'{loader}.dataset.data_root={toy_scenes}/', f'{loader}.num_workers=0',
            f'{loader}.dataset.question_file={toy_vqa / question_file_name(split)}',
            f'{loader}.dataset.ann_file={toy_vqa / annotation_file_name(split)}'
        ]
    cmd = [
        sys.executable, 'tools/train.py',
        str(TOY_VQA), '--work-dir',
        str(work), '--cfg-options', f'model.init_cfg.checkpoint={ckpt}',
        f'model.answer_vocab={vocab}', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1', *data
    ]
    result = subprocess.run(cmd, cwd=REPO, env=PY_ENV, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]

    # the pretraining checkpoint was loaded: only the answer head is missing, and the unused
    # keys are the pretraining heads
    missing = re.search(r'missing keys in source state_dict: (.*)', log).group(1).split(', ')
    assert missing and all(k.startswith('vqa_head.') for k in missing)
    unexpected = re.search(r'unexpected key in source state_dict: (.*)', log).group(1)
    assert {k.split('.')[0]
            for k in unexpected.split(', ')} == {'mlm_head', 'itm_head', 'segl_conv'}
    assert 'loss_vqa' in log
    acc = float(re.findall(r'VQA/acc: ([\d.]+)', log)[-1])
    assert 0. <= acc <= 100.

    # 36 train questions, batch 8: 5 iterations; the encoder stayed near the checkpoint
    final = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert final['meta']['iter'] == 5
    torch.manual_seed(1)
    other = MODELS.build(_pretrain_model_cfg())
    other.init_weights()
    other_sd = other.state_dict()
    checked = 0
    for key, value in final['state_dict'].items():
        if key.startswith('vqa_head.'):
            continue
        assert value.shape == pre_sd[key].shape, key
        if value.dim() == 2 and value.numel() > 100:  # weight matrices: random init differs
            assert (value.float() - pre_sd[key]).abs().max() < 0.02, key
            assert (other_sd[key] - pre_sd[key]).abs().max() > 0.05, key
            checked += 1
    assert checked > 10
    print(f'toy VQA fine-tuning, 1 epoch from a random SemanticVLP checkpoint: VQA/acc {acc}')
