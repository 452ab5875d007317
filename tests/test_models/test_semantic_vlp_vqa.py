"""SemanticVLPVQA (VQAv2 fine-tuning of the semantic-visual-loss VLP) with tiny random models:
soft-score targets and the BCE loss against hand computations, predictions read by mmpretrain's
VQAAcc, loading a SemanticVLP pretraining state dict, gradients (grid and SPL modes)."""
import itertools
import json
import math

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpretrain.evaluation import ReportVQA, VQAAcc
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmvisrep  # noqa: F401
from mmvisrep.datasets.vqa_answers import (answer_counts, load_answer_vocab, normalize_answer,
                                           soft_score)

init_default_scope('mmpretrain')
MMLogger.get_current_instance().setLevel('WARNING')

VOCAB = 40
VOCAB_ANSWERS = ['yes', 'no', '2', 'dog', 'red']
TINY_BERT = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=32,
    hidden_dropout_prob=0.,
    attention_probs_dropout_prob=0.)
TINY_VIT = dict(
    type='VisionTransformer',
    arch=dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64),
    img_size=64,
    patch_size=32,
    out_type='featmap')
NUM_DET = 7


def tiny_cfg(algo='SemanticVLPVQA', spl=False, **kwargs):
    cfg = dict(
        type=algo,
        backbone=TINY_VIT,
        text_encoder=dict(type='HFTextEncoder', config=TINY_BERT),
        cross_modal_encoder=dict(
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            hidden_dropout=0.,
            attention_dropout=0.),
        mask_token_id=4,
        special_token_ids=[0, 1, 2, 3],
        spl=dict(
            head=dict(
                type='SetPredictor',
                num_classes=NUM_DET,
                num_queries=3,
                embed_dims=32,
                num_heads=2,
                feedforward_channels=64,
                dropout=0.)) if spl else None,
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True))
    if algo == 'SemanticVLPVQA':
        cfg['answer_vocab'] = VOCAB_ANSWERS
    cfg.update(kwargs)
    return cfg


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def questions(num, seed=0, answers=True):
    """Data samples: questions of 5..8 tokens and COCOVQA-style answers over VOCAB_ANSWERS."""
    gen = torch.Generator().manual_seed(seed)
    raw = ['Yes', 'no', 'two', 'a dog', 'red', 'cat']
    out = []
    for i in range(num):
        n = 5 + i % 4
        ids = torch.randint(5, VOCAB, (n, ), generator=gen)
        ids[0], ids[-1] = 2, 3
        s = DataSample(metainfo=dict(question_id=100 + i))
        s.set_field(ids.numpy(), 'input_ids')
        s.set_field(torch.ones(n, dtype=torch.long).numpy(), 'attention_mask')
        if answers:
            counts = torch.multinomial(torch.ones(len(raw)), 10, replacement=True, generator=gen)
            given = [raw[k] for k in counts.tolist()]
            distinct = list(dict.fromkeys(given))
            s.set_field(distinct, 'gt_answer')
            s.set_field([given.count(a) / 10 for a in distinct], 'gt_answer_weight')
        out.append(s)
    return out


