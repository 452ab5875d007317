"""ORL (stage 3) and the ORL configs: the loss is three mmpretrain BYOL losses (values and
gradients), the paper recipe (stage 1 = stage 3 optimisation, schedule, EMA), the four defects
of the unmerged mmselfsup port are absent, and the toy stage-1 config trains via tools/train.py.
"""
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmvisrep  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
ORL_CONFIGS = sorted((REPO / 'configs/orl').rglob('*.py'))
STAGE1 = REPO / 'configs/orl/stage1/byol_resnet50_8xb64-coslr-800e_coco.py'
STAGE1_PLUS = REPO / 'configs/orl/stage1/byol_resnet50_8xb64-coslr-800e_coco-plus.py'
STAGE3 = REPO / 'configs/orl/stage3/orl_resnet50_8xb64-coslr-800e_coco.py'
STAGE3_PLUS = REPO / 'configs/orl/stage3/orl_resnet50_8xb64-coslr-800e_coco-plus.py'
TOY1 = REPO / 'configs/orl/stage1/byol_resnet18_1xb32-toy-coslr-10e_toyscenes.py'
TOY3 = REPO / 'configs/orl/stage3/orl_resnet18_1xb32-toy-coslr-10e_toyscenes.py'
PAPER = [STAGE1, STAGE1_PLUS, STAGE3, STAGE3_PLUS]

init_default_scope('mmpretrain')


def _toy_model_cfg(path=TOY3, hid=32):
    cfg = Config.fromfile(str(path))
    cfg.model.neck.hid_channels = hid
    cfg.model.head.predictor.hid_channels = hid
    cfg.model.data_preprocessor = cfg.data_preprocessor
    return cfg.model


def _views(batch=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, 3, s, s, generator=g) for s in (64, 64, 32, 32, 32, 32)]


def _set_max_iters(n=10):
    MessageHub.get_current_instance().update_info('max_iters', n)


def _byol_twin(orl, head_key):
    """An mmpretrain BYOL with ORL's backbone, neck, target and the ``head_key`` head."""
    cfg = _toy_model_cfg()
    for key in ('type', 'global_loss_weight', 'intra_loss_weight', 'inter_loss_weight',
                'end_momentum', 'intra_head', 'inter_head'):
        cfg.pop(key)
    byol = MODELS.build(dict(cfg, type='BYOL'))
    state = {}
    for k, v in orl.state_dict().items():
        if k.startswith(head_key + '.'):
            state['head.' + k[len(head_key) + 1:]] = v.clone()
        elif k.split('.')[0] in ('backbone', 'neck', 'target_net'):
            state[k] = v.clone()
    byol.load_state_dict(state, strict=True)
    byol.target_net.end_momentum = orl.target_net.end_momentum
    return byol


def test_loss_equals_three_byol_losses_values_and_gradients():
    torch.manual_seed(0)
    _set_max_iters(10)
    orl = MODELS.build(_toy_model_cfg())
    orl.init_weights()
    orl.train()
    # one step so that the target (copied at the first update) differs from the online net
    orl.loss(_views(seed=1), [DataSample() for _ in range(4)])
    with torch.no_grad():
        for p in orl.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    assert int(orl.target_net.steps) == 1
    twins = {k: _byol_twin(orl, k) for k in ('head', 'intra_head', 'inter_head')}
    views = _views(seed=2)
    losses = orl.loss(views, [])
    assert set(losses) == {'loss_global', 'loss_intra', 'loss_inter'}
    sum(losses.values()).backward()
    for name, key, pair in (('loss_global', 'head', (0, 1)), ('loss_intra', 'intra_head', (2, 3)),
                            ('loss_inter', 'inter_head', (4, 5))):
        twin = twins[key]
        ref = twin.loss([views[pair[0]], views[pair[1]]], [])['loss']
        torch.testing.assert_close(losses[name], ref, rtol=1e-6, atol=1e-6)
        ref.backward()
        # the twin's EMA update (same steps, same online weights) gives ORL's target weights
        # (BN running statistics differ: ORL's target also saw the other four views)
        for (k, a), b in zip(orl.target_net.named_parameters(), twin.target_net.parameters()):
            torch.testing.assert_close(a, b, msg=k)
        assert int(twin.target_net.steps) == int(orl.target_net.steps) == 2
        for p_orl, p_twin in zip(getattr(orl, key).parameters(), twin.head.parameters()):
            torch.testing.assert_close(p_orl.grad, p_twin.grad, rtol=1e-5, atol=1e-7)
    # the shared backbone and neck get the sum of the three BYOL gradients
    for name, p in list(orl.backbone.named_parameters()) + list(orl.neck.named_parameters()):
        owner = 'backbone' if name in dict(orl.backbone.named_parameters()) else 'neck'
        grads = [dict(getattr(t, owner).named_parameters())[name].grad for t in twins.values()]
        torch.testing.assert_close(p.grad, sum(grads), rtol=1e-4, atol=1e-6, msg=name)
    assert orl.backbone.conv1.weight.grad.abs().sum() > 0


