"""LocTex model: InfoNCE and trace-attention losses by hand, the cross-modal attention head, the
transformers text encoder (offline), the algorithm on synthetic batches of the data contract
(gradients, checks, padding, ablation) and the backbone's export to mmdet."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmvisrep  # noqa: F401
from mmvisrep.models.heads import CrossModalAttentionHead
from mmvisrep.models.losses import InfoNCELoss, TraceAttentionLoss, trace_attention_loss_per_map
from mmvisrep.models.utils import HFTextEncoder, build_text_encoder

init_default_scope('mmpretrain')

VOCAB = 40
TINY_BERT = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=64,
    hidden_dropout_prob=0.,
    attention_probs_dropout_prob=0.)


def tiny_loctex_cfg(norm='BN', attention=True, num_heads=1, **kwargs):
    """A ResNet-18 with 8 base channels (C5: 64 channels), a 1-layer 32-wide BERT, 16-d heads."""
    norm_cfg = dict(type='GN', num_groups=4) if norm == 'GN' else dict(type='BN')
    cfg = dict(
        type='LocTex',
        backbone=dict(
            type='ResNet',
            depth=18,
            base_channels=8,
            stem_channels=16,
            out_indices=(3, ),
            norm_cfg=norm_cfg),
        text_encoder=dict(type='HFTextEncoder', config=TINY_BERT),
        embed_dim=16,
        attention_head=dict(type='CrossModalAttentionHead', attn_channels=16, num_heads=num_heads)
        if attention else None,
        attention_loss=dict(type='TraceAttentionLoss') if attention else None,
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            to_rgb=True))
    cfg.update(kwargs)
    return cfg


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def synthetic_samples(num, grid=(2, 2), num_tokens=12, num_utts=4, seed=0):
    """Data samples following the LocTex data contract; utterance 3 of every sample is invalid
    (no trace), sample 0's utterance 2 has a one-hot trace."""
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(num):
        length = num_tokens - (i % 3)  # real lengths differ; padded with id 0
        ids = torch.zeros(num_tokens, dtype=torch.long)
        ids[:length] = torch.randint(5, VOCAB, (length, ), generator=gen)
        ids[0], ids[length - 1] = 2, 3  # [CLS] ... [SEP]
        mask = torch.zeros(num_tokens, dtype=torch.long)
        mask[:length] = 1
        token_mask = torch.zeros(num_utts, num_tokens, dtype=torch.bool)
        bounds = [1, 3, 5, 8, length - 1]
        for k in range(num_utts):
            token_mask[k, bounds[k]:bounds[k + 1]] = True
        maps = torch.rand(num_utts, *grid, generator=gen)**4
        maps[-1] = 0
        if i == 0:
            maps[2] = 0
            maps[2, 0, 0] = 1
        maps[:-1] /= maps[:-1].sum((1, 2), keepdim=True)
        valid = torch.ones(num_utts, dtype=torch.bool)
        valid[-1] = False
        sample = DataSample()
        sample.set_field(ids, 'input_ids')
        sample.set_field(mask, 'attention_mask')
        sample.set_field(token_mask, 'utterance_token_mask')
        sample.set_field(maps, 'trace_maps')
        sample.set_field(valid, 'utterance_valid')
        samples.append(sample)
    return samples