def images(num, seed=0):
    return torch.randn(num, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def leave_one_out(count, n):
    """The official metric by enumeration: annotators 0..count-1 gave the answer; average
    min(1, matches among the other n-1 / 3) over the n left-out annotators."""
    given = [1] * count + [0] * (n - count)
    return sum(min(1., (sum(given) - given[i]) / 3.) for i in range(n)) / n


def test_soft_scores_and_normalisation():
    assert [round(soft_score(c), 6) for c in range(11)] == \
        [0, 0.3, 0.6, 0.9] + [1.] * 7
    for n in (5, 10):
        for c in range(n + 1):
            assert soft_score(c, n, 'vqa') == pytest.approx(leave_one_out(c, n))
    assert [soft_score(c, rule='min3') for c in range(5)] == [0, 1 / 3, 2 / 3, 1, 1]
    metric = VQAAcc()
    for raw in ['Two', 'a dog.', "isnt it", 'yes!', 'The Red Car', '1,000', '  ten\n']:
        assert normalize_answer(raw) == metric._process_answer(raw)
    assert normalize_answer('Two') == '2' and normalize_answer('a dog') == 'dog'
    with pytest.raises(ValueError, match='not a normalised'):
        load_answer_vocab(['yes', 'Two'])
    with pytest.raises(ValueError, match='duplicate'):
        load_answer_vocab(['yes', 'yes'])


def test_targets_hand_computed():
    model = build(tiny_cfg())
    s = DataSample(metainfo=dict(question_id=7))
    # 'Yes' and 'yes!' normalise to 'yes' (6 of 10), 'two' -> '2' (2), 'a dog' -> 'dog' (1),
    # 'cat' is outside the vocabulary (dropped, counted)
    s.set_field(['Yes', 'yes!', 'two', 'a dog', 'cat'], 'gt_answer')
    s.set_field([0.5, 0.1, 0.2, 0.1, 0.1], 'gt_answer_weight')
    assert answer_counts(s.gt_answer, s.gt_answer_weight) == dict(yes=6, dog=1, cat=1, **{'2': 2})
    before = model.drops.counts['annotator answers outside the answer vocabulary']
    target = model.answer_targets([s], torch.device('cpu'))
    assert target[0].tolist() == pytest.approx([1., 0., 0.6, 0.3, 0.])
    assert model.drops.counts['annotator answers outside the answer vocabulary'] == before + 1
    model.soft_score = 'min3'
    assert model.answer_targets([s], torch.device('cpu'))[0].tolist() == \
        pytest.approx([1., 0., 2 / 3, 1 / 3, 0.])

    bad = DataSample(metainfo=dict(question_id=99))
    bad.set_field(['yes', 'no'], 'gt_answer')
    bad.set_field([0.55, 0.45], 'gt_answer_weight')
    with pytest.raises(ValueError, match='question 99.*multiple of 1/10'):
        model.answer_targets([bad], torch.device('cpu'))
    with pytest.raises(KeyError, match='gt_answer'):
        model.loss(images(1), questions(1, answers=False))


@pytest.mark.parametrize('scale', [True, False])
def test_bce_loss_equals_hand_formula(scale):
    model = build(tiny_cfg(scale_loss_by_num_answers=scale, loss_weight=0.5))
    model.eval()  # no dropout anywhere: logits are reproducible
    img, samples = images(4), questions(4)
    logits = model(img, samples, mode='tensor')
    assert logits.shape == (4, len(VOCAB_ANSWERS))
    t = model.answer_targets(samples, torch.device('cpu'))
    p = torch.sigmoid(logits.double())
    hand = -(t * p.log() + (1 - t) * (1 - p).log()).sum() / 4  # sum over answers, batch mean
    if not scale:
        hand = hand / len(VOCAB_ANSWERS)
    losses = model.loss(img, samples)
    assert losses['loss_vqa'].item() == pytest.approx(0.5 * hand.item(), rel=1e-5)
    expected_score = t[torch.arange(4), logits.argmax(1)].mean()
    assert losses['vqa_score'].item() == pytest.approx(expected_score.item())


def test_predict_and_vqa_acc(tmp_path):
    model = build(tiny_cfg(soft_score='min3'))
    model.eval()
    img, samples = images(6, seed=1), questions(6, seed=1)
    with torch.no_grad():
        logits = model(img, samples, mode='tensor')
        out = model(img, samples, mode='predict')
    assert [s.pred_answer for s in out] == [VOCAB_ANSWERS[k] for k in logits.argmax(1).tolist()]
    assert all(isinstance(s.pred_answer, str) for s in out)
    assert [s.pred_answer_score
            for s in out] == pytest.approx(logits.sigmoid().max(1).values.tolist())

    # VQAAcc of the predictions equals our min3 soft score of the predicted answer
    metric = VQAAcc()
    metric.process(None, [s.to_dict() for s in out])
    targets = model.answer_targets(samples, torch.device('cpu'))
    ours = targets[torch.arange(6), logits.argmax(1)].mean().item() * 100
    assert metric.compute_metrics(metric.results)['acc'] == pytest.approx(ours)

    # the test-dev submission writer reads the same samples
    report = ReportVQA(file_path=str(tmp_path / 'answers.json'))
    report.process(None, [s.to_dict() for s in out])
    report.compute_metrics(report.results)
    written = json.loads((tmp_path / 'answers.json').read_text())
    assert written == [dict(question_id=100 + i, answer=s.pred_answer) for i, s in enumerate(out)]

    # hand cases: 'two' matches '2' (2 of 10 -> 2/3), 'dog' 4 of 10 -> 1, 'no' absent -> 0
    metric = VQAAcc()
    metric.process(None, [
        dict(pred_answer='2', gt_answer=['two', 'three'], gt_answer_weight=[0.2, 0.8]),
        dict(pred_answer='dog', gt_answer=['a dog', 'cat'], gt_answer_weight=[0.4, 0.6]),
        dict(pred_answer='no', gt_answer=['yes'], gt_answer_weight=[1.0]),
    ])
    assert metric.compute_metrics(metric.results)['acc'] == pytest.approx(100 * (2 / 3 + 1) / 3)


def _check_loads(pre_cfg, vqa_cfg, tmp_path):
    pretrain = build(pre_cfg, seed=1)
    sd = pretrain.state_dict()
    ckpt = tmp_path / 'pretrain.pth'
    torch.save(dict(state_dict=sd, meta=dict()), ckpt)
    model = build(dict(vqa_cfg, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt))), seed=2)
    own = model.state_dict()
    shared = [k for k in own if not k.startswith('vqa_head.')]
    assert shared and set(shared) <= set(sd)
    for key in shared:
        assert torch.equal(own[key], sd[key]), key
    assert any(k.startswith('vqa_head.') for k in own)
    # the pretraining heads are not built; their weights are the only unused keys, with the
    # visual stream of the last cross-modality layer
    unused = set(sd) - set(own)
    heads = ('mlm_head.', 'itm_head.', 'ssul_head.', 'segl_conv.')
    assert not any(k.startswith(heads) for k in own)
    last_layer = 'cross_modal_encoder.layers.1.'
    assert all(k.startswith(heads) or k.startswith(last_layer) for k in unused)
    return model, unused