def test_loss_weights_and_input_check():
    torch.manual_seed(0)
    _set_max_iters(10)
    cfg = _toy_model_cfg()
    orl = MODELS.build(cfg)
    orl.init_weights()
    weighted = MODELS.build(
        dict(cfg, global_loss_weight=2., intra_loss_weight=0.5, inter_loss_weight=0.))
    weighted.load_state_dict(orl.state_dict())
    views = _views(seed=3)
    a, b = orl.loss(views, []), weighted.loss(views, [])
    torch.testing.assert_close(b['loss_global'], 2 * a['loss_global'])
    torch.testing.assert_close(b['loss_intra'], 0.5 * a['loss_intra'])
    assert b['loss_inter'].item() == 0.
    # each term is 2 * (-cos - cos), i.e. the official -2 cos per direction: in [-4, 4]
    assert all(-4 <= v.item() <= 4 for v in a.values())
    # three separate predictors
    assert orl.head is not orl.intra_head and orl.intra_head is not orl.inter_head
    assert not torch.equal(orl.head.predictor.fc0.weight, orl.intra_head.predictor.fc0.weight)
    with pytest.raises(ValueError, match='six input views'):
        orl.loss(views[:2], [])


def test_ema_convention_is_tau_099_to_1():
    """Defect 4 of the mmselfsup port: mmpretrain's CosineEMA takes 1 - tau. At iteration k
    of K the target moves by m = 0.01 * (cos(pi k / K) + 1) / 2 towards the online weights."""
    _set_max_iters(100)
    orl = MODELS.build(_toy_model_cfg())
    orl.init_weights()
    online = torch.nn.Sequential(orl.backbone, orl.neck)
    orl.target_net.update_parameters(online)  # step 0 copies
    with torch.no_grad():
        orl.backbone.conv1.weight.add_(1.)
    before = orl.target_net.module[0].conv1.weight.clone()
    for k in (1, 50):
        orl.target_net.steps.fill_(k)
        before = orl.target_net.module[0].conv1.weight.clone()
        orl.target_net.update_parameters(online)
        m = 0.01 * (math.cos(math.pi * k / 100) + 1) / 2
        torch.testing.assert_close(orl.target_net.module[0].conv1.weight,
                                   (1 - m) * before + m * orl.backbone.conv1.weight)
    for path in PAPER + [TOY1, TOY3]:
        cfg = Config.fromfile(str(path))
        assert cfg.model.base_momentum == 0.01, path.name
        assert cfg.model.get('end_momentum', 0.) == 0., path.name


def test_start_from_stage1_checkpoint(tmp_path):
    """init_cfg=Pretrained loads a stage-1 BYOL into backbone/neck/global head and restarts
    the EMA, so that the first update copies the online net into the target."""
    torch.manual_seed(0)
    _set_max_iters(10)
    byol_cfg = _toy_model_cfg(TOY1)
    byol = MODELS.build(byol_cfg)
    byol.init_weights()
    byol.loss(_views(seed=4)[:2], [])
    byol.loss(_views(seed=5)[:2], [])
    assert int(byol.target_net.steps) == 2
    ckpt = tmp_path / 'stage1.pth'
    torch.save(dict(state_dict=byol.state_dict()), ckpt)
    cfg = _toy_model_cfg()
    orl = MODELS.build(dict(cfg, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt))))
    orl.init_weights()
    for key in ('backbone.conv1.weight', 'neck.fc0.weight', 'head.predictor.fc1.weight'):
        torch.testing.assert_close(orl.state_dict()[key], byol.state_dict()[key])
    assert int(orl.target_net.steps) == 0
    assert not torch.equal(orl.intra_head.predictor.fc0.weight, byol.head.predictor.fc0.weight)
    orl.loss(_views(seed=6), [])
    torch.testing.assert_close(orl.target_net.module[0].conv1.weight, orl.backbone.conv1.weight)


