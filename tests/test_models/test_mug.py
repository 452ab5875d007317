"""MUG model: parity with mmpretrain MAE at cap_weight=0, the causal caption decoder (padding,
teacher forcing, generation against brute force), loss weights and gradients, the text decoder's
initialisation, and the encoder's transfer to mmpretrain / mmseg backbones. Synthetic batches
follow the data contract (SelfSupDataPreprocessor inputs, ``input_ids``/``attention_mask``)."""
import copy
import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmvisrep  # noqa: F401
from mmvisrep.models.heads import MUGTextDecoder

init_default_scope('mmpretrain')

REPO = Path(__file__).resolve().parents[2]
VOCAB = 40
BOS, EOS, PAD = 2, 3, 0
IMG, PATCH = 32, 8
NUM_PATCHES = (IMG // PATCH)**2
TINY_TEXT = dict(
    vocab_size=VOCAB,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=16,
    hidden_dropout_prob=0.,
    attention_probs_dropout_prob=0.)
MAE_INIT = [
    dict(type='Xavier', layer='Linear', distribution='uniform'),
    dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
]
PREPROCESSOR = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)


def mae_parts(mask_ratio=0.75):
    """The image branch of a tiny MAE (ViT 32-d x 2 layers, 8 px patches on 32 px images)."""
    return dict(
        backbone=dict(
            type='MAEViT',
            arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
            img_size=IMG,
            patch_size=PATCH,
            mask_ratio=mask_ratio),
        neck=dict(
            type='MAEPretrainDecoder',
            num_patches=NUM_PATCHES,
            patch_size=PATCH,
            in_chans=3,
            embed_dim=32,
            decoder_embed_dim=16,
            decoder_depth=1,
            decoder_num_heads=2,
            mlp_ratio=2.),
        head=dict(
            type='MAEPretrainHead',
            norm_pix=True,
            patch_size=PATCH,
            loss=dict(type='PixelReconstructionLoss', criterion='L2')),
        init_cfg=copy.deepcopy(MAE_INIT),
        data_preprocessor=dict(PREPROCESSOR))


def tiny_mug_cfg(mask_ratio=0.75, **kwargs):
    cfg = dict(
        type='MUG',
        text_decoder=dict(
            type='MUGTextDecoder',
            config=dict(TINY_TEXT),
            bos_token_id=BOS,
            eos_token_id=EOS,
            pad_token_id=PAD),
        **mae_parts(mask_ratio))
    cfg.update(kwargs)
    return cfg


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def synthetic_samples(num, max_len=10, seed=0):
    """[CLS] w1..wk [SEP] [PAD]... with k = 5, 4, 3, ... (different lengths in a batch)."""
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(num):
        length = max(3, max_len - 3 - i)
        ids = torch.full((max_len, ), PAD, dtype=torch.long)
        ids[:length] = torch.randint(5, VOCAB, (length, ), generator=gen)
        ids[0], ids[length - 1] = BOS, EOS
        mask = torch.zeros(max_len, dtype=torch.long)
        mask[:length] = 1
        sample = DataSample()
        sample.set_field(ids, 'input_ids')
        sample.set_field(mask, 'attention_mask')
        samples.append(sample)
    return samples


def synthetic_batch(model, num=4, seed=0, **kwargs):
    gen = torch.Generator().manual_seed(seed)
    imgs = torch.randint(0, 256, (num, 3, IMG, IMG), generator=gen, dtype=torch.uint8)
    data = dict(inputs=imgs, data_samples=synthetic_samples(num, seed=seed, **kwargs))
    return model.data_preprocessor(data, training=True)


