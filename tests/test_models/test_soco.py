"""SoCo model: loss by hand, id correspondence across levels, pooling, EMA schedule, BYOL parity,
forward/backward of the FPN, SoCo* and C4 variants, and mmdet-compatible checkpoint keys."""
import copy
import math

import pytest
import torch
import torchvision
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope, init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmvisrep  # noqa: F401
from mmvisrep.models.losses import SoCoCorrespondenceLoss, soco_correspondence
from mmvisrep.models.utils import multilevel_roi_align, normalized_boxes_to_rois

init_default_scope('mmpretrain')


def _mlp(in_channels, hid, out, with_avg_pool=False, with_last_bias=True):
    return dict(
        type='NonLinearNeck',
        in_channels=in_channels,
        hid_channels=hid,
        out_channels=out,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_last_bias=with_last_bias,
        with_avg_pool=with_avg_pool,
        norm_cfg=dict(type='BN1d'))


def _tiny_fpn_cfg():
    """ResNet-18 + 16-channel FPN + 4conv1fc head (fc 32) + 32-16 MLPs."""
    return dict(
        type='SoCo',
        backbone=dict(
            type='ResNet',
            depth=18,
            out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='BN'),
            zero_init_residual=True),
        neck=dict(
            type='mmdet.FPN',
            in_channels=[64, 128, 256, 512],
            out_channels=16,
            num_outs=4,
            start_level=0,
            add_extra_convs=False,
            norm_cfg=dict(type='BN'),
            init_cfg=None),
        roi_head=dict(
            type='SoCoRoIHead',
            bbox_head=dict(
                type='SoCoSharedConvFCBBoxHead',
                in_channels=16,
                conv_out_channels=16,
                roi_feat_size=7,
                fc_out_channels=32,
                norm_cfg=dict(type='BN'))),
        projector=_mlp(32, 32, 16),
        predictor=_mlp(16, 32, 16))


def _tiny_c4_cfg():
    return dict(
        type='SoCo',
        backbone=dict(
            type='ResNet',
            depth=18,
            out_indices=(3, ),
            norm_cfg=dict(type='BN'),
            zero_init_residual=True),
        res5_roi_head=True,
        roi_align=dict(output_size=14),
        projector=_mlp(512, 32, 16),
        predictor=_mlp(16, 32, 16))