def synthetic_batch(model, num=4, size=64, seed=0, **kwargs):
    """Preprocessed ``{'inputs', 'data_samples'}`` for ``num`` random images of ``size`` px."""
    gen = torch.Generator().manual_seed(seed)
    imgs = torch.randint(0, 256, (num, 3, size, size), generator=gen, dtype=torch.uint8)
    grid = (size // 32, size // 32)
    data = dict(inputs=imgs, data_samples=synthetic_samples(num, grid=grid, seed=seed, **kwargs))
    return model.data_preprocessor(data, training=True)


def total_loss(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


# ------------------------------------------------------------------------------ InfoNCE


@pytest.mark.parametrize('learnable', [False, True])
@pytest.mark.parametrize('batch', [1, 3, 8])
def test_infonce_is_log_b_for_constant_features(batch, learnable):
    loss = InfoNCELoss(temperature=0.1, learnable_temperature=learnable)
    feats = torch.ones(batch, 5)
    assert loss(feats, feats.clone()).item() == pytest.approx(math.log(batch), abs=1e-6)


def test_infonce_hand_computed():
    # two pairs; cos(i0, t0) = 1, cos(i0, t1) = 0, cos(i1, t0) = 0.6, cos(i1, t1) = 0.8
    img = torch.tensor([[1., 0.], [0.6, 0.8]])
    txt = torch.tensor([[2., 0.], [0., 3.]])  # normalised inside: [1, 0], [0, 1]
    tau = 0.5
    s = torch.tensor([[1., 0.], [0.6, 0.8]]) / tau
    i2t = [math.log(sum(math.exp(v) for v in s[r])) - s[r, r] for r in range(2)]
    t2i = [math.log(sum(math.exp(v) for v in s[:, c])) - s[c, c] for c in range(2)]
    expected = (sum(i2t) / 2 + sum(t2i) / 2) / 2
    got = InfoNCELoss(temperature=tau, loss_weight=3.)(img, txt)
    assert got.item() == pytest.approx(3 * float(expected), rel=1e-6)


def test_infonce_matches_cross_entropy_reference_and_learns_temperature():
    torch.manual_seed(0)
    img, txt = torch.randn(6, 8), torch.randn(6, 8)
    loss = InfoNCELoss(temperature=0.07, learnable_temperature=True)
    logits = F.normalize(img, dim=1) @ F.normalize(txt, dim=1).t() / 0.07
    labels = torch.arange(6)
    ref = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    got = loss(img, txt)
    torch.testing.assert_close(got, ref)
    got.backward()
    assert loss.logit_scale.grad is not None and loss.logit_scale.grad.abs() > 0
    assert loss.temperature.item() == pytest.approx(0.07)
    # fixed temperature: a buffer, no parameter
    assert list(InfoNCELoss().parameters()) == []
    # 1 / tau is clamped at max_logit_scale
    capped = InfoNCELoss(temperature=0.001, learnable_temperature=True, max_logit_scale=100.)
    assert capped.temperature.item() == pytest.approx(0.01)
    with pytest.raises(ValueError, match='temperature'):
        InfoNCELoss(temperature=0.)
    with pytest.raises(ValueError, match=r'\(B, D\)'):
        loss(img, txt[:5])


# ------------------------------------------------------------------------------ trace attention


def test_trace_attention_kl_is_zero_when_attention_equals_target():
    torch.manual_seed(0)
    target = torch.softmax(torch.randn(5, 49), -1)
    valid = torch.ones(5, dtype=torch.bool)
    loss = TraceAttentionLoss()(target.log(), target, valid)
    assert abs(loss.item()) < 1e-6
    # sparse targets (zeros) against the same attention restricted to their support
    sparse = torch.zeros(2, 4)
    sparse[0, 1] = 1
    sparse[1, :2] = 0.5
    log_attn = torch.log(sparse.clamp_min(1e-30))
    assert abs(TraceAttentionLoss()(log_attn, sparse, torch.ones(2, dtype=bool)).item()) < 1e-6


def test_trace_attention_losses_by_hand():
    log_attn = torch.log(torch.tensor([[0.5, 0.5, 0., 0.], [0.25, 0.25, 0.25, 0.25]]) + 1e-30)
    target = torch.tensor([[1., 0., 0., 0.], [0.5, 0.5, 0., 0.]])
    kl = trace_attention_loss_per_map(log_attn, target, 'kl')
    torch.testing.assert_close(kl, torch.tensor([math.log(2), math.log(2)]))
    ce = trace_attention_loss_per_map(log_attn, target, 'ce')
    # CE = KL + H(target): H = 0 and log 2
    torch.testing.assert_close(ce, torch.tensor([math.log(2), 2 * math.log(2)]))
    mse = trace_attention_loss_per_map(log_attn, target, 'mse')
    # max-normalised: [1, 1, 0, 0] vs [1, 0, 0, 0]; [1, 1, 1, 1] vs [1, 1, 0, 0]
    torch.testing.assert_close(mse, torch.tensor([0.25, 0.5]))


@pytest.mark.parametrize('mode', ['kl', 'ce', 'mse'])
def test_trace_attention_loss_averages_valid_utterances_only(mode):
    torch.manual_seed(0)
    log_attn = torch.log_softmax(torch.randn(2, 3, 9), -1)
    target = torch.softmax(torch.randn(2, 3, 9), -1)
    valid = torch.tensor([[True, False, True], [False, False, True]])
    target[~valid] = 0
    per_map = trace_attention_loss_per_map(log_attn, target, mode)
    expected = per_map[valid].mean() * 0.5
    got = TraceAttentionLoss(mode=mode, loss_weight=0.5)(log_attn, target, valid)
    torch.testing.assert_close(got, expected)
    # no valid utterance: exactly 0, still differentiable
    log_attn.requires_grad_(True)
    zero = TraceAttentionLoss(mode=mode)(log_attn, target, torch.zeros(2, 3, dtype=bool))
    assert zero.item() == 0
    zero.backward()
    assert torch.isfinite(log_attn.grad).all()
    with pytest.raises(ValueError, match='mode'):
        TraceAttentionLoss(mode='l1')


# ------------------------------------------------------------------------------ attention head


def test_cross_modal_attention_head_by_hand():
    head = CrossModalAttentionHead(visual_channels=3, text_channels=2, attn_channels=2)
    with torch.no_grad():
        head.key_proj.weight.zero_()
        head.key_proj.weight[0, 0, 0, 0] = 1.  # key = (channel 0, channel 1)
        head.key_proj.weight[1, 1, 0, 0] = 1.
        head.key_proj.bias.zero_()
        head.query_proj.weight.copy_(torch.eye(2))
        head.query_proj.bias.zero_()
    visual = torch.zeros(1, 3, 1, 2)
    visual[0, 0, 0, 0] = 2.  # cell 0: key (2, 0); cell 1: key (0, 1)
    visual[0, 1, 0, 1] = 1.
    tokens = torch.tensor([[[1., 0.], [3., 0.], [0., 2.]]])
    token_mask = torch.tensor([[[True, True, False], [False, False, True], [False, False, False]]])
    log_attn = head(visual, tokens, token_mask)
    assert log_attn.shape == (1, 3, 2)
    # utterance 0: q = mean((1, 0), (3, 0)) = (2, 0) -> logits (4, 0) / sqrt(2)
    # utterance 1: q = (0, 2) -> logits (0, 2) / sqrt(2); utterance 2: no token -> uniform
    expected = torch.log_softmax(torch.tensor([[4., 0.], [0., 2.], [0., 0.]]) / math.sqrt(2), -1)
    torch.testing.assert_close(log_attn[0], expected)


def test_cross_modal_attention_heads_are_averaged():
    torch.manual_seed(0)
    head = CrossModalAttentionHead(
        visual_channels=6, text_channels=5, attn_channels=8, num_heads=2)
    visual, tokens = torch.randn(2, 6, 3, 3), torch.randn(2, 7, 5)
    token_mask = torch.rand(2, 4, 7) > 0.4
    probs = head(visual, tokens, token_mask).exp()
    keys = head.key_proj(visual).flatten(2).transpose(1, 2)
    q = head.utterance_mean(head.query_proj(tokens), token_mask)
    per_head = [
        torch.softmax(q[..., 4 * h:4 * h + 4] @ keys[..., 4 * h:4 * h + 4].transpose(1, 2) / 2, -1)
        for h in range(2)
    ]
    torch.testing.assert_close(probs, (per_head[0] + per_head[1]) / 2)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 4))
    with pytest.raises(ValueError, match='multiple'):
        CrossModalAttentionHead(4, 4, attn_channels=6, num_heads=4)