def total_loss(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def grads(model, prefix):
    return {
        k: p.grad.clone()
        for k, p in model.named_parameters() if k.startswith(prefix) and p.requires_grad
    }


def tiny_decoder(seed=0, **kwargs):
    torch.manual_seed(seed)
    dec = MUGTextDecoder(
        in_channels=32,
        config=dict(TINY_TEXT),
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
        **kwargs)
    dec.init_weights()
    return dec.eval()


# ------------------------------------------------------------------------------ MAE parity


def test_cap_weight_zero_matches_mmpretrain_mae():
    """Same weights, mask (seed) and input: the same loss and encoder/decoder gradients."""
    mug = build(tiny_mug_cfg(cap_weight=0.))
    mae = MODELS.build(dict(type='MAE', **mae_parts()))
    missing, unexpected = mae.load_state_dict(mug.state_dict(), strict=False)
    assert missing == [] and all(k.startswith('text_decoder.') for k in unexpected)
    data = synthetic_batch(mug)

    torch.manual_seed(123)
    mug_losses = mug(data['inputs'], data['data_samples'], mode='loss')
    total_loss(mug_losses).backward()
    torch.manual_seed(123)
    mae_losses = mae(data['inputs'], data['data_samples'], mode='loss')
    mae_losses['loss'].backward()

    assert mug_losses['loss_cap'].item() == 0
    assert torch.equal(mug_losses['loss_rec'], mae_losses['loss'])
    assert torch.equal(total_loss(mug_losses), mae_losses['loss'])
    for prefix in ('backbone.', 'neck.'):
        ours, ref = grads(mug, prefix), grads(mae, prefix)
        assert ours.keys() == ref.keys() and len(ours) > 5
        for k in ref:
            assert torch.equal(ours[k], ref[k]), k
    assert all((g == 0).all() for g in grads(mug, 'text_decoder.').values())

    # with the caption loss on, the reconstruction term is still exactly MAE's loss and the
    # caption gradient reaches the encoder
    mug.cap_weight = 1.
    mug.zero_grad()
    torch.manual_seed(123)
    losses = mug(data['inputs'], data['data_samples'], mode='loss')
    total_loss(losses).backward()
    assert torch.equal(losses['loss_rec'], mae_losses['loss'])
    assert losses['loss_cap'].item() > 0
    qkv = 'backbone.layers.0.attn.qkv.weight'
    assert not torch.allclose(grads(mug, 'backbone.')[qkv], grads(mae, 'backbone.')[qkv])


def test_loss_is_weighted_sum():
    model = build(tiny_mug_cfg())
    data = synthetic_batch(model)
    torch.manual_seed(5)
    base = model(data['inputs'], data['data_samples'], mode='loss')
    model.recon_weight, model.cap_weight = 0.5, 3.
    torch.manual_seed(5)
    weighted = model(data['inputs'], data['data_samples'], mode='loss')
    torch.testing.assert_close(weighted['loss_rec'], 0.5 * base['loss_rec'])
    torch.testing.assert_close(weighted['loss_cap'], 3. * base['loss_cap'])
    # captions of 7, 6, 5, 4 tokens: 6, 5, 4, 3 targets (the [CLS] is never a target)
    assert base["cap_tokens"].item() == pytest.approx((6 + 5 + 4 + 3) / 4)


@pytest.mark.parametrize('ratio', [0.5, 0.75, 0.9])
def test_masked_patch_count_and_visible_latents(ratio):
    """round-down MAE keep count; the text decoder attends to [CLS] + the visible latents."""
    model = build(tiny_mug_cfg(mask_ratio=ratio))
    data = synthetic_batch(model)
    seen = {}
    handle = model.text_decoder.latent_proj.register_forward_hook(
        lambda m, inp, out: seen.update(latents=inp[0].shape))
    torch.manual_seed(0)
    latent, mask, _ = model.backbone(data['inputs'])
    model(data['inputs'], data['data_samples'], mode='loss')
    handle.remove()
    keep = int(NUM_PATCHES * (1 - ratio))
    assert (mask.sum(1) == NUM_PATCHES - keep).all()
    assert seen['latents'] == (4, 1 + keep, 32)


def test_full_caption_latents_use_an_unmasked_pass():
    model = build(tiny_mug_cfg(caption_latents='full'))
    data = synthetic_batch(model)
    seen = {}
    handle = model.text_decoder.latent_proj.register_forward_hook(
        lambda m, inp, out: seen.update(latents=inp[0]))
    model(data['inputs'], data['data_samples'], mode='loss')
    handle.remove()
    assert seen['latents'].shape == (4, 1 + NUM_PATCHES, 32)
    torch.testing.assert_close(seen['latents'], model.extract_feat(data['inputs'])[-1])


def test_reconstruction_loss_only_on_masked_patches_by_hand():
    """L_rec = sum_p mask_p mean_c (pred - norm(x_p))^2 / sum_p mask_p; unmasked preds ignored."""
    model = build(tiny_mug_cfg())
    data = synthetic_batch(model)
    img = data['inputs']
    torch.manual_seed(1)
    latent, mask, ids_restore = model.backbone(img)
    pred = model.neck(latent, ids_restore)
    loss = model.head.loss(pred, img, mask)
    patches = img.reshape(4, 3, 4, PATCH, 4, PATCH).permute(0, 2, 4, 3, 5, 1).reshape(4, 16, -1)
    target = (patches - patches.mean(-1, keepdim=True)) / (patches.var(-1, keepdim=True) +
                                                           1e-6).sqrt()
    by_hand = (((pred - target)**2).mean(-1) * mask).sum() / mask.sum()
    torch.testing.assert_close(loss, by_hand)
    zeroed = pred * mask.unsqueeze(-1)
    torch.testing.assert_close(model.head.loss(zeroed, img, mask), loss)


# ------------------------------------------------------------------------------ weights / grads


def test_recon_weight_zero_gives_no_pixel_decoder_gradient():
    model = build(tiny_mug_cfg(recon_weight=0.))
    data = synthetic_batch(model)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert losses['loss_rec'].item() == 0 and losses['loss_cap'].item() > 0
    total_loss(losses).backward()
    neck = grads(model, 'neck.')
    assert len(neck) > 5 and all((g == 0).all() for g in neck.values())
    text = grads(model, 'text_decoder.')
    assert all(g.abs().sum() > 0 for k, g in text.items() if 'token_type' not in k)
    assert grads(model, 'backbone.')['backbone.layers.0.attn.qkv.weight'].abs().sum() > 0


def test_every_trainable_parameter_takes_part():
    """DDP without find_unused_parameters: every trainable parameter gets a gradient."""
    model = build(tiny_mug_cfg())
    data = synthetic_batch(model)
    total_loss(model(data['inputs'], data['data_samples'], mode='loss')).backward()
    missing = [k for k, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []


# ------------------------------------------------------------------------------ text decoder


def test_text_decoder_is_causal():
    dec = tiny_decoder()
    latents = torch.randn(2, 5, 32)
    ids = torch.randint(5, VOCAB, (2, 8))
    mask = torch.ones_like(ids)
    logits = dec(latents, ids, mask)
    for t in range(7):
        changed = ids.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 7 - 5) % (VOCAB - 5) + 5
        new = dec(latents, changed, mask)
        torch.testing.assert_close(new[:, :t + 1], logits[:, :t + 1], rtol=0, atol=0)
        assert not torch.allclose(new[:, t + 1], logits[:, t + 1])
    # and the logits do depend on the image latents
    assert not torch.allclose(dec(latents.flip(0), ids, mask), logits)


def test_caption_loss_teacher_forcing_by_hand_and_padding_ignored():
    dec = tiny_decoder()
    latents = torch.randn(3, 5, 32)
    samples = synthetic_samples(3, max_len=9)
    ids = torch.stack([s.input_ids for s in samples])
    mask = torch.stack([s.attention_mask for s in samples])
    nll, count = dec.loss(latents, ids, mask)
    # by hand, one caption at a time without padding: predict token t+1 from tokens <= t
    total, tokens = 0., 0
    for i in range(3):
        n = int(mask[i].sum())
        logits = dec(latents[i:i + 1], ids[i:i + 1, :n - 1], mask[i:i + 1, :n - 1])[0]
        total = total + F.cross_entropy(logits, ids[i, 1:n], reduction='sum')
        tokens += n - 1
    assert count.item() == tokens == 5 + 4 + 3
    torch.testing.assert_close(nll, total)
    # garbage under the padding and extra padding change nothing
    noisy = ids.masked_fill(mask == 0, 17)
    torch.testing.assert_close(dec.loss(latents, noisy, mask)[0], nll)
    longer = F.pad(ids, (0, 4), value=PAD), F.pad(mask, (0, 4), value=0)
    torch.testing.assert_close(dec.loss(latents, *longer)[0], nll)


def test_mug_pads_captions_of_different_lengths():
    """Samples with different L are padded to the batch max; the loss equals the equal-L one."""
    model = build(tiny_mug_cfg())
    data = synthetic_batch(model, num=3)
    short = copy.deepcopy(data['data_samples'])
    for s in short[1:]:  # cut the trailing padding of two samples
        n = int(s.attention_mask.sum())
        s.set_field(s.input_ids[:n].clone(), 'input_ids')
        s.set_field(s.attention_mask[:n].clone(), 'attention_mask')
    torch.manual_seed(3)
    ref = model(data['inputs'], data['data_samples'], mode='loss')
    torch.manual_seed(3)
    got = model(data['inputs'], short, mode='loss')
    torch.testing.assert_close(got['loss_cap'], ref['loss_cap'])


def test_bad_inputs_raise_clear_errors():
    model = build(tiny_mug_cfg())
    data = synthetic_batch(model, num=2)
    del data['data_samples'][1].input_ids
    with pytest.raises(KeyError, match='sample 1 has no `input_ids`'):
        model(data['inputs'], data['data_samples'], mode='loss')
    data = synthetic_batch(model, num=2)
    data['data_samples'][0].input_ids[1] = VOCAB + 3
    with pytest.raises(ValueError, match='vocab_size differ'):
        model(data['inputs'], data['data_samples'], mode='loss')
    with pytest.raises(ValueError, match='caption_latents'):
        MODELS.build(tiny_mug_cfg(caption_latents='both'))
    with pytest.raises(ValueError, match='cap_weight'):
        MODELS.build(tiny_mug_cfg(cap_weight=-1))
    with pytest.raises(ValueError, match='exactly one of'):
        MUGTextDecoder(in_channels=8)


def test_tokenizer_fills_vocab_and_special_ids():
    tok = dict(type='BertTokenizerFast', vocab_file=str(REPO / 'tests/data/bert_vocab/vocab.txt'))
    config = dict(TINY_TEXT, vocab_size=None)
    dec = MUGTextDecoder(in_channels=8, config=config, tokenizer=tok)
    lines = (REPO / 'tests/data/bert_vocab/vocab.txt').read_text().splitlines()
    assert dec.vocab_size == len(lines)
    assert (dec.bos_token_id, dec.eos_token_id,
            dec.pad_token_id) == (lines.index('[CLS]'), lines.index('[SEP]'), lines.index('[PAD]'))
    with pytest.raises(ValueError, match='eos_token_id=7 but the tokenizer'):
        MUGTextDecoder(in_channels=8, config=config, tokenizer=tok, eos_token_id=7)


def test_pretrained_text_decoder_survives_mae_init(tmp_path):
    """The MAE init_cfg (Xavier on every Linear) must not reach a pretrained text decoder."""
    from transformers import AutoConfig, AutoModelForCausalLM
    torch.manual_seed(0)
    hf = AutoModelForCausalLM.from_config(
        AutoConfig.for_model('bert', is_decoder=True, **TINY_TEXT))
    hf.save_pretrained(tmp_path / 'bert')
    saved = {k: v.clone() for k, v in hf.state_dict().items()}
    cfg = tiny_mug_cfg()
    cfg['text_decoder'] = dict(
        type='MUGTextDecoder',
        pretrained=str(tmp_path / 'bert'),
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD)
    model = build(cfg)
    state = model.text_decoder.model.state_dict()
    for k, v in saved.items():
        assert torch.equal(state[k], v), k
    assert any('crossattention' in k for k in state) and not any('crossattention' in k
                                                                 for k in saved)
    # the image branch did get the MAE init (Xavier-uniform bound, LN = 1)
    w = model.neck.decoder_blocks[0].attn.qkv.weight
    assert w.abs().max() <= (6 / sum(w.shape))**.5 + 1e-6
    assert torch.equal(model.neck.decoder_norm.weight, torch.ones(16))


# ------------------------------------------------------------------------------ generation


def _peaky(dec, scale=6.):
    with torch.no_grad():
        for p in dec.parameters():
            p.mul_(scale)
    return dec


@torch.no_grad()
def test_greedy_is_the_stepwise_argmax():
    dec = _peaky(tiny_decoder(seed=1))
    latents = torch.randn(3, 5, 32)
    captions, scores = dec.generate(latents, num_beams=1, max_length=8, return_scores=True)
    for i in range(3):
        ids = [BOS]
        logp = 0.
        while len(ids) < 8:
            logits = dec(latents[i:i + 1], torch.tensor([ids]),
                         torch.ones(1, len(ids), dtype=torch.long))[0, -1]
            allowed = logits.clone()
            allowed[[PAD, BOS]] = -float('inf')
            tok = int(allowed.argmax())
            logp += float(logits.log_softmax(-1)[tok])
            if tok == EOS:
                break
            ids.append(tok)
        assert captions[i] == ids[1:]
        assert scores[i].item() == pytest.approx(logp, abs=1e-4)
        assert PAD not in captions[i] and BOS not in captions[i]


@torch.no_grad()
def test_beam_search_is_exact_with_enough_beams():
    """With length_penalty 0 and more beams than prefixes, beam search = brute-force argmax."""
    vocab = 6
    torch.manual_seed(2)
    dec = MUGTextDecoder(
        in_channels=32,
        config=dict(TINY_TEXT, vocab_size=vocab),
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD)
    dec.init_weights()
    dec = _peaky(dec.eval(), 3.)
    latents = torch.randn(2, 5, 32)
    max_length = 5  # [CLS] + up to 4 generated tokens
    captions, scores = dec.generate(
        latents, num_beams=30, max_length=max_length, length_penalty=0., return_scores=True)
    allowed = [t for t in range(vocab) if t not in (PAD, BOS)]
    for b in range(2):
        best = None
        for n in range(1, max_length):
            for seq in itertools.product(allowed, repeat=n):
                if EOS in seq[:-1] or (n < max_length - 1 and seq[-1] != EOS):
                    continue
                ids = torch.tensor([[BOS, *seq]])
                logp = dec(latents[b:b + 1], ids[:, :-1], torch.ones_like(ids[:, :-1]))
                logp = logp.log_softmax(-1)[0].gather(1, ids[0, 1:, None]).sum().item()
                if best is None or logp > best[0]:
                    best = (logp, [t for t in seq if t != EOS])
        assert captions[b] == best[1]
        assert scores[b].item() == pytest.approx(best[0], abs=1e-4)
    greedy = dec.generate(latents, num_beams=1, max_length=max_length)
    assert dec.generate(latents, num_beams=1, max_length=max_length) == greedy


def test_model_generates_from_the_masked_view_or_all_patches():
    model = build(tiny_mug_cfg()).eval()
    data = synthetic_batch(model, num=2)
    seen = []
    handle = model.text_decoder.latent_proj.register_forward_hook(
        lambda m, inp, out: seen.append(inp[0].shape[1]))
    torch.manual_seed(0)
    a = model.generate_captions(data['inputs'], max_length=6)
    torch.manual_seed(0)
    b = model.generate_captions(data['inputs'], max_length=6)
    model.generate_captions(data['inputs'], mask_ratio=0., max_length=6)
    model.generate_captions(data['inputs'], num_beams=3, max_length=6)
    handle.remove()
    assert a == b  # seeded masks: reproducible
    assert seen == [1 + 4, 1 + 4, 1 + NUM_PATCHES, 1 + 4]
    assert model.backbone.mask_ratio == 0.75


def test_reconstruct_unnormalises_the_prediction():
    model = build(tiny_mug_cfg()).eval()
    data = synthetic_batch(model, num=2)
    torch.manual_seed(4)
    out = model.reconstruct(data['inputs'])
    torch.manual_seed(4)
    latent, mask, ids_restore = model.backbone(data['inputs'])
    pred = model.neck(latent, ids_restore)
    assert torch.equal(out['patch_mask'], mask)
    assert out['pred'].shape == data['inputs'].shape and out['mask'].shape == (2, 1, IMG, IMG)
    # patch (0, 0) of image 0: mask pixel value and pred = norm-pix pred * std + mean
    patch = data['inputs'][0, :, :PATCH, :PATCH].permute(1, 2, 0).reshape(-1)
    expect = pred[0, 0] * (patch.var() + 1e-6).sqrt() + patch.mean()
    got = out['pred'][0, :, :PATCH, :PATCH].permute(1, 2, 0).reshape(-1)
    torch.testing.assert_close(got, expect)
    assert (out['mask'][0, 0, :PATCH, :PATCH] == mask[0, 0]).all()
    full = model.reconstruct(data['inputs'], mask_ratio=0.)
    assert full['patch_mask'].sum() == 0


# ------------------------------------------------------------------------------ transfer


@pytest.fixture
def mug_checkpoint(tmp_path):
    """A MUG training-style checkpoint with non-trivial weights everywhere."""
    model = build(tiny_mug_cfg())
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    path = tmp_path / 'mug.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, path)
    return model, path


def _reference_features(model, x, layer):
    """Patch-token features (B, C, h, w) after ``layer`` of the MUG encoder, unmasked."""
    from mmpretrain.models import VisionTransformer
    vit = VisionTransformer(
        arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=IMG,
        patch_size=PATCH,
        out_type='featmap',
        out_indices=[layer])
    vit.load_state_dict(model.backbone.state_dict(), strict=True)
    vit.eval()  # mmpretrain backbones' train() returns None: no chaining
    return vit(x)[0]


def test_encoder_loads_into_mmpretrain_vit_without_missing_keys(mug_checkpoint, tmp_path):
    from mmengine.runner import load_checkpoint
    from mmpretrain.models import VisionTransformer

    from mmvisrep.utils.weight_conversion import extract_weights, save_weights
    model, path = mug_checkpoint
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
    x = torch.randn(2, 3, IMG, IMG)
    model.eval()
    ref = model.backbone(x, mask=None)[-1][:, 1:]  # MAEViT unmasked, after final norm

    # 1) fine-tune configs: init_cfg Pretrained with prefix 'backbone.' on the raw checkpoint
    vit = VisionTransformer(
        arch=arch,
        img_size=IMG,
        patch_size=PATCH,
        out_type='raw',
        init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    vit.init_weights()
    vit.eval()
    torch.testing.assert_close(vit(x)[0][:, 1:], ref)

    # 2) the exported file (--target mmpretrain) loads strictly: no missing, no unexpected keys
    out = tmp_path / 'mug_mmpretrain.pth'
    save_weights(extract_weights(str(path), 'mmpretrain'), str(out), 'mmpretrain')
    strict = VisionTransformer(arch=arch, img_size=IMG, patch_size=PATCH, out_type='raw')
    load_checkpoint(strict, str(out), revise_keys=[(r'^backbone\.', '')], strict=True)
    strict.eval()
    torch.testing.assert_close(strict(x)[0][:, 1:], ref)
    # the text decoder and the pixel decoder stay behind
    assert all(k.startswith('backbone.') for k in torch.load(out)['state_dict'])


def test_encoder_converts_to_mmseg_vit(mug_checkpoint, tmp_path):
    from mmseg.models.backbones import VisionTransformer as SegViT

    from mmvisrep.utils.weight_conversion import extract_weights, save_weights
    model, path = mug_checkpoint
    out = tmp_path / 'mug_mmseg.pth'
    save_weights(extract_weights(str(path), 'mmseg'), str(out), 'mmseg')
    seg = SegViT(
        img_size=IMG,
        patch_size=PATCH,
        embed_dims=32,
        num_layers=2,
        num_heads=2,
        mlp_ratio=2,
        out_indices=[0, 1],
        final_norm=True,
        norm_cfg=dict(type='LN', eps=1e-6))
    seg.load_state_dict(torch.load(out)['state_dict'], strict=True)
    x = torch.randn(2, 3, IMG, IMG)
    seg.eval()
    got = seg(x)
    torch.testing.assert_close(got[0], _reference_features(model, x, 0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[1], _reference_features(model, x, 1), rtol=1e-4, atol=1e-5)


def test_encoder_keys_fit_mmseg_mae_backbone(mug_checkpoint, tmp_path):
    """mmseg's ``MAE`` (BEiT-style) backbone takes the mmpretrain ViT names as they are.

    Its ``init_weights`` loads bare keys with ``strict=False``; what it lacks from a MUG
    encoder are only identity-valued extras (layer scales of 1 with ``init_values=1.0``, a zero
    relative-position table and its index buffer); the final norm is unused by that recipe.
    ``extract_weights.py --target mmseg-mae`` writes those extras too (tests/test_tools/
    test_model_converters.py); this test checks the raw key compatibility it builds on.
    """
    from mmseg.models.backbones import MAE as SegMAE
    model, _ = mug_checkpoint
    bare = tmp_path / 'mug_mmseg_mae.pth'
    torch.save({'state_dict': model.backbone.state_dict()}, bare)
    seg = SegMAE(
        img_size=IMG,
        patch_size=PATCH,
        embed_dims=32,
        num_layers=2,
        num_heads=2,
        mlp_ratio=2,
        init_values=1.0,
        out_indices=[0, 1],
        norm_cfg=dict(type='LN', eps=1e-6),
        init_cfg=dict(type='Pretrained', checkpoint=str(bare)))
    missing, unexpected = seg.load_state_dict(model.backbone.state_dict(), strict=False)
    identity = {'gamma_1', 'gamma_2', 'relative_position_bias_table', 'relative_position_index'}
    assert {k.rsplit('.', 1)[-1] for k in missing} == identity
    assert sorted(unexpected) == ['ln1.bias', 'ln1.weight']
    seg.init_weights()  # the downstream path: Pretrained -> BEiT.init_weights
    x = torch.randn(2, 3, IMG, IMG)
    seg.eval()
    got = seg(x)
    torch.testing.assert_close(got[0], _reference_features(model, x, 0), rtol=1e-4, atol=1e-5)