def _samples(num_imgs, num_pairs, num_boxes, num_levels, seed=0):
    """Data samples in S2's contract: boxes (pairs, 2, K, 4) in [0, 1], level-major ids."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(num_imgs):
        xy = torch.rand(num_pairs, 2, num_boxes, 2, generator=g) * 0.5
        wh = torch.rand(num_pairs, 2, num_boxes, 2, generator=g) * 0.4 + 0.1
        boxes = torch.cat([xy, xy + wh], dim=-1)
        ids = torch.empty(num_pairs, 2, num_levels * num_boxes, dtype=torch.long)
        ids[:, 0] = -1
        for p in range(num_pairs):
            ids[p, 1] = -(p + 2)
            for side in range(2):
                levels = torch.randint(0, num_levels, (num_boxes, ), generator=g)
                for k in range(num_boxes):
                    ids[p, side, levels[k] * num_boxes + k] = k + 1
        sample = DataSample()
        sample.set_field(boxes.numpy(), 'soco_boxes')
        sample.set_field(ids.numpy(), 'soco_ids')
        samples.append(sample)
    return samples


@pytest.fixture(autouse=True)
def _max_iters():
    MessageHub.get_current_instance().update_info('max_iters', 10)


# --------------------------------------------------------------------------- loss and pooling
def test_loss_hand_computed():
    """q = [e1, e2], k = [e1, e1], C = I: matched sims 1 and 0 -> image 1 gives -2 * 1/2;
    image 2 has no matches -> 0; batch mean -0.5."""
    q = torch.tensor([[[1., 0.], [0., 1.]], [[1., 0.], [0., 1.]]])
    k = torch.tensor([[[1., 0.], [1., 0.]], [[1., 0.], [1., 0.]]])
    corr = torch.tensor([[[1., 0.], [0., 1.]], [[0., 0.], [0., 0.]]])
    loss = SoCoCorrespondenceLoss()(q * 3., k * 0.5, corr)  # scale-invariant (normalised)
    assert loss.item() == pytest.approx(-2 * 0.5 * (1. / (2 + 1e-6)), abs=1e-7)
    # duplicates count twice: C = all ones -> sims (1 + 1 + 0 + 0) / 4
    loss = SoCoCorrespondenceLoss()(q[:1], k[:1], torch.ones(1, 2, 2))
    assert loss.item() == pytest.approx(-2 * 2. / (4 + 1e-6), abs=1e-7)


def test_correspondence_matches_ids_across_levels():
    """K = 2, 2 levels: box 1 at level 1 in view a and level 0 in view b -> C[2, 0] = 1."""
    ids_a = torch.tensor([[-1, 2, 1, -1]])  # slot l*K + k: box2 @ L0, box1 @ L1
    ids_b = torch.tensor([[1, 2, -2, -2]])  # box1 @ L0, box2 @ L0
    corr = soco_correspondence(ids_a, ids_b)
    expected = torch.zeros(1, 4, 4)
    expected[0, 2, 0] = 1  # box 1: a's L1 slot <-> b's L0 slot
    expected[0, 1, 1] = 1  # box 2: a's L0 slot <-> b's L0 slot
    assert torch.equal(corr, expected)
    # unused slots (-1 vs -2) never match, even against each other within a view's sentinel
    assert soco_correspondence(torch.tensor([[-1, -1]]), torch.tensor([[-2, -2]])).sum() == 0


def test_rois_scaled_by_feature_size_and_equal_torchvision():
    boxes = torch.tensor([[[0., 0., 1., 1.], [0.25, 0.5, 0.75, 1.]]])
    rois = normalized_boxes_to_rois(boxes, height=8, width=4)
    assert torch.equal(rois, torch.tensor([[0, 0, 0, 4, 8], [0, 1, 4, 3, 8.]]))
    feat = torch.randn(2, 3, 9, 11)
    boxes = torch.rand(2, 3, 4).sort(-1).values  # x1 <= y1 <= x2 <= y2, valid boxes
    ours = multilevel_roi_align([feat], boxes)[0]
    # the official op: torchvision roi_align, spatial_scale 1, sampling -1, aligned
    official = torchvision.ops.roi_align(feat, normalized_boxes_to_rois(boxes, 9, 11), (7, 7), 1.,
                                         -1, True)
    assert torch.allclose(ours, official, atol=1e-6)


def test_level_pooling_order_follows_ids():
    """Level l filled with value l+1: the slot that ids assign to level l carries l+1."""
    num_boxes = 3
    feats = [torch.full((1, 2, s, s), float(lvl + 1)) for lvl, s in enumerate((16, 8, 4, 2))]
    boxes = torch.tensor([[[0., 0., .5, .5], [.2, .2, 1., 1.], [0., 0., 1., 1.]]])
    pooled = multilevel_roi_align(feats, boxes)
    slots = torch.cat([p.mean((1, 2, 3)).reshape(1, num_boxes) for p in pooled], dim=1)
    ids_a = torch.full((1, 4 * num_boxes), -1)
    ids_b = torch.full((1, 4 * num_boxes), -2)
    ids_a[0, 2 * num_boxes + 1] = 7  # box 1 of view a assigned to P4 (level 2)
    ids_b[0, 0 * num_boxes + 1] = 7  # the same proposal in view b at P2 (level 0)
    corr = soco_correspondence(ids_a, ids_b)[0]
    i, j = corr.nonzero()[0].tolist()
    assert slots[0, i].item() == pytest.approx(3.)
    assert slots[0, j].item() == pytest.approx(1.)


# --------------------------------------------------------------------------- EMA
def test_ema_follows_cosine_tau_schedule():
    """target <- tau_k target + (1 - tau_k) online, tau_k = 1 - 0.01 (cos(pi k / K) + 1) / 2."""
    max_iters = 4
    MessageHub.get_current_instance().update_info('max_iters', max_iters)
    model = MODELS.build(_tiny_c4_cfg())
    online = model._online_nets()
    probe = dict(online.named_parameters())['projector.fc0.weight']
    model.target.update_parameters(online)  # step 0 copies the online weights
    target = dict(model.target.module.named_parameters())['projector.fc0.weight']
    assert torch.equal(target, probe)
    for k in range(1, 4):
        before = target.detach().clone()
        with torch.no_grad():
            for p in online.parameters():
                p.add_(0.1)
        model.target.update_parameters(online)
        tau = 1 - 0.01 * (math.cos(math.pi * k / max_iters) + 1) / 2
        assert torch.allclose(target, tau * before + (1 - tau) * probe, atol=1e-6)
    assert not any(p.requires_grad for p in model.target.parameters())
    assert 'predictor' not in dict(model.target.module.named_children())


# --------------------------------------------------------------------------- BYOL parity
def test_whole_image_box_equals_byol():
    """K = 1 whole-image box, no FPN, no box head: SoCo's loss and gradients equal mmpretrain's
    BYOL on the same weights and inputs, over two iterations (so the EMA update is covered).

    At 112 px the ResNet's C4 (``out_indices=(2, )``) is 7x7, where an aligned 7x7 RoIAlign of
    the whole image samples each pixel once, so its mean is the global average pooling BYOL
    uses.
    """
    torch.manual_seed(0)
    backbone = dict(
        type='ResNet',
        depth=18,
        out_indices=(2, ),
        norm_cfg=dict(type='BN'),
        zero_init_residual=False)
    byol = MODELS.build(
        dict(
            type='BYOL',
            base_momentum=0.01,
            backbone=backbone,
            neck=_mlp(256, 64, 32, with_avg_pool=True, with_last_bias=False),
            head=dict(
                type='LatentPredictHead',
                loss=dict(type='CosineSimilarityLoss'),
                predictor=_mlp(32, 64, 32, with_last_bias=False))))
    soco = MODELS.build(
        dict(
            type='SoCo',
            base_momentum=0.01,
            backbone=backbone,
            projector=_mlp(256, 64, 32, with_last_bias=False),
            predictor=_mlp(32, 64, 32, with_last_bias=False)))
    byol.init_weights()
    src = byol.state_dict()
    soco_state = {}
    for key in soco.state_dict():
        if key.startswith('target.'):
            continue
        byol_key = key.replace('projector.', 'neck.').replace('predictor.', 'head.predictor.')
        soco_state[key] = src[byol_key]
    missing, _ = soco.load_state_dict(soco_state, strict=False)
    assert all(k.startswith('target.') for k in missing)

    samples = []
    for _ in range(8):
        s = DataSample()
        s.set_field(torch.tensor([[[[0., 0., 1., 1.]], [[0., 0., 1., 1.]]]]).numpy(), 'soco_boxes')
        s.set_field(torch.ones(1, 2, 1, dtype=torch.long).numpy(), 'soco_ids')
        samples.append(s)

    def byol_key(key):
        return key.replace('projector.', 'neck.').replace('predictor.', 'head.predictor.')

    opt_b = torch.optim.SGD(byol.parameters(), lr=0.1)
    opt_s = torch.optim.SGD(soco.parameters(), lr=0.1)
    for it in range(2):
        inputs = [torch.randn(8, 3, 112, 112), torch.randn(8, 3, 112, 112)]
        loss_b = byol.loss(inputs, samples)['loss']
        loss_s = soco.loss(inputs, samples)['loss']
        opt_b.zero_grad()
        opt_s.zero_grad()
        loss_b.backward()
        loss_s.backward()
        # SoCo divides by (matches + 1e-6): relative difference 1e-6
        assert loss_s.item() == pytest.approx(loss_b.item(), rel=1e-5, abs=1e-6)
        byol_params = dict(byol.named_parameters())
        for key, p in soco.named_parameters():
            if key.startswith('target.'):
                continue
            ref = byol_params[byol_key(key)].grad
            if ref is None:  # layer4 is unused with out_indices=(2, ), in both models
                assert p.grad is None, key
                continue
            # biases feeding a BN have ~0 true gradient: compare on each tensor's scale
            tol = 1e-4 * ref.abs().max().item() + 1e-6
            assert (p.grad - ref).abs().max().item() <= tol, (it, key)
        opt_b.step()
        opt_s.step()
        # ReLU/max-pool ties make iterates drift apart by float noise; re-sync the online
        # weights so the second iteration again compares identical online nets, while the
        # targets carry each model's own EMA update
        with torch.no_grad():
            for key, p in soco.named_parameters():
                if not key.startswith('target.'):
                    p.copy_(byol_params[byol_key(key)])
        target_b = dict(byol.target_net.module.named_parameters())
        for key, p in soco.target.module.named_parameters():
            ref = target_b[key.replace('backbone.', '0.').replace('projector.', '1.')]
            assert torch.allclose(p, ref, atol=1e-6), key


# --------------------------------------------------------------------------- variants
@pytest.mark.parametrize('variant, view_sizes', [('fpn', (64, 64, 32)),
                                                 ('fpn_star', (64, 64, 48, 32)), ('c4', (64, 64))])
def test_forward_backward_variants(variant, view_sizes):
    """Loss and gradients for SoCo-FPN (2 pairs), SoCo* (3 pairs) and SoCo-C4 (1 pair)."""
    torch.manual_seed(0)
    cfg = _tiny_c4_cfg() if variant == 'c4' else _tiny_fpn_cfg()
    model = MODELS.build(cfg)
    model.init_weights()
    num_levels = 1 if variant == 'c4' else 4
    num_pairs = len(view_sizes) - 1
    num_imgs, num_boxes = 2, 4
    samples = _samples(num_imgs, num_pairs, num_boxes, num_levels)
    inputs = [torch.randn(num_imgs, 3, s, s) for s in view_sizes]

    boxes = torch.stack([torch.as_tensor(s.soco_boxes) for s in samples])
    embs = model._embed_pairs(model._online_nets(), inputs, boxes, predict=True)
    assert len(embs) == num_pairs
    for emb_a, emb_b in embs:
        assert emb_a.shape == emb_b.shape == (num_imgs, num_levels * num_boxes, 16)

    losses = model.loss(inputs, samples)
    loss = losses['loss']
    # each direction is -2 * (mean cosine) in [-2, 2]; two directions per pair
    assert -4 * num_pairs <= loss.item() <= 4 * num_pairs
    assert losses['pos_pairs'].item() >= 1
    loss.backward()
    groups = ['backbone.layer1', 'backbone.layer4', 'projector', 'predictor']
    if variant != 'c4':
        groups += ['neck', 'roi_head.bbox_head.shared_convs', 'roi_head.bbox_head.shared_fcs']
    for prefix in groups:
        grads = [p.grad for k, p in model.named_parameters() if k.startswith(prefix)]
        assert grads and all(g is not None for g in grads), prefix
        assert sum(g.abs().sum() for g in grads) > 0, prefix
    assert all(p.grad is None for p in model.target.parameters())


def test_c4_pools_14x14_and_runs_res5_on_rois():
    model = MODELS.build(_tiny_c4_cfg())
    feats = model._feature_levels(model._online_nets(), torch.randn(2, 3, 64, 64))
    assert len(feats) == 1 and feats[0].shape == (2, 256, 4, 4)  # C4, stride 16
    rois = multilevel_roi_align(feats,
                                torch.rand(2, 3, 4).sort(-1).values, **model.roi_align_cfg)[0]
    assert rois.shape == (6, 256, 14, 14)
    assert model.backbone.layer4(rois).shape == (6, 512, 7, 7)
    plain = MODELS.build(dict(type='ResNet', depth=18))
    assert [k for k in model.state_dict() if k.startswith('backbone.')] == \
        ['backbone.' + k for k in plain.state_dict()]


def test_bad_samples_give_clear_errors():
    model = MODELS.build(_tiny_fpn_cfg())
    inputs = [torch.randn(2, 3, 64, 64)] * 3
    with pytest.raises(KeyError, match='soco_boxes'):
        model.loss(inputs, [DataSample(), DataSample()])
    with pytest.raises(ValueError, match='views'):
        model.loss(inputs[:2], _samples(2, 2, 4, 4))
    with pytest.raises(ValueError, match='aware_range'):
        model.loss(inputs, _samples(2, 2, 4, 3))  # ids for 3 levels, the FPN has 4


# --------------------------------------------------------------------------- checkpoint keys
def test_roi_head_keys_equal_mmdet_shared4conv1fc():
    """``roi_head.bbox_head.*`` = mmdet Shared4Conv1FCBBoxHead's shared layers, and loading them
    into mmdet's head reproduces the embedding."""
    torch.manual_seed(0)
    model = MODELS.build(_tiny_fpn_cfg())
    model.init_weights()
    ours = {
        k[len('roi_head.bbox_head.'):]: v
        for k, v in model.state_dict().items() if k.startswith('roi_head.bbox_head.')
    }
    with DefaultScope.overwrite_default_scope('mmdet'):
        mmdet_head = MMDET_MODELS.build(
            dict(
                type='Shared4Conv1FCBBoxHead',
                in_channels=16,
                conv_out_channels=16,
                roi_feat_size=7,
                fc_out_channels=32,
                norm_cfg=dict(type='BN'),
                num_classes=3))
    shared = {k for k in mmdet_head.state_dict() if k.startswith(('shared_convs.', 'shared_fcs.'))}
    assert set(ours) == shared
    assert 'shared_convs.3.bn.running_var' in ours and 'shared_fcs.0.weight' in ours
    missing, unexpected = mmdet_head.load_state_dict(ours, strict=False)
    assert not unexpected
    assert sorted({k.split('.')[0] for k in missing}) == ['fc_cls', 'fc_reg']
    model.eval()
    mmdet_head.eval()
    x = torch.randn(5, 16, 7, 7)
    ref = x
    for conv in mmdet_head.shared_convs:
        ref = conv(ref)
    ref = mmdet_head.relu(mmdet_head.shared_fcs[0](ref.flatten(1)))
    assert torch.allclose(model.roi_head(x), ref, atol=1e-5)


def test_neck_and_backbone_keys_load_into_mmdet_mask_rcnn_parts():
    """backbone.* and neck.* load into mmdet's ResNet / FPN(norm BN) with nothing left over."""
    model = MODELS.build(_tiny_fpn_cfg())
    with DefaultScope.overwrite_default_scope('mmdet'):
        fpn = MMDET_MODELS.build(copy.deepcopy(_tiny_fpn_cfg()['neck']) | dict(type='FPN'))
        resnet = MMDET_MODELS.build(dict(type='ResNet', depth=18, norm_cfg=dict(type='BN')))
    state = model.state_dict()
    for prefix, module in (('neck.', fpn), ('backbone.', resnet)):
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        result = module.load_state_dict(part, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
