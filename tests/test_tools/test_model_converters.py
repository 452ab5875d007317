"""Tests for tools/model_converters: exported weights load into the stock downstream models.

A tiny BYOL (ResNet-18) is trained for two iterations by an mmengine Runner so that the source is
a real training checkpoint (message hub, optimizer, schedulers). Every export is then loaded the
way the downstream codebase loads it, and the loaded tensors or outputs are compared.
"""
import copy
import hashlib
import importlib.util
import os.path as osp
import pickle
import re
import subprocess
import sys
import uuid

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmvisrep  # noqa: F401  (allow-lists mmengine checkpoint types)
from mmvisrep.utils.weight_conversion import convert_deep_stem, extract_weights, publish_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _package_config(spec):
    """Load ``'pkg::rel/path.py'`` from an installed package's ``.mim/configs``."""
    package, rel = spec.split('::')
    root = osp.dirname(importlib.util.find_spec(package).origin)
    return Config.fromfile(osp.join(root, '.mim', 'configs', rel))


def _load_tool(name):
    """Import tools/model_converters/<name>.py as a module (tools/ is not a package)."""
    path = osp.join(REPO, 'tools', 'model_converters', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _TwoViewDataset(Dataset):
    """Four random 32x32 images, each returned as two views (flipped) for BYOL."""

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.images = [torch.rand(3, 32, 32, generator=gen) * 255 for _ in range(4)]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        from mmpretrain.structures import DataSample
        img = self.images[idx]
        return dict(inputs=[img, img.flip(-1)], data_samples=DataSample())


BYOL_CFG = dict(
    type='BYOL',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='BN')),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=8,
        out_channels=4,
        num_layers=2,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=dict(
            type='NonLinearNeck',
            in_channels=4,
            hid_channels=8,
            out_channels=4,
            num_layers=2,
            with_avg_pool=False,
            norm_cfg=dict(type='BN1d'))))


@pytest.fixture(scope='module')
def byol_ckpt(tmp_path_factory):
    """Train BYOL-R18 for 2 iterations with a Runner; return (checkpoint path, state_dict)."""
    work_dir = tmp_path_factory.mktemp('byol')
    runner = Runner(
        model=copy.deepcopy(BYOL_CFG),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_TwoViewDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='ConstantLR', factor=1.0, by_epoch=False),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2),
        default_hooks=dict(
            logger=None, checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        experiment_name=f'test_extract_weights_{uuid.uuid4().hex}',
        default_scope='mmpretrain',
        log_level='WARNING')
    runner.train()
    path = osp.join(str(work_dir), 'iter_2.pth')
    raw = torch.load(path, map_location='cpu')  # weights_only=True thanks to mmvisrep
    assert {'meta', 'message_hub', 'optimizer', 'param_schedulers', 'state_dict'} <= set(raw)
    from mmengine.logging import HistoryBuffer
    assert any(isinstance(v, HistoryBuffer) for v in raw['message_hub']['log_scalars'].values())
    return path, raw['state_dict']


def _sub(sd, prefix):
    """Tensors under ``prefix`` with it stripped."""
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _assert_same(loaded, expected):
    """Same key set and bitwise-equal tensors."""
    assert sorted(loaded) == sorted(expected)
    for key, val in expected.items():
        assert torch.equal(loaded[key].cpu(), val), key


def _extract(argv):
    """Run the extract_weights CLI in-process."""
    return _load_tool('extract_weights').main(argv)


def test_mmdet_mask_rcnn_loads_backbone(byol_ckpt, tmp_path):
    path, sd = byol_ckpt
    out = _extract([path, str(tmp_path / 'det.pth'), '--target', 'mmdet'])
    exported = torch.load(out, map_location='cpu')
    assert set(exported) == {'state_dict', 'meta'}
    assert exported['meta']['target'] == 'mmdet'
    assert exported['meta']['source_prefix'] == 'backbone.'
    assert exported['meta']['source_iter'] == 2
    online = _sub(sd, 'backbone.')
    assert len(exported['state_dict']) == len(online) == 120  # R18: 60 params + 60 BN buffers

    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = _package_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py')
    cfg.model.backbone.depth = 18
    cfg.model.backbone.norm_cfg = dict(type='BN', requires_grad=True)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=out, prefix='backbone.')
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = MODELS.build(cfg.model)
        detector.init_weights()
    _assert_same(detector.backbone.state_dict(), online)