# ------------------------------------------------------------------------------ text encoder


def test_text_encoder_random_init_and_pretrained_dir(tmp_path):
    torch.manual_seed(0)
    enc = build_text_encoder(dict(config=TINY_BERT))
    assert isinstance(enc, HFTextEncoder) and enc.model.pooler is None
    assert (enc.hidden_size, enc.vocab_size, enc.max_positions) == (32, VOCAB, 64)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    enc.init_weights()  # mmengine's init must not re-initialise the encoder
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())
    ids = torch.randint(0, VOCAB, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    enc.eval()
    out = enc(ids, mask)
    assert out.shape == (2, 9, 32)
    # a local `save_pretrained` directory is the offline stand-in for 'bert-base-uncased'
    enc.model.save_pretrained(tmp_path / 'tiny-bert')
    loaded = HFTextEncoder(
        pretrained=str(tmp_path / 'tiny-bert'),
        from_pretrained_kwargs=dict(local_files_only=True)).eval()
    torch.testing.assert_close(loaded(ids, mask), out)
    with pytest.raises(ValueError, match='exactly one'):
        HFTextEncoder()
    with pytest.raises(ValueError, match='exactly one'):
        HFTextEncoder(pretrained='x', config=TINY_BERT)
    with pytest.raises(ValueError, match='vocab'):
        enc(torch.full((1, 3), VOCAB), torch.ones(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match='position embeddings'):
        enc(torch.ones(1, 65, dtype=torch.long), torch.ones(1, 65, dtype=torch.long))


# ------------------------------------------------------------------------------ LocTex


def test_loctex_losses_and_gradients_reach_the_resnet_through_both_losses():
    model = build(tiny_loctex_cfg())
    data = synthetic_batch(model, num=4)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_contrastive', 'loss_attention', 'temperature', 'att_utterances'}
    assert losses['att_utterances'].item() == 3  # 3 valid utterances of 4 per image
    assert losses['temperature'].item() == pytest.approx(0.07)
    # random init: about log(B) and positive KL
    assert 0 < losses['loss_contrastive'].item() < 3 * math.log(4)
    assert losses['loss_attention'].item() > 0
    for name in ('loss_contrastive', 'loss_attention'):
        model.zero_grad()
        model(**data, mode='loss')[name].backward()
        grad = model.backbone.conv1.weight.grad
        assert grad is not None and grad.abs().sum() > 0, name
        # C5 feeds both branches (the last BN scale: zero_init_residual zeroes conv2's grad)
        assert model.backbone.layer4[1].bn2.weight.grad.abs().sum() > 0, name
    # the contrastive loss does not touch the attention head, the attention loss not the
    # projections
    model.zero_grad()
    model(**data, mode='loss')['loss_contrastive'].backward()
    assert model.attention_head.key_proj.weight.grad is None
    model.zero_grad()
    model(**data, mode='loss')['loss_attention'].backward()
    assert model.visual_proj.weight.grad is None
    # the total loss reaches every parameter (DDP needs no find_unused_parameters)
    model.zero_grad()
    total_loss(model(**data, mode='loss')).backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_loctex_attention_loss_is_zero_for_its_own_attention_maps():
    model = build(tiny_loctex_cfg(num_heads=2)).eval()
    data = synthetic_batch(model, num=3)
    maps = model.attention_maps(**data)
    assert maps.shape == (3, 4, 2, 2)
    torch.testing.assert_close(maps.sum((2, 3)), torch.ones(3, 4))
    for sample, m in zip(data['data_samples'], maps):
        sample.trace_maps = m.clone()
        sample.utterance_valid = torch.ones(4, dtype=torch.bool)
    losses = model(**data, mode='loss')
    assert abs(losses['loss_attention'].item()) < 1e-5
    assert losses['att_utterances'].item() == 4


def test_loctex_text_pooling_and_padding():
    """Samples with different U and L are zero-padded: same loss as padding them by hand."""
    model = build(tiny_loctex_cfg(text_pooling='cls')).eval()
    data = synthetic_batch(model, num=3)
    ref = model(**data, mode='loss')
    short = data['data_samples'][2]
    keep = int(short.attention_mask.sum())
    for key in ('input_ids', 'attention_mask'):
        short.set_field(short.get(key)[:keep], key)
    short.utterance_token_mask = short.utterance_token_mask[:3, :keep]  # drop invalid utt 3
    short.trace_maps = short.trace_maps[:3]
    short.utterance_valid = short.utterance_valid[:3]
    got = model(**data, mode='loss')
    for key in ('loss_contrastive', 'loss_attention'):
        torch.testing.assert_close(got[key], ref[key])


def test_loctex_clear_errors():
    model = build(tiny_loctex_cfg())
    data = synthetic_batch(model, num=2, size=96)  # 3 x 3 grid
    data['data_samples'][0].trace_maps = torch.zeros(4, 2, 2)
    data['data_samples'][1].trace_maps = torch.zeros(4, 2, 2)
    with pytest.raises(ValueError, match=r'backbone grid is \(3, 3\)'):
        model(**data, mode='loss')
    data = synthetic_batch(model, num=2)
    del data['data_samples'][1].utterance_valid
    with pytest.raises(KeyError, match='sample 1 has no `utterance_valid`'):
        model(**data, mode='loss')
    data = synthetic_batch(model, num=2)
    data['data_samples'][1].trace_maps[0] *= 2
    with pytest.raises(ValueError, match='sample 1, utterance 0 .* sums to 2'):
        model(**data, mode='loss')
    data = synthetic_batch(model, num=2)
    data['data_samples'][0].input_ids[1] = VOCAB + 5
    with pytest.raises(ValueError, match='tokenizer vocab'):
        model(**data, mode='loss')
    with pytest.raises(ValueError, match='both'):
        MODELS.build(tiny_loctex_cfg(attention_loss=None))
    with pytest.raises(ValueError, match='one view'):
        model([data['inputs'], data['inputs']], data['data_samples'], mode='loss')


def test_loctex_contrastive_only_ablation_needs_no_traces():
    model = build(tiny_loctex_cfg(attention=False))
    assert model.attention_head is None and not any(
        k.startswith('attention_head.') for k in model.state_dict())
    data = synthetic_batch(model, num=4)
    for sample in data['data_samples']:
        for key in ('trace_maps', 'utterance_token_mask', 'utterance_valid'):
            delattr(sample, key)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_contrastive', 'temperature'}
    total_loss(losses).backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_loctex_learnable_temperature_and_loss_weights():
    cfg = tiny_loctex_cfg(
        contrastive_loss=dict(type='InfoNCELoss', temperature=0.2, learnable_temperature=True),
        attention_loss=dict(type='TraceAttentionLoss', mode='ce', loss_weight=0.25))
    model = build(cfg)
    ref = build(
        tiny_loctex_cfg(
            contrastive_loss=dict(type='InfoNCELoss', temperature=0.2),
            attention_loss=dict(type='TraceAttentionLoss', mode='ce')))
    model.eval()
    ref.eval()
    data = synthetic_batch(model, num=3)
    got, base = model(**data, mode='loss'), ref(**data, mode='loss')
    torch.testing.assert_close(got['loss_contrastive'], base['loss_contrastive'])
    torch.testing.assert_close(got['loss_attention'], 0.25 * base['loss_attention'])
    total_loss(got).backward()
    assert model.contrastive_loss.logit_scale.grad.abs() > 0


def test_loctex_backbone_exports_to_mmdet(tmp_path):
    """extract_weights' default `backbone.` prefix gives an mmdet ResNet every key."""
    from mmdet.models.backbones import ResNet as MMDetResNet

    from mmvisrep.utils.weight_conversion import detect_soco, extract_weights
    model = build(tiny_loctex_cfg())
    path = tmp_path / 'loctex.pth'
    torch.save({
        'state_dict': model.state_dict(),
        'meta': {
            'cfg': "model=dict(type='LocTex')"
        }
    }, path)
    state, _ = torch.load(path), None
    assert detect_soco(state['state_dict'], state['meta'])[0] is None
    out = extract_weights(str(path), 'mmdet')
    det = MMDetResNet(depth=18, base_channels=8, stem_channels=16)
    keys = {k[len('backbone.'):]: v for k, v in out['state_dict'].items()}
    assert sorted(keys) == sorted(det.state_dict())
    det.load_state_dict(keys, strict=True)
    torch.testing.assert_close(det.conv1.weight, model.backbone.conv1.weight)


# ------------------------------------------------------------------------------ configs

REPO = Path(__file__).resolve().parents[2]
LOCTEX_CONFIGS = REPO / 'configs/loctex'
TOY = LOCTEX_CONFIGS / 'loctex_resnet18_1xb16-toy-10e_toyscenes.py'


def test_text_encoder_takes_vocab_and_pad_from_the_tokenizer():
    tokenizer = dict(type='AutoTokenizer', name_or_path=str(REPO / 'tests/data/bert_vocab'))
    enc = HFTextEncoder(config=dict(TINY_BERT, vocab_size=None), tokenizer=tokenizer)
    vocab = (REPO / 'tests/data/bert_vocab/vocab.txt').read_text().split('\n')
    assert enc.vocab_size == len([w for w in vocab if w]) and enc.model.config.pad_token_id == 0
    with pytest.raises(ValueError, match='tokenizer has'):
        HFTextEncoder(config=TINY_BERT, tokenizer=tokenizer)
    with pytest.raises(ValueError, match='pads with'):
        HFTextEncoder(config=dict(TINY_BERT, vocab_size=None, pad_token_id=3), tokenizer=tokenizer)
    with pytest.raises(ValueError, match='no vocab_size'):
        HFTextEncoder(config=dict(TINY_BERT, vocab_size=None))


def test_loctex_paper_configs_hold_the_documented_settings():
    from mmengine.config import Config
    epochs = {'600e_coco': 600, '300e_coco-openimages': 300, '500e_coco-openimages': 500}
    names = sorted(p.name for p in LOCTEX_CONFIGS.glob('*.py'))
    assert len(names) == 7
    for name in names:
        cfg = Config.fromfile(str(LOCTEX_CONFIGS / name))
        m = cfg.model
        assert m.type == 'LocTex' and m.backbone.type == 'ResNet'
        assert m.backbone.out_indices == (3, ) and m.backbone.zero_init_residual
        assert (m.attention_head is None) == name.startswith('loctex-contrastive')
        assert (m.attention_loss is None) == name.startswith('loctex-contrastive')
        assert m.contrastive_loss == dict(
            type='InfoNCELoss', temperature=0.07, learnable_temperature=False, gather=True)
        if 'toy' in name:
            assert m.backbone.depth == 18 and cfg.env_cfg.dist_cfg.backend == 'gloo'
            assert cfg.optim_wrapper.type == 'OptimWrapper'
            continue
        assert m.backbone.depth == 50 and m.backbone.norm_cfg.type == 'SyncBN'
        assert m.text_encoder.config.hidden_size == 1024
        assert m.text_encoder.config.num_hidden_layers == 1
        assert m.text_encoder.config.vocab_size == 30522  # the data's bert-base-uncased
        assert cfg.tokenizer == dict(type='AutoTokenizer', name_or_path='bert-base-uncased')
        assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 256
        assert cfg.train_cfg.max_epochs == epochs[name.split('coslr-')[1][:-3]]
        assert cfg.param_scheduler[1].T_max == cfg.train_cfg.max_epochs
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        if m.attention_loss is not None:
            assert m.attention_loss == dict(type='TraceAttentionLoss', mode='kl', loss_weight=1.0)
        assert cfg.attention_grid == (7, 7) and cfg.crop_size == 224


def test_loctex_toy_config_trains_on_the_data_pipeline(toy_scenes, tmp_path, monkeypatch):
    """The data helper's toy pipeline feeds the model: one SGD step with the config's optimiser
    (backbone lr 200x the rest, no decay on textual LayerNorms/biases)."""
    from mmengine.config import Config
    from mmengine.dataset import default_collate
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import DATASETS

    monkeypatch.chdir(REPO)  # the toy tokenizer path is relative to the repository
    cfg = Config.fromfile(str(TOY))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = f'{toy_scenes}/'
    ds_cfg.index_cache = str(tmp_path)
    dataset = DATASETS.build(ds_cfg)
    cfg.model.data_preprocessor = cfg.data_preprocessor
    model = build(cfg.model)
    assert model.text_encoder.vocab_size == len(
        [w for w in (REPO / 'tests/data/bert_vocab/vocab.txt').read_text().split('\n') if w])
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = {}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            lrs[id(p)] = (group['lr'], group['weight_decay'])
    named = dict(model.named_parameters())
    assert lrs[id(named['backbone.conv1.weight'])] == (pytest.approx(0.2), 1e-4)
    assert lrs[id(named['backbone.bn1.bias'])] == (pytest.approx(0.2), 1e-4)
    assert lrs[id(named['text_encoder.model.embeddings.LayerNorm.weight'])] == (1e-3, 0.)
    assert lrs[id(named['attention_head.query_proj.bias'])] == (1e-3, 0.)
    assert lrs[id(named['attention_head.query_proj.weight'])] == (1e-3, 1e-4)

    data = model.data_preprocessor(default_collate([dataset[i] for i in range(4)]), True)
    assert data['inputs'].shape == (4, 3, 96, 96)
    losses = model(**data, mode='loss')
    assert losses['att_utterances'].item() > 1
    assert 0 < losses['loss_contrastive'].item() < 10 and losses['loss_attention'].item() > 0
    before = named['backbone.conv1.weight'].detach().clone()
    optim.update_params(total_loss(losses))
    assert not torch.equal(before, named['backbone.conv1.weight'])


def test_loctex_mask_rcnn_subset_configs(toy_scenes):
    """10/20/50% configs keep the first round(p * 117,266) annotated train2017 images through
    mmengine's `indices`; on toy scenes the same option keeps the first N filtered images."""
    from mmdet.registry import DATASETS as DET_DATASETS
    from mmengine.config import Config
    init_default_scope('mmdet')
    try:
        full = Config.fromfile(
            str(REPO / 'configs/benchmarks/mmdetection/mask-rcnn_r50_fpn_syncbn-2x_coco.py'))
        for pct in (10, 20, 50):
            cfg = Config.fromfile(
                str(LOCTEX_CONFIGS / f'benchmarks/mask-rcnn_r50_fpn_syncbn-2x_coco-{pct}pct.py'))
            assert cfg.train_dataloader.dataset.indices == round(pct * 117266 / 100)
            # everything else is the full-data protocol
            cfg.train_dataloader.dataset.pop('indices')
            for key in full.keys():
                assert cfg[key] == full[key], key
        # the option on toy scenes: the first N images after mmdet's filtering
        toy = Config.fromfile(str(REPO / 'configs/_base_/datasets/toy_scenes_instance.py'))
        ds_cfg = dict(toy.toy_train_dataset, data_root=f'{toy_scenes}/')
        whole = DET_DATASETS.build(ds_cfg)
        subset = DET_DATASETS.build(dict(ds_cfg, indices=5))
        assert len(subset) == 5 < len(whole)
        assert [subset.get_data_info(i)['img_id'] for i in range(5)] == \
            [whole.get_data_info(i)['img_id'] for i in range(5)]
    finally:
        init_default_scope('mmpretrain')
