"""SoCo transfer: extract_weights.py recognises SoCo checkpoints and exports backbone + FPN + box
head shared layers (FPN) or backbone + res5 shared head (C4); the SoCo benchmark configs load them
with no missing and no unexpected key among those parts.

The sources are real training checkpoints: the toy SoCo configs (ResNet-18) trained for two
iterations by an mmengine Runner on the toy-scene fixture, with proposals made from its GT boxes.
"""
import importlib.util
import json
import os.path as osp
import re
import uuid
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import mmvisrep  # noqa: F401  (registers SoCo, allow-lists checkpoint types)
from mmvisrep.utils.weight_conversion import detect_soco, extract_weights

REPO = Path(__file__).resolve().parents[2]
SOCO_TOY = {
    'fpn': REPO / 'configs/soco/soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py',
    'c4': REPO / 'configs/soco/soco_resnet18-c4_1xb32-toy-10e_toyscenes.py',
}
DET = REPO / 'configs/benchmarks/mmdetection'
TOY_DET = DET / 'toy/mask-rcnn_r18_fpn_soco-head_1xb4-toy_toyscenes.py'
C4_DET = DET / 'mask-rcnn_r50-c4_soco_syncbn-1x_coco.py'
SHARED = ('roi_head.bbox_head.shared_convs.', 'roi_head.bbox_head.shared_fcs.')


def _load_tool(name):
    """Import tools/model_converters/<name>.py as a module (tools/ is not a package)."""
    path = REPO / 'tools' / 'model_converters' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _extract(argv):
    """Run the extract_weights CLI in-process; return the loaded output."""
    out = _load_tool('extract_weights').main([str(a) for a in argv])
    return torch.load(out, map_location='cpu')


def _sub(sd, prefix):
    """Tensors under ``prefix`` with it stripped."""
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _assert_same(loaded, expected):
    """Same key set and bitwise-equal tensors."""
    assert sorted(loaded) == sorted(expected)
    assert [k for k in expected if not torch.equal(loaded[k].cpu(), expected[k])] == []


def _gt_proposals(root: Path, out: Path) -> Path:
    """SoCo proposal json ``{basename: [[x, y, w, h], ...]}`` from the train GT boxes."""
    coco = json.loads((root / 'annotations/instances_train2017.json').read_text())
    names = {img['id']: osp.splitext(img['file_name'])[0] for img in coco['images']}
    props = {name: [] for name in names.values()}
    for ann in coco['annotations']:
        props[names[ann['image_id']]].append([int(round(v)) for v in ann['bbox']])
    out.write_text(json.dumps(props))
    return out


@pytest.fixture(scope='module', autouse=True)
def _unformatted_config_text():
    """Skip yapf in ``Config.pretty_text`` (the Runner formats big configs five times, 30 s on
    this CPU); the text, and the ``type='SoCo'`` that ``meta['cfg']`` carries, stay the same."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr('mmengine.config.config.FormatCode', lambda text, **kwargs: (text, False))
        yield


def _train_soco(variant, root, work_dir):
    """Two iterations of the toy SoCo config (batch 6 on 12 images); return the checkpoint."""
    cfg = Config.fromfile(str(SOCO_TOY[variant]))
    loader = cfg.train_dataloader
    loader.update(batch_size=6, num_workers=0, persistent_workers=False)
    loader.collate_fn = dict(type='default_collate')  # what tools/train.py sets for mmpretrain
    loader.dataset.data_root = str(root) + '/'
    loader.dataset.proposal_file = str(_gt_proposals(root, work_dir / 'gt_proposals.json'))
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.pop('name', None)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'test_soco_transfer_{variant}_{uuid.uuid4().hex}'
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    path = work_dir / 'epoch_1.pth'
    raw = torch.load(path, map_location='cpu')
    assert {'meta', 'message_hub', 'optimizer', 'state_dict'} <= set(raw)
    return path, raw['state_dict']


@pytest.fixture(scope='module')
def soco_fpn(toy_scenes, tmp_path_factory):
    return _train_soco('fpn', toy_scenes, tmp_path_factory.mktemp('soco_fpn'))


@pytest.fixture(scope='module')
def soco_c4(toy_scenes, tmp_path_factory):
    return _train_soco('c4', toy_scenes, tmp_path_factory.mktemp('soco_c4'))


def _load_report(capsys):
    """(missing, unexpected) keys from mmengine's ``load_state_dict`` message on stdout."""
    text = capsys.readouterr().out
    found = {}
    for kind, pattern in (('unexpected', r'unexpected key in source state_dict: (.*)'),
                          ('missing', r'missing keys in source state_dict: (.*)')):
        match = re.search(pattern, text)
        found[kind] = match.group(1).strip().split(', ') if match else []
    return found['missing'], found['unexpected']


