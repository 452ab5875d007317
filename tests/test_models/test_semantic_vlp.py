"""SemanticVLP (semantic-visual-loss VLP): the algorithm on synthetic batches of its data contract
with tiny random-init models (ViT and ResNet grids, 1-layer BERT, never downloaded), each visual
loss on, gradients to the visual backbone, the cross-modal encoder, set predictor and grid
position embedding, the paper-size visual branches and an mmengine train step."""
import pytest
import torch
from mmdet.models.layers import LearnedPositionalEncoding
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmvisrep  # noqa: F401
from mmvisrep.models.backbones import GridPositionEmbedding2D, resnet50_grid, vit_b32_l9_384
from mmvisrep.models.heads import SetPredictor
from mmvisrep.models.necks import CrossModalEncoder

init_default_scope('mmpretrain')
MMLogger.get_current_instance().setLevel('WARNING')  # quiet mmengine's per-parameter init log

VOCAB_FILE = 'tests/data/bert_vocab/vocab.txt'
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
TINY_VIT = dict(
    type='VisionTransformer',
    arch=dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64),
    img_size=128,
    patch_size=32,
    out_type='featmap')
TINY_RESNET = dict(type='ResNet', depth=18, base_channels=8, stem_channels=16, out_indices=(3, ))
NUM_STUFF, NUM_DET = 6, 9