def test_mmseg_upernet_loads_backbone(byol_ckpt, tmp_path):
    path, sd = byol_ckpt
    out = _extract([path, str(tmp_path / 'seg.pth'), '--target', 'mmseg'])
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = _package_config('mmseg::_base_/models/upernet_r50.py')
    bn = dict(type='BN', requires_grad=True)
    cfg.model.pretrained = None
    cfg.model.backbone = dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        norm_cfg=bn,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=out, prefix='backbone.'))
    cfg.model.decode_head.update(in_channels=[64, 128, 256, 512], channels=16, norm_cfg=bn)
    cfg.model.auxiliary_head.update(in_channels=256, channels=16, norm_cfg=bn)
    with DefaultScope.overwrite_default_scope('mmseg'):
        segmentor = MODELS.build(cfg.model)
        segmentor.init_weights()
    _assert_same(segmentor.backbone.state_dict(), _sub(sd, 'backbone.'))


def test_mmpretrain_classifier_loads_backbone(byol_ckpt, tmp_path):
    path, sd = byol_ckpt
    out = _extract([path, str(tmp_path / 'cls.pth'), '--target', 'mmpretrain'])
    from mmpretrain.registry import MODELS
    model_cfg = dict(
        type='ImageClassifier',
        backbone=dict(
            type='ResNet',
            depth=18,
            frozen_stages=4,
            init_cfg=dict(type='Pretrained', checkpoint=out, prefix='backbone.')),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=8, in_channels=512))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = MODELS.build(model_cfg)
        classifier.init_weights()
    _assert_same(classifier.backbone.state_dict(), _sub(sd, 'backbone.'))


def test_use_target_and_include(byol_ckpt, tmp_path):
    path, sd = byol_ckpt
    online, ema = _sub(sd, 'backbone.'), _sub(sd, 'target_net.module.0.')
    assert not torch.equal(online['conv1.weight'], ema['conv1.weight'])  # EMA lags after a step

    obj = extract_weights(path, 'mmdet', use_target=True, include=['neck:projector'])
    assert obj['meta']['source_prefix'] == 'target_net.module.0.'
    assert obj['meta']['exported'] == {
        'target_net.module.0.': 'backbone.',
        'target_net.module.1.': 'projector.'
    }
    _assert_same(_sub(obj['state_dict'], 'backbone.'), ema)
    _assert_same(_sub(obj['state_dict'], 'projector.'), _sub(sd, 'target_net.module.1.'))
    assert len(obj['state_dict']) == 120 + len(_sub(sd, 'neck.'))

    # the online neck by plain prefix, and the EMA copy by an explicit prefix
    obj = extract_weights(path, 'mmdet', include=['neck'])
    _assert_same(_sub(obj['state_dict'], 'neck.'), _sub(sd, 'neck.'))
    obj = extract_weights(path, 'mmpretrain', prefix='target_net.module.0.')
    _assert_same(_sub(obj['state_dict'], 'backbone.'), ema)
    # --target-map through the CLI
    out = _extract([
        path,
        str(tmp_path / 'ema.pth'), '--target', 'mmpretrain', '--use-target', '--target-map',
        'backbone.:target_net.module.0.'
    ])
    _assert_same(_sub(torch.load(out)['state_dict'], 'backbone.'), ema)