def _groups(keys):
    """Module of each key, to the depth that names the randomly initialised parts."""
    out = set()
    for key in keys:
        parts = key.split('.')
        depth = 1 if parts[0] != 'roi_head' else 3 if parts[1] == 'bbox_head' else 2
        out.add('.'.join(parts[:depth]))
    return out


# ------------------------------------------------------------------------------- detection
def test_detect_soco_by_keys_and_by_meta(soco_fpn, soco_c4):
    fpn_sd, c4_sd = soco_fpn[1], soco_c4[1]
    assert detect_soco(fpn_sd)[0] == 'fpn'
    assert detect_soco(c4_sd)[0] == 'c4'
    # without the SoCo-only keys the config text that the Runner saved decides
    plain = {k: v for k, v in fpn_sd.items() if k.startswith(('backbone.', 'neck.', 'roi_head.'))}
    assert detect_soco(plain) == (None, detect_soco(plain)[1])
    meta_cfg = torch.load(soco_fpn[0], map_location='cpu')['meta']['cfg']
    variant, evidence = detect_soco(plain, dict(cfg=meta_cfg))
    assert variant == 'fpn' and evidence.startswith("meta config type='SoCo'")
    c4_plain = {k: v for k, v in c4_sd.items() if k.startswith('backbone.')}
    c4_cfg = torch.load(soco_c4[0], map_location='cpu')['meta']['cfg']
    assert detect_soco(c4_plain, dict(cfg=c4_cfg))[0] == 'c4'
    # a BYOL-like checkpoint (backbone + neck, no box head) is not SoCo
    byol = {'backbone.conv1.weight': torch.zeros(1), 'neck.mlp.0.weight': torch.zeros(1)}
    assert detect_soco(byol, dict(cfg="model = dict(type='BYOL')"))[0] is None


# ------------------------------------------------------------------------------------- FPN
def test_fpn_export_loads_into_soco_head_mask_rcnn(soco_fpn, toy_scenes, tmp_path, capsys):
    path, sd = soco_fpn
    obj = _extract([path, tmp_path / 'soco_mmdet.pth', '--target', 'mmdet'])
    meta, out_sd = obj['meta'], obj['state_dict']
    assert meta['selection'].startswith('auto: SoCo-FPN detected by keys')
    assert meta['downstream_load'] == 'load_from' and meta['use_target'] is False
    assert meta['exported'] == {p: p for p in ('backbone.', 'neck.') + SHARED}
    # R18: 120 backbone, FPN 4 lateral + 4 output ConvModules (conv + 5 BN), head 4 x 6 + fc 2
    assert len(_sub(out_sd, 'backbone.')) == 120
    assert len(_sub(out_sd, 'neck.')) == 48
    assert len(_sub(out_sd, 'roi_head.')) == 26
    assert len(out_sd) == 120 + 48 + 26

    cfg = Config.fromfile(str(TOY_DET))
    data_root = str(toy_scenes) + '/'
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = data_root
    for name in ('val_evaluator', 'test_evaluator'):
        cfg[name].ann_file = data_root + 'annotations/instances_val2017.json'
    cfg.work_dir = str(tmp_path / 'det')
    cfg.experiment_name = f'test_soco_transfer_det_{uuid.uuid4().hex}'
    cfg.visualizer.pop('name', None)
    cfg.log_level = 'WARNING'
    cfg.load_from = str(tmp_path / 'soco_mmdet.pth')
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    capsys.readouterr()
    runner.load_or_resume()  # what Runner.train() does after init: load_from
    missing, unexpected = _load_report(capsys)
    assert unexpected == []
    parts = ('backbone.', 'neck.') + SHARED
    assert [k for k in missing if k.startswith(parts)] == []
    # only the parts SoCo does not pretrain start random
    assert _groups(missing) == {
        'rpn_head', 'roi_head.bbox_head.fc_cls', 'roi_head.bbox_head.fc_reg', 'roi_head.mask_head'
    }

    det = runner.model.state_dict()
    _assert_same(_sub(det, 'backbone.'), _sub(sd, 'backbone.'))
    _assert_same(_sub(det, 'neck.'), _sub(sd, 'neck.'))
    for prefix in SHARED:
        _assert_same(_sub(det, prefix), _sub(sd, prefix))
    # the online network, not the EMA target (they differ after two steps)
    ema = _sub(sd, 'target.module.backbone.')
    assert not torch.equal(det['backbone.conv1.weight'], ema['conv1.weight'])