# --------------------------------------------------------------------------- configs
def _pipelines(cfg):
    dataset = cfg.train_dataloader.dataset
    pipeline = dataset.pipeline if 'pipeline' in dataset else dataset.datasets[0].pipeline
    return [t for t in pipeline if t['type'] == 'MultiView'][0]['transforms']


def _walk(transforms):
    for t in transforms:
        yield t
        if 'transforms' in t:
            yield from _walk(t['transforms'])


def _prob(pipeline, type_):
    return [t['prob'] for t in pipeline if t['type'] == type_][0]


@pytest.mark.parametrize('path', ORL_CONFIGS, ids=lambda p: p.stem)
def test_no_mmselfsup_port_defects(path):
    """Defects 1-3 of open-mmlab/mmselfsup#668 in every ORL config (4 is tested above):
    1. blur p 1.0 on (patch) view 1, 0.1 on (patch) view 2; solarize 0 / 0.2;
    2. bilinear (not bicubic) crops and patch resizes;
    3. 0-255 mean/std on 0-255 images, RGB conversion."""
    cfg = Config.fromfile(str(path))
    views = _pipelines(cfg)
    stage3 = len(views) == 6
    assert len(views) in (2, 6)
    first, second = (views[0], views[2], views[4]) if stage3 else views[:1], \
        (views[1], views[3], views[5]) if stage3 else views[1:]
    for p in first:
        assert _prob(p, 'GaussianBlur') == 1. and _prob(p, 'Solarize') == 0.
    for p in second:
        assert _prob(p, 'GaussianBlur') == 0.1 and _prob(p, 'Solarize') == 0.2
    if stage3:
        boxes = [(p[0]['box_key'], p[0]['img_key']) for p in views[2:]]
        assert boxes == [('ibox1', 'img'), ('ibox2', 'img'), ('kbox1', 'img'),
                         ('kbox2', 'knn_img')]
    resizers = [
        t for p in views for t in _walk(p) if t['type'] in ('RandomResizedCrop', 'ORLCropPatch')
    ]
    assert len(resizers) == len(views)
    for t in resizers:
        assert t['interpolation'] == 'bilinear' and t['backend'] == 'pillow'
    rrc = [t for t in resizers if t['type'] == 'RandomResizedCrop']
    assert all(tuple(t['crop_ratio_range']) == (0.08, 1.) for t in rrc)
    prep = cfg.data_preprocessor
    assert prep.type == 'SelfSupDataPreprocessor' and prep.to_rgb
    assert prep.mean == [123.675, 116.28, 103.53] and prep.std == [58.395, 57.12, 57.375]
    pipeline = cfg.train_dataloader.dataset.get('pipeline') or \
        cfg.train_dataloader.dataset.datasets[0].pipeline
    assert pipeline[0] == dict(type='LoadImageFromFile')  # uint8 0-255, no to_float32 scaling


@pytest.mark.parametrize('path', PAPER, ids=lambda p: p.stem)
def test_paper_recipe(path):
    """SGD lr 0.4 / batch 8 x 64, wd 1e-4, fp16, SyncBN, 2048-4096-256 no-bias MLPs, 800 ep."""
    cfg = Config.fromfile(str(path))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=1e-4)
    assert 'paramwise_cfg' not in cfg.optim_wrapper
    assert cfg.train_dataloader.batch_size == 64 and cfg.auto_scale_lr.base_batch_size == 512
    assert cfg.train_cfg.max_epochs == 800
    m = cfg.model
    assert m.type == ('ORL' if 'stage3' in str(path) else 'BYOL')
    assert m.backbone.depth == 50 and m.backbone.norm_cfg.type == 'SyncBN'
    for mlp, dims in ((m.neck, (2048, 4096, 256)), (m.head.predictor, (256, 4096, 256))):
        assert (mlp.in_channels, mlp.hid_channels, mlp.out_channels) == dims
        assert not mlp.with_bias and not mlp.with_last_bias and not mlp.with_last_bn
        assert mlp.norm_cfg.type == 'SyncBN'
    if m.type == 'ORL':
        assert (m.global_loss_weight, m.intra_loss_weight, m.inter_loss_weight) == (1., 1., 1.)
        assert 'init_cfg' not in m and cfg.get('load_from') is None  # from scratch
        assert cfg.train_dataloader.dataset.topk_knn == 10
    ds = cfg.train_dataloader.dataset
    if 'coco-plus' in path.name:  # the official COCO+ layout, shared with stage 2
        assert (ds.data_root, ds.data_prefix) == ('data/cocoplus/', 'trainplus2017/')
    else:
        assert (ds.data_root, ds.data_prefix) == ('data/coco/', 'train2017/')
    if m.type == 'ORL':
        assert ds.ann_file == 'meta/{}_10nn_instance_correspondence.json'.format(
            ds.data_prefix.rstrip('/'))
    # stage 3 repeats stage 1's optimisation, schedule and architecture
    other = Config.fromfile(str(STAGE1 if m.type == 'ORL' else STAGE3))
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'data_preprocessor'):
        assert cfg[key] == other[key], key
    for key in ('backbone', 'neck', 'head', 'base_momentum'):
        assert m[key] == other.model[key], key