def test_torchvision_export_matches_features(byol_ckpt, tmp_path):
    import torchvision
    from mmpretrain.models import ResNet
    path, sd = byol_ckpt
    out = _extract([path, str(tmp_path / 'tv.pth'), '--target', 'torchvision'])
    tv_sd = torch.load(out, map_location='cpu')
    assert all(isinstance(v, torch.Tensor) for v in tv_sd.values())
    tv = torchvision.models.resnet18()
    result = tv.load_state_dict(tv_sd, strict=False)
    assert sorted(result.missing_keys) == ['fc.bias', 'fc.weight']
    assert result.unexpected_keys == []

    mm = ResNet(depth=18, norm_cfg=dict(type='BN'), out_indices=(3, ))
    mm.load_state_dict(_sub(sd, 'backbone.'), strict=True)
    tv.eval()
    mm.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        tv_feat = torch.nn.Sequential(*list(tv.children())[:-2])(x)
        mm_feat = mm(x)[0]
    assert tv_feat.shape == (2, 512, 2, 2)
    torch.testing.assert_close(tv_feat, mm_feat, rtol=0, atol=1e-5)


def test_detectron2_export(byol_ckpt, tmp_path):
    path, sd = byol_ckpt
    out = _extract([path, str(tmp_path / 'd2.pkl'), '--target', 'detectron2'])
    with open(out, 'rb') as f:
        obj = pickle.load(f)
    assert obj['__author__'] == 'mmvisrep'
    assert obj['matching_heuristics'] is True
    model = obj['model']
    backbone = _sub(sd, 'backbone.')
    assert len(model) == sum(not k.endswith('num_batches_tracked') for k in backbone) == 100
    assert all(type(v) is np.ndarray for v in model.values())
    pairs = {
        'stem.conv1.weight': 'conv1.weight',
        'stem.conv1.norm.running_var': 'bn1.running_var',
        'res2.0.conv1.weight': 'layer1.0.conv1.weight',
        'res2.1.conv2.norm.bias': 'layer1.1.bn2.bias',
        'res3.0.shortcut.weight': 'layer2.0.downsample.0.weight',
        'res4.0.shortcut.norm.running_mean': 'layer3.0.downsample.1.running_mean',
        'res5.1.conv2.norm.weight': 'layer4.1.bn2.weight',
    }
    for d2_name, mm_name in pairs.items():
        np.testing.assert_array_equal(model[d2_name], backbone[mm_name].numpy())
    assert all(re.match(r'(stem|res[2-5])\.', k) for k in model)


@pytest.mark.parametrize('variant', ['plain', 'layer_scale_pre_norm_no_cls'])
def test_vit_to_mmseg_identical_outputs(variant, tmp_path):
    from mmpretrain.models import VisionTransformer as PretrainViT
    from mmseg.models.backbones import VisionTransformer as SegViT
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=128)
    common = dict(img_size=32, patch_size=8, out_indices=-1, final_norm=True)
    if variant == 'plain':
        src_kw, seg_kw = dict(out_type='featmap'), dict()
    else:
        src_kw = dict(
            out_type='featmap',
            with_cls_token=False,
            pre_norm=True,
            qkv_bias=False,
            layer_scale_init_value=0.1)
        seg_kw = dict(with_cls_token=False, pre_norm=True)
    src = PretrainViT(arch=arch, **common, **src_kw)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # make every parameter (LN, layer scale, tokens) non-trivial
        for param in src.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * 0.1)
    ckpt = tmp_path / 'vit_pretrain.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}}, ckpt)

    out = _extract([str(ckpt), str(tmp_path / 'vit_seg.pth'), '--target', 'mmseg'])
    exported = torch.load(out, map_location='cpu')
    assert exported['meta']['init_prefix'] is None  # mmseg's ViT ignores init_cfg.prefix
    settings = exported['meta']['downstream_settings']
    assert 'final_norm=True' in settings and any('eps=1e-6' in s for s in settings)
    if variant != 'plain':
        assert {'with_cls_token=False', 'pre_norm=True'} <= set(settings)

    seg = SegViT(
        img_size=32,
        patch_size=8,
        embed_dims=32,
        num_layers=2,
        num_heads=2,
        mlp_ratio=4,
        out_indices=-1,
        final_norm=True,
        norm_cfg=dict(type='LN', eps=1e-6),
        **seg_kw)
    ref_keys = {k: v.shape for k, v in seg.state_dict().items()}
    assert {k: v.shape for k, v in exported['state_dict'].items()} == ref_keys
    seg.load_state_dict(exported['state_dict'], strict=True)

    # the real downstream path: init_cfg Pretrained -> mmseg ViT.init_weights
    seg_init = SegViT(
        img_size=32,
        patch_size=8,
        embed_dims=32,
        num_layers=2,
        num_heads=2,
        out_indices=-1,
        final_norm=True,
        norm_cfg=dict(type='LN', eps=1e-6),
        init_cfg=dict(type='Pretrained', checkpoint=out),
        **seg_kw)
    seg_init.init_weights()
    _assert_same(seg_init.state_dict(), dict(seg.state_dict()))

    src.eval()
    seg.eval()
    x = torch.randn(2, 3, 32, 32, generator=gen)
    with torch.no_grad():
        ref = src(x)[0]
        got = seg(x)[0]
    assert ref.shape == got.shape == (2, 32, 4, 4)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('arch', ['ResNetV1c', 'ResNetV1d'])