def test_fpn_explicit_include_equals_auto_and_opt_outs(soco_fpn, tmp_path):
    path, sd = soco_fpn
    auto = extract_weights(str(path), 'mmdet')['state_dict']
    explicit = _extract([
        path, tmp_path / 'x.pth', '--target', 'mmdet', '--include', 'neck',
        'roi_head.bbox_head.shared_convs', 'roi_head.bbox_head.shared_fcs'
    ])
    assert explicit['meta']['selection'].startswith('explicit')
    _assert_same(explicit['state_dict'], auto)
    # --no-auto and the other targets get the backbone only
    for argv in (['--target', 'mmdet', '--no-auto'], ['--target', 'mmpretrain']):
        obj = _extract([path, tmp_path / 'b.pth'] + argv)
        assert obj['meta']['selection'].startswith('explicit (SoCo-FPN, --')
        assert obj['meta']['downstream_load'] == 'init_cfg'
        _assert_same(obj['state_dict'], {
            'backbone.' + k: v
            for k, v in _sub(sd, 'backbone.').items()
        })
    # --use-target exports the EMA copies of all three parts (SoCo's target.module.*)
    ema = extract_weights(str(path), 'mmdet', use_target=True)
    assert ema['meta']['exported'] == {
        'target.module.' + p: p
        for p in ('backbone.', 'neck.') + SHARED
    }
    _assert_same(
        ema['state_dict'], {
            k[len('target.module.'):]: v
            for k, v in sd.items()
            if k.startswith(tuple('target.module.' + p for p in ('backbone.', 'neck.') + SHARED))
        })


# -------------------------------------------------------------------------------------- C4
def _c4_r18_mask_rcnn():
    """The C4 benchmark config shrunk to ResNet-18 with BN (keys as the R50 one, smaller)."""
    cfg = Config.fromfile(str(C4_DET))
    m = cfg.model
    bn = dict(type='BN', requires_grad=True)
    m.backbone.update(depth=18, norm_cfg=bn)
    m.roi_head.shared_head.update(depth=18, norm_cfg=bn)
    m.rpn_head.update(in_channels=256, feat_channels=64)
    m.roi_head.bbox_roi_extractor.out_channels = 256
    m.roi_head.bbox_head.update(in_channels=512, num_classes=8)
    m.roi_head.mask_head.update(in_channels=512, conv_out_channels=32, num_classes=8)
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    model = MODELS.build(m)
    model.init_weights()
    return model


def test_c4_export_loads_backbone_and_res5_shared_head(soco_c4, tmp_path, capsys):
    from mmengine.runner import load_checkpoint
    path, sd = soco_c4
    obj = _extract([path, tmp_path / 'soco_c4_mmdet.pth', '--target', 'mmdet'])
    meta, out_sd = obj['meta'], obj['state_dict']
    assert meta['selection'].startswith('auto: SoCo-C4 detected by keys')
    assert meta['exported'] == {
        'backbone.': 'backbone.',
        'backbone.layer4.': 'roi_head.shared_head.layer4.'
    }
    assert meta['downstream_load'] == 'load_from'
    assert not any(k.startswith('backbone.layer4.') for k in out_sd)

    model = _c4_r18_mask_rcnn()
    capsys.readouterr()
    load_checkpoint(model, str(tmp_path / 'soco_c4_mmdet.pth'), map_location='cpu')
    missing, unexpected = _load_report(capsys)
    assert unexpected == []
    assert [k for k in missing if k.startswith(('backbone.', 'roi_head.shared_head.'))] == []
    assert _groups(missing) == {
        'rpn_head', 'roi_head.bbox_head.fc_cls', 'roi_head.bbox_head.fc_reg', 'roi_head.mask_head'
    }
    det = model.state_dict()
    src = _sub(sd, 'backbone.')
    stem_to_res4 = {k: v for k, v in src.items() if not k.startswith('layer4.')}
    _assert_same(_sub(det, 'backbone.'), stem_to_res4)
    _assert_same(_sub(det, 'roi_head.shared_head.layer4.'), _sub(src, 'layer4.'))
    assert len(_sub(det, 'roi_head.shared_head.')) == 30  # two BasicBlocks + downsample