def tiny_cfg(backbone='vit', ssul=False, segl=False, spl=False, **kwargs):
    cfg = dict(
        type='SemanticVLP',
        backbone=TINY_VIT if backbone == 'vit' else TINY_RESNET,
        visual_pos_embed=None if backbone == 'vit' else dict(
            type='GridPositionEmbedding2D', channels=64),
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
        ssul=dict() if ssul else None,  # reads the cross-modal output (the grid with SPL)
        segl=dict(loss=dict(type='SEGLLoss', num_classes=NUM_STUFF)) if segl else None,
        spl=dict(
            head=dict(
                type='SetPredictor',
                num_classes=NUM_DET,
                num_queries=5,
                embed_dims=32,
                num_heads=2,
                feedforward_channels=64,
                dropout=0.)) if spl else None,
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


def samples(num, seed=0, img_ids=None, stuff=True, pseudo=True, size=128):
    """Data samples of the contract: captions of lengths 8..12, every other sample with a stuff
    map, pseudo-label sets of sizes 0..7 padded with -1 to 8."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(num):
        n = 8 + i % 5
        ids = torch.randint(5, VOCAB, (n, ), generator=gen)
        ids[0], ids[-1] = 2, 3
        s = DataSample()
        s.set_field(ids.numpy(), 'input_ids')
        s.set_field(torch.ones(n, dtype=torch.long).numpy(), 'attention_mask')
        if img_ids is not None:
            s.set_field(img_ids[i], 'img_id')
        if stuff:
            smap = torch.randint(0, NUM_STUFF, (size, size), generator=gen).to(torch.uint8)
            smap[:size // 4] = 255
            s.set_field(smap.numpy(), 'stuff_map')
            s.set_field(i % 2 == 0, 'has_stuff_map')
        if pseudo:
            m = i % 8
            labels = torch.full((8, ), -1, dtype=torch.long)
            labels[:m] = torch.randint(0, NUM_DET, (m, ), generator=gen)
            s.set_field(labels.numpy(), 'pseudo_labels')
            s.set_field(m, 'num_pseudo_labels')
        out.append(s)
    return out


def images(num, seed=0, size=128):
    return torch.randn(num, 3, size, size, generator=torch.Generator().manual_seed(seed))


def total(losses):
    return sum(v for k, v in losses.items() if k.startswith('loss'))


def backbone_grad_norm(model, loss):
    params = [p for p in model.backbone.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return sum(float(g.abs().sum()) for g in grads if g is not None)


# ---------------------------------------------------------------- the algorithm
@pytest.mark.parametrize('backbone', ['vit', 'resnet'])
@pytest.mark.parametrize('visual', ['none', 'ssul', 'segl', 'spl'])
def test_each_loss_trains_the_visual_backbone(backbone, visual):
    model = build(tiny_cfg(backbone, **({visual: True} if visual != 'none' else {})))
    model.train()
    torch.manual_seed(1)
    losses = model.loss(images(6), samples(6))
    expected = {'loss_mlm', 'loss_itm'} | ({f'loss_{visual}'} if visual != 'none' else set())
    assert {k for k in losses if k.startswith('loss')} == expected
    assert all(torch.isfinite(v) for v in losses.values())
    # every loss alone sends gradient into the visual backbone (ITM/MLM through cross-attention)
    for key in expected:
        assert backbone_grad_norm(model, losses[key]) > 0, key
    total(losses).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing  # no dead parameter (DDP without find_unused_parameters)


def test_all_visual_losses_together_and_spl_object_features():
    model = build(tiny_cfg(ssul=True, segl=True, spl=True))
    assert model.ssul_feature == 'backbone' and model.segl_feature == 'backbone'
    img, data = images(4), samples(4)
    ids, mask = model._text_batch(data, img.device)
    enc = model.encode(img, ids, mask)
    assert enc['grid'].shape == (4, 32, 4, 4)
    assert enc['visual'] is None  # no loss reads it (SSUL reads the backbone in SPL mode)
    assert model.cross_modal_encoder.layers[-1].lang_only
    assert model.cross_modal_encoder.layers[0].visual_attention.att.key.in_features == 32
    assert enc['spl_logits'].shape == (4, 5, NUM_DET)
    assert enc['lang'].shape == (4, 11, 32) and enc['pooled'].shape == (4, 32)
    losses = model.loss(img, data)
    assert {'loss_ssul', 'loss_segl', 'loss_spl'} <= set(losses)
    total(losses).backward()
    # with its visual stream on, the cross-modal encoder outputs the N=5 object features
    cfg = tiny_cfg(spl=True)
    cfg['cross_modal_encoder'] = dict(cfg['cross_modal_encoder'], output_visual=True)
    enc = build(cfg).encode(img, ids, mask)
    assert enc['visual'].shape == (4, 5, 32)
    # grid mode with SSUL on the cross-modal output: one visual token per grid cell
    model = build(tiny_cfg(ssul=True))
    assert model.ssul_feature == 'cross_modal'
    assert model.encode(img, ids, mask)['visual'].shape == (4, 16, 32)


def test_spl_with_zero_pseudo_labels_everywhere():
    model = build(tiny_cfg(spl=True))
    data = samples(3, pseudo=False)
    for s in data:
        s.set_field(torch.full((4, ), -1).numpy(), 'pseudo_labels')
        s.set_field(0, 'num_pseudo_labels')
    losses = model.loss(images(3), data)
    assert losses['loss_spl'].item() == 0.
    total(losses).backward()
    assert model.spl_head.cls_head.weight.grad is not None


def test_segl_skips_samples_without_maps():
    model = build(tiny_cfg(segl=True))
    model.eval()  # no dropout: two passes agree
    data = samples(4)
    img = images(4)
    torch.manual_seed(5)
    ref = model.loss(img, data)['loss_segl']
    # garbage in the maps of samples flagged has_stuff_map=False changes nothing
    for s in data[1::2]:
        s.set_field((torch.ones(128, 128) * 77).to(torch.uint8).numpy(), 'stuff_map')
    torch.manual_seed(5)
    assert model.loss(img, data)['loss_segl'].item() == pytest.approx(ref.item(), rel=1e-6)
    for s in data:
        s.set_field(False, 'has_stuff_map')
    torch.manual_seed(5)
    assert model.loss(img, data)['loss_segl'].item() == 0.
    data[0].set_field(True, 'has_stuff_map')
    del data[0].stuff_map
    with pytest.raises(KeyError, match='no `stuff_map`'):
        model.loss(img, data)


def test_segl_feature_size_resizes_logits(monkeypatch):
    """ResNet-50 in the paper: the 12x12 feature map is resized to 24x24 for SEGL (here 4->8)."""
    model = build(
        dict(
            tiny_cfg('resnet'),
            segl=dict(feature_size=8, loss=dict(type='SEGLLoss', num_classes=NUM_STUFF))))
    assert model.segl_feature_size == (8, 8)
    seen = {}
    original = model.segl_loss.forward

    def spy(logits, maps):
        seen['shape'] = tuple(logits.shape)
        return original(logits, maps)

    monkeypatch.setattr(model.segl_loss, 'forward', spy)
    data = samples(2)
    losses = model.loss(images(2), data)
    assert seen['shape'] == (2, NUM_STUFF, 8, 8)
    assert torch.isfinite(losses['loss_segl']) and losses['loss_segl'] > 0
    target = model.segl_loss.targets(model.stuff_maps(data), (8, 8), torch.device('cpu'))
    assert (target[0, :2] == 255).all() and (target[0, 2:] < NUM_STUFF).all()
    assert (target[1] == 255).all()  # has_stuff_map=False


def test_untied_mlm_wider_text_and_segl_on_cross_modal_output():
    """A text encoder wider than the cross-modal encoder: projected text, an untied MLM decoder;
    SEGL reading the cross-modal visual stream."""
    cfg = tiny_cfg(
        text_encoder=dict(type='HFTextEncoder', config=dict(TINY_BERT, hidden_size=48)),
        segl=True,
        mlm_prob=0.5,
        itm_neg_prob=0.)
    cfg['segl'] = dict(feature='cross_modal', loss=dict(type='SEGLLoss', num_classes=NUM_STUFF))
    model = build(cfg)
    assert isinstance(model.cross_modal_encoder.lang_proj, torch.nn.Sequential)
    assert model.mlm_head.decoder.weight.shape == (VOCAB, 32)
    assert model.mlm_head.decoder.weight.std().item() == pytest.approx(0.02, rel=0.2)
    assert model.segl_conv.in_channels == 32 and model.cross_modal_encoder.output_visual
    losses = model.loss(images(4), samples(4))
    for key in ('loss_mlm', 'loss_segl'):
        assert backbone_grad_norm(model, losses[key]) > 0, key
    total(losses).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_mlm_only_on_matched_pairs_and_itm_groups():
    model = build(tiny_cfg(itm_neg_prob=1.0))
    data = samples(4, img_ids=[10, 10, 11, 12])
    groups = model.image_groups(data, torch.device('cpu'))
    assert groups.tolist() == [0, 0, 1, 2]
    # every pair mismatched: no MLM target, loss 0 but in the graph; ITM still trains
    losses = model.loss(images(4), data)
    assert losses['loss_mlm'].item() == 0. and losses['loss_itm'].item() > 0
    total(losses).backward()
    # mismatched captions are still corrupted (no [MASK] shortcut for ITM), targets dropped
    model = build(
        tiny_cfg(itm_neg_prob=1.0, mlm_prob=1.0, mlm_mask_ratio=1.0, mlm_random_ratio=0.))
    seen = []
    encoder_forward = model.text_encoder.forward
    model.text_encoder.forward = lambda ids, m: seen.append(ids) or encoder_forward(ids, m)
    assert model.loss(images(4), data)['loss_mlm'].item() == 0.
    real = seen[0][seen[0] > 4]
    assert real.numel() == 0 and (seen[0] == 4).sum() > 0
    model = build(tiny_cfg(itm_neg_prob=1.0, mlm_on_mismatched=True, mlm_prob=1.0))
    assert model.loss(images(4), data)['loss_mlm'].item() > 0
    # img_path metainfo identifies the image when there is no img_id
    plain = samples(3)
    for s, path in zip(plain, ['a.jpg', 'b.jpg', 'a.jpg']):
        s.set_metainfo(dict(img_path=path))
    assert model.image_groups(plain, torch.device('cpu')).tolist() == [0, 1, 0]
    assert model.image_groups(samples(3), torch.device('cpu')).tolist() == [0, 1, 2]


def test_text_batch_pads_and_tokenizer_ids():
    model = build(
        tiny_cfg(
            text_encoder=dict(
                type='HFTextEncoder',
                config=dict(TINY_BERT, vocab_size=None),
                tokenizer=dict(type='BertTokenizerFast', vocab_file=VOCAB_FILE)),
            tokenizer=dict(type='BertTokenizerFast', vocab_file=VOCAB_FILE),
            mask_token_id=None,
            special_token_ids=None))
    assert model.mask_token_id == 4 and model.pad_token_id == 0
    assert model.special_token_ids == [0, 1, 2, 3, 4]
    assert model.mlm_random_pool.min() == 5 and model.mlm_random_pool.numel() == 204 - 5
    ids, mask = model._text_batch(samples(3), torch.device('cpu'))
    assert ids.shape == (3, 10) and mask.sum(1).tolist() == [8, 9, 10]
    assert (ids[0, 8:] == 0).all()
    # the MLM decoder is tied to the word embeddings
    assert model.mlm_head.decoder.weight is \
        model.text_encoder.model.embeddings.word_embeddings.weight


def test_contract_errors():
    model = build(tiny_cfg(spl=True))
    data = samples(2)
    del data[1].input_ids
    with pytest.raises(KeyError, match='no `input_ids`'):
        model.loss(images(2), data)
    data = samples(2)
    data[0].set_field(9, 'num_pseudo_labels')
    with pytest.raises(ValueError, match='num_pseudo_labels=9'):
        model.loss(images(2), data)
    data = samples(2)
    data[1].set_field(torch.tensor([3, -1, 2]).numpy(), 'pseudo_labels')
    data[1].set_field(3, 'num_pseudo_labels')
    with pytest.raises(ValueError, match='negative'):
        model.loss(images(2), data)
    with pytest.raises(ValueError, match='multiple'):
        build(tiny_cfg(ssul=True)).loss(images(2, size=112), samples(2))
    with pytest.raises(ValueError, match='impossible with SPL'):
        MODELS.build(dict(tiny_cfg(spl=True), ssul=dict(feature='cross_modal')))
    with pytest.raises(ValueError, match='tokenizer'):
        MODELS.build(tiny_cfg(mask_token_id=None))
    with pytest.raises(ValueError, match='unknown ssul keys'):
        MODELS.build(dict(tiny_cfg(), ssul=dict(patch=32)))
    cfg = tiny_cfg(ssul=True)
    cfg['cross_modal_encoder'] = dict(cfg['cross_modal_encoder'], output_visual=False)
    with pytest.raises(ValueError, match='output_visual=False'):
        MODELS.build(cfg)


def test_match_scores_and_train_step():
    model = build(tiny_cfg(ssul=True))
    model.eval()
    scores = model.match_scores(images(3), samples(3))
    assert scores.shape == (3, ) and ((scores >= 0) & (scores <= 1)).all()
    model.train()
    optim = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    data = dict(
        inputs=torch.randint(0, 256, (4, 3, 128, 128), dtype=torch.uint8), data_samples=samples(4))
    before = model.backbone.patch_embed.projection.weight.detach().clone()
    log = model.train_step(data, optim)
    assert {'loss', 'loss_mlm', 'loss_itm', 'loss_ssul', 'itm_acc'} <= set(log)
    assert torch.isfinite(log['loss'])
    assert not torch.equal(before, model.backbone.patch_embed.projection.weight)


# ---------------------------------------------------------------- components
def test_cross_modal_encoder_shared_attention_and_padding():
    shared = CrossModalEncoder(
        visual_in_channels=16, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
    separate = CrossModalEncoder(
        visual_in_channels=16,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        share_cross_attention=False)
    n_shared = sum(p.numel() for p in shared.parameters())
    n_sep = sum(p.numel() for p in separate.parameters())
    cross = sum(p.numel() for p in shared.layers[0].visual_attention.parameters())
    assert n_sep - n_shared == 2 * cross  # LXMERT: one cross-attention set serves both ways
    for enc in (shared, separate):
        enc.init_weights()
        enc.eval()
        lang = torch.randn(2, 6, 32)
        mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
        vis = torch.randn(2, 5, 16)
        out_l, out_v, att = enc(lang, mask, vis, return_attentions=True)
        assert out_l.shape == (2, 6, 32) and out_v.shape == (2, 5, 32) and len(att) == 2
        assert att[0].shape == (2, 2, 6, 5)
        # padded text tokens do not influence anything else
        lang2 = lang.clone()
        lang2[1, 4:] = 100.
        out_l2, out_v2 = enc(lang2, mask, vis)
        assert torch.allclose(out_v2, out_v, atol=1e-5)
        assert torch.allclose(out_l2[1, :4], out_l[1, :4], atol=1e-5)
    assert shared.layers[0].visual_attention.att.query.weight.std().item() == pytest.approx(
        0.02, rel=0.2)


def test_set_predictor_shapes():
    head = SetPredictor(
        in_channels=48,
        num_classes=9,
        num_queries=7,
        embed_dims=32,
        num_heads=2,
        feedforward_channels=64,
        no_object=True)
    objects, logits = head(torch.randn(2, 48, 3, 4))
    assert objects.shape == (2, 7, 32) and logits.shape == (2, 7, 10)
    objects2, _ = head(torch.randn(2, 12, 48))
    assert objects2.shape == (2, 7, 32)
    with pytest.raises(ValueError, match='48'):
        head(torch.randn(2, 12, 40))


def test_grid_position_embedding_matches_mmdet():
    pos = GridPositionEmbedding2D(channels=8, max_size=6)
    pos.init_weights()
    feat = torch.randn(2, 8, 3, 5)
    ref = LearnedPositionalEncoding(4, 6, 6)
    ref.load_state_dict(pos.state_dict())
    expected = feat + ref(torch.zeros(2, 3, 5, dtype=torch.bool))
    assert torch.allclose(pos(feat), expected)
    delta = pos(torch.zeros(1, 8, 3, 5))[0]
    assert torch.equal(delta[:4, 0, 2], pos.col_embed.weight[2])
    assert torch.equal(delta[4:, 1, 0], pos.row_embed.weight[1])
    with pytest.raises(ValueError, match='max_size'):
        pos(torch.randn(1, 8, 7, 2))


def test_paper_visual_branches_give_12x12_grids():
    torch.manual_seed(0)
    vit = MODELS.build(vit_b32_l9_384())
    assert len(vit.layers) == 9 and vit.embed_dims == 768
    resnet = MODELS.build(resnet50_grid())
    resnet.eval()
    x = torch.randn(1, 3, 384, 384)
    with torch.no_grad():
        assert vit(x)[-1].shape == (1, 768, 12, 12)
        assert resnet(x)[-1].shape == (1, 2048, 12, 12)