def test_paper_schedule_is_mmcv_warmup_times_epoch_cosine():
    """lr(epoch e, iteration i) = 0.4 * (1 + cos(pi e / 800)) / 2 * warm(i): a per-epoch
    cosine over all 800 epochs times a linear warm-up factor from 1e-4 over 4 epochs, stepped
    per iteration, as the official mmcv lr_config (CosineAnnealing, warmup_by_epoch)."""
    cfg = Config.fromfile(str(STAGE3))
    optim = build_optim_wrapper(
        torch.nn.Linear(2, 2), dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.4)))
    iters = 3
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=optim), default_args=dict(epoch_length=iters))
        for s in cfg.param_scheduler
    ]
    lrs = {}
    for epoch in range(800):
        for i in range(iters):
            lrs[epoch, i] = optim.get_lr()['lr'][0]
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()
    # mmengine's LinearLR reaches factor 1 at the warm-up's last iteration (mmcv one
    # iteration later: a relative difference of at most 1 / warm-up iterations)
    warm = 4 * iters
    for (epoch, i), lr in lrs.items():
        it = epoch * iters + i
        factor = 1e-4 + (1 - 1e-4) * it / (warm - 1) if it < warm else 1.
        expected = 0.4 * (1 + math.cos(math.pi * epoch / 800)) / 2 * factor
        assert lr == pytest.approx(expected, rel=1e-6, abs=1e-12), (epoch, i)


@pytest.mark.parametrize('toy,paper', [(TOY1, STAGE1), (TOY3, STAGE3)], ids=['stage1', 'stage3'])
def test_toy_configs_change_only_sizes_data_and_schedule(toy, paper):
    cfg, ref = Config.fromfile(str(toy)), Config.fromfile(str(paper))
    assert cfg.train_dataloader.dataset.data_root == 'data/toy_scenes/'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.4 * 32 / 512)
    assert cfg.model.backbone.depth == 18 and cfg.model.backbone.norm_cfg.type == 'BN'
    size_keys = {'scale', 'size'}
    for a, b in zip(_pipelines(cfg), _pipelines(ref)):
        assert len(a) == len(b)
        for ta, tb in zip(a, b):
            assert {k: v for k, v in ta.items() if k not in size_keys} == \
                {k: v for k, v in tb.items() if k not in size_keys}
    sizes = [
        t.get('scale', t.get('size')) for p in _pipelines(cfg) for t in p
        if t['type'] in ('RandomResizedCrop', 'ORLCropPatch')
    ]
    assert sizes == ([64, 64] if toy == TOY1 else [64, 64, 32, 32, 32, 32])
    if toy == TOY3:
        assert cfg.train_dataloader.dataset.ann_file == \
            'meta/train2017_10nn_instance_correspondence.json'
        for key in ('global_loss_weight', 'intra_loss_weight', 'inter_loss_weight'):
            assert cfg.model[key] == ref.model[key]


def test_toy_stage1_trains_with_tools_train(toy_scenes, tmp_path):
    """A few iterations of the toy stage-1 config through tools/train.py (CPU, 1 process)."""
    cmd = [
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(TOY1), '--work-dir',
        str(tmp_path), '--cfg-options', f'train_dataloader.dataset.data_root={toy_scenes}/',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'model.neck.hid_channels=32', 'model.head.predictor.hid_channels=32',
        'default_hooks.logger.interval=1'
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    ckpt = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 3  # 12 images / batch 4
    losses = [float(v) for v in re.findall(r'\sloss: (-?[\d.]+)', log)]
    assert len(losses) >= 3 and all(math.isfinite(v) and -4 <= v <= 4 for v in losses)
    # the stage-1 checkpoint is a plain mmpretrain BYOL
    assert 'target_net.module.0.conv1.weight' in ckpt['state_dict']
    assert not any(k.startswith(('intra_head', 'inter_head')) for k in ckpt['state_dict'])