def test_loads_pretraining_state_dict(tmp_path):
    # SSUL on the cross-modal output makes the pretraining encoder's last layer bimodal
    pre = tiny_cfg(
        'SemanticVLP',
        ssul=dict(feature='cross_modal'),
        segl=dict(loss=dict(type='SEGLLoss', num_classes=5)))
    model, unused = _check_loads(pre, tiny_cfg(), tmp_path)
    assert any(k.startswith('cross_modal_encoder.layers.1.') for k in unused)
    assert not model.cross_modal_encoder.output_visual
    assert model.mlm_head is None and model.itm_head is None and not model.with_segl
    # the answer head got the BERT init (std 0.02), not the checkpoint
    assert model.vqa_head[0].weight.std().item() == pytest.approx(0.02, rel=0.2)
    assert model.vqa_head[3].weight.shape == (len(VOCAB_ANSWERS), 64)


def _check_gradients(model, samples):
    losses = model.loss(images(len(samples), seed=3), samples)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    missing = [n for n, p in trainable.items() if p.grad is None]
    assert not missing, missing  # DDP would need find_unused_parameters otherwise
    for prefix in ('backbone.', 'text_encoder.', 'cross_modal_encoder.', 'pooler.', 'vqa_head.'):
        assert any(p.grad.abs().sum() > 0 for n, p in trainable.items() if n.startswith(prefix))


def test_gradients_reach_every_trainable_parameter():
    model = build(tiny_cfg())
    model.train()
    _check_gradients(model, questions(4, seed=2))


def test_spl_mode(tmp_path):
    pre = tiny_cfg('SemanticVLP', spl=True)
    pre['spl']['loss'] = dict(type='SetPredictionLoss')
    model, _ = _check_loads(pre, tiny_cfg(spl=True), tmp_path)
    assert model.with_spl and model.spl_loss is None
    assert not any(p.requires_grad for p in model.spl_head.cls_head.parameters())
    model.train()
    _check_gradients(model, questions(3, seed=4))
    assert any(p.grad.abs().sum() > 0 for n, p in model.spl_head.named_parameters()
               if p.requires_grad)
    model.eval()
    with torch.no_grad():
        out = model(images(3), questions(3), mode='predict')
    assert all(s.pred_answer in VOCAB_ANSWERS for s in out)


def test_bad_configs():
    with pytest.raises(ValueError, match='output_visual'):
        build(
            tiny_cfg(
                cross_modal_encoder=dict(
                    hidden_size=32,
                    num_layers=1,
                    num_heads=2,
                    intermediate_size=64,
                    output_visual=True)))
    with pytest.raises(ValueError, match='soft_score'):
        build(tiny_cfg(soft_score='max'))
    with pytest.raises(ValueError, match='answer_vocab is required'):
        build(tiny_cfg(answer_vocab=None))
    with pytest.raises(FileNotFoundError, match='build_vqa_answer_vocab'):
        build(tiny_cfg(answer_vocab='/nonexistent/vocab.json'))
    # the pretraining visual-loss options are ignored (a fine-tuning config may inherit them)
    model = build(tiny_cfg(ssul=dict(), segl=dict(), mlm_prob=0.3))
    assert not model.with_ssul and not model.with_segl


def test_leave_one_out_enumeration_matches_itertools():
    # the enumeration helper itself against subsets of 9 (the official "10 choose 9")
    for c in range(11):
        given = [1] * c + [0] * (10 - c)
        subsets = list(itertools.combinations(range(10), 9))
        direct = sum(min(1., sum(given[i] for i in s) / 3.) for s in subsets) / len(subsets)
        assert math.isclose(direct, leave_one_out(c, 10))