def test_deep_stem_resnet_to_mmseg(arch, tmp_path):
    from mmpretrain.models import backbones as pretrain_backbones
    from mmseg.models import backbones as seg_backbones
    src = getattr(pretrain_backbones, arch)(depth=18, out_indices=(0, 1, 2, 3))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, buf in src.named_buffers():
            if name.endswith('running_var'):
                buf.uniform_(0.5, 2.0, generator=gen)
    ckpt = tmp_path / 'v1c.pth'
    torch.save({f'backbone.{k}': v for k, v in src.state_dict().items()}, ckpt)  # plain dict
    out = _extract([str(ckpt), str(tmp_path / 'v1c_seg.pth'), '--target', 'mmseg'])

    seg = getattr(seg_backbones, arch)(
        depth=18, init_cfg=dict(type='Pretrained', checkpoint=out, prefix='backbone.'))
    seg.init_weights()
    expected = convert_deep_stem(src.state_dict())
    assert 'stem.3.weight' in expected and 'stem.4.running_mean' in expected
    _assert_same(seg.state_dict(), expected)
    src.eval()
    seg.eval()
    x = torch.randn(2, 3, 32, 32, generator=gen)
    with torch.no_grad():
        for a, b in zip(src(x), seg(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_publish_model(byol_ckpt, tmp_path):
    path, sd = byol_ckpt
    final = _load_tool('publish_model').main([path, str(tmp_path / 'byol_r18.pth')])
    match = re.fullmatch(r'byol_r18_(\d{8})-([0-9a-f]{8})\.pth', osp.basename(final))
    assert match, final
    with open(final, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == match.group(2)
    published = torch.load(final, map_location='cpu')
    assert set(published) == {'state_dict', 'meta'}
    assert published['meta']['iter'] == 2
    _assert_same(published['state_dict'], sd)

    # the published file and the exports load with weights_only=True in a process that has
    # NOT imported mmvisrep (no allow-list), i.e. they hold tensors and plain Python only
    det = extract_weights(path, 'mmdet')
    det_path = str(tmp_path / 'det_plain.pth')
    torch.save(det, det_path)
    code = ('import sys, torch\n'
            'for p in sys.argv[1:]:\n'
            '    obj = torch.load(p, weights_only=True)\n'
            '    assert "optimizer" not in obj\n'
            'print("ok")\n')
    res = subprocess.run([sys.executable, '-c', code, final, det_path],
                         capture_output=True,
                         text=True)
    assert res.returncode == 0 and res.stdout.strip() == 'ok', res.stderr


def test_errors(byol_ckpt, tmp_path):
    path, _ = byol_ckpt
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        extract_weights(missing, 'mmdet')
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        publish_checkpoint(missing, str(tmp_path / 'x.pth'))
    with pytest.raises(SystemExit, match='checkpoint file not found: ' + re.escape(missing)):
        _extract([missing, str(tmp_path / 'x.pth'), '--target', 'mmdet'])
    with pytest.raises(ValueError) as err:
        extract_weights(path, 'mmdet', prefix='encoder.')
    msg = str(err.value)
    assert path in msg and '"encoder."' in msg
    for prefix in ('backbone. (120 tensors)', 'neck.', 'head.', 'target_net.module.0. (120',
                   'target_net.module.1.'):
        assert prefix in msg
    with pytest.raises(ValueError, match='unknown target .*mmdet, mmseg'):
        extract_weights(path, 'mmdet3d')
    with pytest.raises(SystemExit):  # argparse choices
        _extract([path, str(tmp_path / 'x.pth'), '--target', 'mmdet3d'])
    with pytest.raises(ValueError, match='--include is only supported'):
        extract_weights(path, 'torchvision', include=['neck'])
    with pytest.raises(ValueError, match='no default momentum-encoder location'):
        extract_weights(path, 'mmdet', use_target=True, include=['head'])

    from mmpretrain.models import VisionTransformer
    vit = VisionTransformer(
        arch=dict(embed_dims=16, num_layers=1, num_heads=2, feedforward_channels=32),
        img_size=16,
        patch_size=8)
    vit_ckpt = str(tmp_path / 'vit.pth')
    torch.save({f'backbone.{k}': v for k, v in vit.state_dict().items()}, vit_ckpt)
    for target in ('torchvision', 'detectron2'):
        with pytest.raises(ValueError, match='Vision Transformer backbones are not supported'):
            extract_weights(vit_ckpt, target)
    # mmdet / mmpretrain keep ViT keys unchanged
    obj = extract_weights(vit_ckpt, 'mmpretrain')
    assert sorted(obj['state_dict']) == sorted(f'backbone.{k}' for k in vit.state_dict())


# ----------------------------------------------------------------------- mmseg MAE backbone


def _perturbed(module, seed=0, scale=0.1):
    """``module`` with every parameter moved off its init (LN, layer scales, tokens too)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * scale)
    return module


def _save_backbone(module, path, extra=None):
    """Save ``module`` as ``backbone.`` of a pretraining checkpoint (plus ``extra`` tensors)."""
    state = {f'backbone.{k}': v for k, v in module.state_dict().items()}
    state.update(extra or {})
    torch.save({'state_dict': state, 'meta': {'epoch': 3}}, path)
    return str(path)


def _init_and_record(backbone):
    """Run ``backbone.init_weights()`` and return what its own ``load_state_dict`` reported."""
    calls = []
    original = backbone.load_state_dict

    def spy(state_dict, strict=True, **kwargs):
        result = original(state_dict, strict, **kwargs)
        calls.append(result)
        return result

    backbone.load_state_dict = spy
    try:
        backbone.init_weights()
    finally:
        del backbone.load_state_dict
    assert len(calls) == 1, 'init_weights did not load the checkpoint through load_state_dict'
    return calls[0]


# mmseg's BEiT.resize_rel_pos_embed pops every `relative_position_index` from the checkpoint
# before loading (the model builds it for its own grid in __init__), so its loader reports these
# buffers missing whatever the file holds; the export does not write them.
_REL_INDEX = re.compile(r'layers\.\d+\.attn\.relative_position_index$')


def _rel_index_keys(num_layers):
    """The relative-position index buffers of an mmseg ``MAE`` with ``num_layers`` layers."""
    return [f'layers.{i}.attn.relative_position_index' for i in range(num_layers)]


@pytest.mark.parametrize('variant', ['maevit', 'layer_scale_no_qkv_bias_final_norm'])
def test_vit_to_mmseg_mae_identical_outputs(variant, tmp_path):
    from mmpretrain.models import MAEViT
    from mmpretrain.models import VisionTransformer as PretrainViT
    from mmseg.models.backbones import MAE as SegMAE
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=128)
    if variant == 'maevit':  # the MUG / MAE encoder; the MAE recipe has no final norm
        src = _perturbed(MAEViT(arch=arch, img_size=32, patch_size=8))
        final_norm, extra_args = False, []
        ref = PretrainViT(
            arch=arch,
            img_size=32,
            patch_size=8,
            final_norm=False,
            out_type='featmap',
            out_indices=[0, 1])
        ref.load_state_dict({
            k: v
            for k, v in src.state_dict().items() if not k.startswith('ln1.')
        },
                            strict=True)
    else:
        src = _perturbed(
            PretrainViT(
                arch=arch,
                img_size=32,
                patch_size=8,
                qkv_bias=False,
                layer_scale_init_value=0.1,
                out_type='featmap',
                out_indices=[0, 1]))
        final_norm, extra_args, ref = True, ['--final-norm'], src
    ckpt = _save_backbone(src, tmp_path / 'vit.pth', {'neck.fc.weight': torch.ones(2, 2)})
    out = _extract([
        ckpt,
        str(tmp_path /
            'vit_mae.pth'), '--target', 'mmseg-mae', '--img-size', '32', '--num-heads', '2'
    ] + extra_args)
    exported = torch.load(out, map_location='cpu')
    meta = exported['meta']
    assert meta['init_prefix'] is None and meta['target'] == 'mmseg-mae'
    assert meta['source_epoch'] == 3 and meta['seg_config'] is None
    settings = meta['downstream_settings']
    for item in ('img_size=32', 'patch_size=8', 'embed_dims=32', 'num_layers=2', 'num_heads=2',
                 'mlp_ratio=4', f'final_norm={final_norm}'):
        assert item in settings
    sd = exported['state_dict']
    assert not any(k.startswith(('backbone.', 'neck.')) for k in sd)  # bare backbone keys
    assert not any(_REL_INDEX.match(k) for k in sd)
    assert ('ln1.weight' in sd) == final_norm
    # what the ViT lacks, with the values that keep its function
    src_sd = src.state_dict()
    for i in range(2):
        if variant == 'maevit':
            assert torch.equal(sd[f'layers.{i}.gamma_1'], torch.ones(32))
            assert torch.equal(sd[f'layers.{i}.attn.qkv.bias'],
                               src_sd[f'layers.{i}.attn.qkv.bias'])
        else:
            assert torch.equal(sd[f'layers.{i}.gamma_1'], src_sd[f'layers.{i}.attn.gamma1.weight'])
            assert torch.equal(sd[f'layers.{i}.gamma_2'], src_sd[f'layers.{i}.ffn.gamma2.weight'])
            assert torch.equal(sd[f'layers.{i}.attn.qkv.bias'], torch.zeros(96))
        table = sd[f'layers.{i}.attn.relative_position_bias_table']
        assert table.shape == ((2 * 4 - 1)**2 + 3, 2) and not table.any()

    def build(img_size=32, **kwargs):
        return SegMAE(
            img_size=img_size,
            patch_size=8,
            embed_dims=32,
            num_layers=2,
            num_heads=2,
            mlp_ratio=4,
            init_values=0.1,  # the file's gamma_1/gamma_2 replace the init value
            out_indices=[0, 1],
            final_norm=final_norm,
            norm_cfg=dict(type='LN', eps=1e-6),
            **kwargs)

    # the file is the backbone's state dict but for the index buffers the model builds itself
    strict = build()
    result = strict.load_state_dict(sd, strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys == _rel_index_keys(2)
    # the real downstream path: init_cfg Pretrained -> MAE.init_weights (bare keys, strict=False)
    seg = build(init_cfg=dict(type='Pretrained', checkpoint=out))
    result = _init_and_record(seg)
    assert result.unexpected_keys == []
    assert result.missing_keys == _rel_index_keys(2)
    _assert_same(seg.state_dict(), dict(strict.state_dict()))

    ref.eval()
    seg.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = ref(x), seg(x)
    assert len(got) == 2
    for a, b in zip(want, got):
        assert a.shape == b.shape == (2, 32, 4, 4)
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)

    # another grid: pos_embed resized as mmseg's own loader would, tables sized for 8 x 8
    out64 = _extract([
        ckpt,
        str(tmp_path /
            'vit_mae64.pth'), '--target', 'mmseg-mae', '--img-size', '64', '--num-heads', '2'
    ] + extra_args)
    sd64 = torch.load(out64, map_location='cpu')['state_dict']
    seg64 = build(img_size=64)
    own = seg64.resize_abs_pos_embed({'pos_embed': src_sd['pos_embed'].clone()})['pos_embed']
    assert sd64['pos_embed'].shape == (1, 65, 32)
    torch.testing.assert_close(sd64['pos_embed'], own, rtol=0, atol=0)
    assert sd64['layers.0.attn.relative_position_bias_table'].shape == ((2 * 8 - 1)**2 + 3, 2)
    shapes64 = {k: v.shape for k, v in seg64.state_dict().items() if not _REL_INDEX.match(k)}
    assert {k: v.shape for k, v in sd64.items()} == shapes64


MUG_TOY_UPERNET = osp.join(REPO,
                           'configs/mug/benchmarks/toy/upernet_mae-tiny_1xb4-toy_toyscenes.py')


def test_mmseg_mae_seg_config_loads_into_toy_upernet(tmp_path):
    """--seg-config: the toy UperNet MAE config's segmentor loads the export, nothing missing."""
    from mmpretrain.models import MAEViT
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    # the toy MUG encoder: 192-d, 4 layers, 3 heads, 16 px patches, pretrained on 64 px crops
    src = _perturbed(
        MAEViT(
            arch=dict(embed_dims=192, num_layers=4, num_heads=3, feedforward_channels=768),
            img_size=64,
            patch_size=16),
        scale=0.05)
    ckpt = _save_backbone(src, tmp_path / 'mug.pth', {'neck.decoder_pos_embed': torch.ones(3)})
    out = _extract([
        ckpt,
        str(tmp_path / 'mug_mae.pth'), '--target', 'mmseg-mae', '--seg-config', MUG_TOY_UPERNET
    ])
    exported = torch.load(out, map_location='cpu')
    assert exported['meta']['seg_config'] == MUG_TOY_UPERNET
    assert {'img_size=128', 'num_heads=3',
            'final_norm=False'} <= set(exported['meta']['downstream_settings'])
    sd = exported['state_dict']

    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(MUG_TOY_UPERNET)
    assert cfg.model.backbone.type == 'MAE' and cfg.model.backbone.init_cfg.type == 'Pretrained'
    cfg.model.backbone.init_cfg.checkpoint = out  # the documented --cfg-options override
    with DefaultScope.overwrite_default_scope('mmseg'):
        segmentor = MODELS.build(cfg.model)
    backbone = segmentor.backbone
    result = _init_and_record(backbone)
    assert result.unexpected_keys == []
    assert result.missing_keys == _rel_index_keys(4)
    loaded = backbone.state_dict()
    assert sorted(loaded) == sorted(list(sd) + result.missing_keys)
    for key, val in sd.items():
        assert torch.equal(loaded[key], val), key
    src_sd = src.state_dict()
    for key in ('layers.3.attn.qkv.weight', 'layers.0.ffn.layers.1.bias', 'cls_token',
                'patch_embed.projection.weight'):
        assert torch.equal(loaded[key], src_sd[key]), key
    assert loaded['pos_embed'].shape == (1, 1 + 8 * 8, 192)  # 4 x 4 -> 8 x 8 grid

    # contradicting options, an encoder that does not fit the config's backbone
    with pytest.raises(SystemExit, match=r'--num-heads 12 contradicts .*num_heads=3'):
        _extract([
            ckpt,
            str(tmp_path / 'x.pth'), '--target', 'mmseg-mae', '--seg-config', MUG_TOY_UPERNET,
            '--num-heads', '12'
        ])
    narrow = _save_backbone(
        MAEViT(
            arch=dict(embed_dims=48, num_layers=4, num_heads=3, feedforward_channels=192),
            img_size=64,
            patch_size=16), tmp_path / 'narrow.pth')
    with pytest.raises(ValueError, match=r'does not fit the MAE backbone.*shape mismatches'):
        extract_weights(narrow, 'mmseg-mae', seg_config=MUG_TOY_UPERNET)


def test_mmseg_mae_errors(byol_ckpt, tmp_path):
    from mmpretrain.models import VisionTransformer
    path, _ = byol_ckpt
    arch = dict(embed_dims=16, num_layers=1, num_heads=2, feedforward_channels=32)
    vit = VisionTransformer(arch=arch, img_size=16, patch_size=8)
    vit_ckpt = _save_backbone(vit, tmp_path / 'vit.pth')
    with pytest.raises(ValueError, match='needs --seg-config CONFIG .* or --img-size and --num'):
        extract_weights(vit_ckpt, 'mmseg-mae', img_size=16)
    with pytest.raises(ValueError, match=r'--img-size, --num-heads: only for --target mmseg-mae'):
        extract_weights(vit_ckpt, 'mmseg', img_size=16, num_heads=2)
    with pytest.raises(ValueError, match='--include is not supported'):
        extract_weights(vit_ckpt, 'mmseg-mae', include=['neck'], img_size=16, num_heads=2)
    with pytest.raises(ValueError, match='num_heads=3 must be a positive divisor'):
        extract_weights(vit_ckpt, 'mmseg-mae', img_size=16, num_heads=3)
    with pytest.raises(ValueError, match='img_size .* is not square'):
        extract_weights(vit_ckpt, 'mmseg-mae', img_size=(16, 32), num_heads=2)
    with pytest.raises(ValueError, match='needs an mmpretrain VisionTransformer/MAEViT.*resnet'):
        extract_weights(path, 'mmseg-mae', img_size=32, num_heads=2)  # BYOL ResNet-18
    no_ln1 = _save_backbone(
        VisionTransformer(arch=arch, img_size=16, patch_size=8, final_norm=False),
        tmp_path / 'no_ln1.pth')
    with pytest.raises(ValueError, match='final_norm=True asked, but the ViT has no final norm'):
        extract_weights(no_ln1, 'mmseg-mae', img_size=16, num_heads=2, final_norm=True)
    # ViTs that mmseg's MAE cannot represent are refused, not silently changed
    no_cls = _save_backbone(
        VisionTransformer(
            arch=arch, img_size=16, patch_size=8, with_cls_token=False, out_type='featmap'),
        tmp_path / 'no_cls.pth')
    with pytest.raises(ValueError, match='no class token'):
        extract_weights(no_cls, 'mmseg-mae', img_size=16, num_heads=2)
    pre_norm = _save_backbone(
        VisionTransformer(arch=arch, img_size=16, patch_size=8, pre_norm=True),
        tmp_path / 'pre_norm.pth')
    with pytest.raises(ValueError, match='pre-norm'):
        extract_weights(pre_norm, 'mmseg-mae', img_size=16, num_heads=2)
    swiglu = _save_backbone(
        VisionTransformer(
            arch=arch, img_size=16, patch_size=8, layer_cfgs=dict(ffn_type='swiglu_fused')),
        tmp_path / 'swiglu.pth')
    with pytest.raises(ValueError, match='has no counterpart in mmseg\'s MAE'):
        extract_weights(swiglu, 'mmseg-mae', img_size=16, num_heads=2)
    # a config whose backbone is mmseg's VisionTransformer, not MAE
    vit_cfg = osp.join(
        REPO, 'configs/benchmarks/mmsegmentation/toy/upernet_vit-tiny_mln_1xb4-toy_toyscenes.py')
    with pytest.raises(SystemExit, match='not mmseg\'s "MAE"; --target mmseg-mae is for MAE'):
        _extract(
            [vit_ckpt,
             str(tmp_path / 'x.pth'), '--target', 'mmseg-mae', '--seg-config', vit_cfg])
    with pytest.raises(SystemExit, match='--seg-config: config file not found'):
        _extract([
            vit_ckpt,
            str(tmp_path / 'x.pth'), '--target', 'mmseg-mae', '--seg-config',
            str(tmp_path / 'nope.py')
        ])