def test_c4_shared_head_option_and_errors(soco_fpn, tmp_path):
    path, sd = soco_fpn
    # explicit --c4-shared-head on any ResNet checkpoint (here the FPN one, backbone only)
    obj = _extract([path, tmp_path / 'c4.pth', '--target', 'mmdet', '--c4-shared-head'])
    assert obj['meta']['selection'].startswith('explicit')
    _assert_same(
        _sub(obj['state_dict'], 'roi_head.shared_head.layer4.'), _sub(sd, 'backbone.layer4.'))
    assert not any(k.startswith('neck.') for k in obj['state_dict'])
    with pytest.raises(ValueError, match='only for --target mmdet'):
        extract_weights(str(path), 'mmseg', c4_shared_head=True)
    no_layer4 = {k: v for k, v in sd.items() if not k.startswith('backbone.layer4.')}
    torch.save({'state_dict': no_layer4}, tmp_path / 'no_layer4.pth')
    with pytest.raises(ValueError, match=r'no_layer4\.pth.*backbone\.layer4\.'):
        extract_weights(str(tmp_path / 'no_layer4.pth'), 'mmdet', c4_shared_head=True)


# --------------------------------------------------------------------------------- configs
def test_soco_benchmark_configs():
    soco_toy = Config.fromfile(str(SOCO_TOY['fpn'])).model
    toy = Config.fromfile(str(TOY_DET))
    head, soco_head = toy.model.roi_head.bbox_head, soco_toy.roi_head.bbox_head
    for key in ('in_channels', 'conv_out_channels', 'roi_feat_size', 'fc_out_channels'):
        assert head[key] == soco_head[key], key
    assert toy.model.neck.in_channels == soco_toy.neck.in_channels
    assert toy.model.neck.out_channels == soco_toy.neck.out_channels
    assert toy.model.backbone.depth == soco_toy.backbone.depth
    for name in ('mask-rcnn_r50_fpn_soco-head_syncbn-1x_coco.py',
                 'mask-rcnn_r50_fpn_soco-head_syncbn-2x_coco.py',
                 'toy/mask-rcnn_r18_fpn_soco-head_1xb4-toy_toyscenes.py'):
        cfg = Config.fromfile(str(DET / name))
        assert cfg.load_from == '' and cfg.model.backbone.init_cfg is None
        assert cfg.optim_wrapper.optimizer.weight_decay == 2.5e-5
        bbox = cfg.model.roi_head.bbox_head
        assert bbox.type == 'Shared4Conv1FCBBoxHead'
        if 'toy' not in name:
            dims = (bbox.in_channels, bbox.conv_out_channels, bbox.fc_out_channels)
            assert dims == (256, 256, 1024)
            for part in (cfg.model.backbone, cfg.model.neck, bbox, cfg.model.roi_head.mask_head):
                assert part.norm_cfg.type == 'SyncBN'
            assert cfg.train_cfg.max_epochs == (24 if '2x' in name else 12)
    c4 = Config.fromfile(str(C4_DET))
    assert c4.load_from == '' and c4.model.backbone.init_cfg is None
    assert c4.model.backbone.style == c4.model.roi_head.shared_head.style == 'pytorch'
    assert c4.model.data_preprocessor.bgr_to_rgb is True
    assert c4.model.data_preprocessor.std == [58.395, 57.12, 57.375]
    for part in (c4.model.backbone, c4.model.roi_head.shared_head):
        assert part.norm_cfg.type == 'SyncBN' and part.norm_eval is False
    assert c4.model.backbone.frozen_stages == -1
    assert c4.optim_wrapper.optimizer.weight_decay == 2.5e-5
    assert [s[1] for s in c4.train_dataloader.dataset.pipeline[2].scales][::5] == [640, 800]
    # the C4 backbone stops at res4 and the RoI head's res5 is named layer4
    assert c4.model.backbone.num_stages == 3 and c4.model.roi_head.shared_head.stage == 3
