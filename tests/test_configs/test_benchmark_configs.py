"""Transfer benchmark configs: they parse, build without downloads, load our pretrained backbones
with every key, and the toy variants train and evaluate end to end on toy scenes."""
import ast
import copy
import json
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / 'configs' / 'benchmarks'
DATA_BASES = REPO / 'configs' / '_base_' / 'datasets'
SCOPES = {'mmdetection': 'mmdet', 'mmsegmentation': 'mmseg', 'mmpretrain': 'mmpretrain'}
# svm/ holds configs of tools/benchmarks/voc07_svm.py, not of a training tool
ALL_CONFIGS = sorted(p for p in BENCH.rglob('*.py') if p.relative_to(BENCH).parts[0] in SCOPES)
TOY_CONFIGS = [p for p in ALL_CONFIGS if 'toy' in p.parent.parts]
PAPER_CONFIGS = [p for p in ALL_CONFIGS if 'toy' not in p.parent.parts]
PRETRAINED = dict(type='Pretrained', checkpoint='', prefix='backbone.')
# mmseg's VisionTransformer.init_weights ignores `prefix` and loads bare keys, which is what
# `extract_weights.py --target mmseg` writes for a ViT; its configs carry no prefix.
PRETRAINED_MMSEG_VIT = dict(type='Pretrained', checkpoint='')

# SoCo configs load a whole export (backbone + FPN + box head, or C4 backbone + res5 head) with
# `load_from` after init instead of a backbone init_cfg (configs/benchmarks/README.md, "SoCo").
LOAD_FROM_PLACEHOLDER = ''


def loads_whole_file(cfg: Config) -> bool:
    """Whether a config takes its pretrained weights from ``load_from`` (the SoCo configs)."""
    return cfg.get('load_from') is not None


# The tiny ViT of the toy UperNet (its mmpretrain twin is what a toy pretraining would train).
TOY_VIT = dict(embed_dims=192, num_layers=4, num_heads=3, feedforward_channels=768)


def rel(path: Path) -> str:
    return str(path.relative_to(BENCH))


def load(path: Path) -> Config:
    return Config.fromfile(str(path))


def build_model(cfg: Config) -> torch.nn.Module:
    """Build ``cfg.model`` in the config's scope, as mmengine's Runner does."""
    init_default_scope(cfg.default_scope)
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    return MODELS.build(model_cfg)


def strings(obj):
    """Every string inside a nested dict/list config value."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from strings(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from strings(value)


def base_files(path: Path):
    """The ``_base_`` entries of a config file, read without executing it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == '_base_':
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


# Toy configs that inherit another toy config (to reuse its sizes) and the paper config each
# mirrors; paper configs that share another config's toy mirror or have none.
TOY_MIRRORS = {
    'mmdetection/toy/mask-rcnn_r18_fpn_soco-head_1xb4-toy_toyscenes.py':
    'mmdetection/mask-rcnn_r50_fpn_soco-head_syncbn-1x_coco.py',
}
WITHOUT_TOY = {
    'mmdetection/mask-rcnn_r50_fpn_syncbn-2x_coco.py',
    'mmdetection/mask-rcnn_r50_fpn_soco-head_syncbn-2x_coco.py',
    'mmdetection/mask-rcnn_r50-c4_soco_syncbn-1x_coco.py',  # loaded at R18 by test_soco_transfer
}


def paper_of(toy: Path) -> Path:
    """The paper config a toy config mirrors: its first base, or the one in TOY_MIRRORS."""
    if rel(toy) in TOY_MIRRORS:
        return (BENCH / TOY_MIRRORS[rel(toy)]).resolve()
    return (toy.parent / base_files(toy)[0]).resolve()


def test_config_inventory():
    names = {rel(p) for p in ALL_CONFIGS}
    for name in ('mmdetection/mask-rcnn_r50_fpn_syncbn-1x_coco.py',
                 'mmdetection/mask-rcnn_r50_fpn_syncbn-2x_coco.py',
                 'mmdetection/retinanet_r50_fpn_1x_coco.py', 'mmdetection/fcos_r50_fpn_1x_coco.py',
                 'mmsegmentation/upernet_r50_4xb4-160k_ade20k-512x512.py',
                 'mmsegmentation/upernet_vit-b16_mln_8xb2-160k_ade20k-512x512.py',
                 'mmpretrain/resnet50_8xb512-linear-coslr-90e_in1k.py',
                 'mmpretrain/resnet50_8xb256-finetune-100e_in1k.py',
                 'mmdetection/toy/mask-rcnn_r18_fpn_1xb4-toy_toyscenes.py',
                 'mmdetection/mask-rcnn_r50_fpn_soco-head_syncbn-1x_coco.py',
                 'mmdetection/mask-rcnn_r50_fpn_soco-head_syncbn-2x_coco.py',
                 'mmdetection/mask-rcnn_r50-c4_soco_syncbn-1x_coco.py',
                 'mmdetection/toy/mask-rcnn_r18_fpn_soco-head_1xb4-toy_toyscenes.py'):
        assert name in names, name
    # every paper config has a toy mirror, and every toy config mirrors a paper config
    mirrored = {paper_of(t) for t in TOY_CONFIGS}
    without = {(BENCH / name).resolve() for name in WITHOUT_TOY}
    assert mirrored == {p.resolve() for p in PAPER_CONFIGS} - without
    readme = (BENCH / 'README.md').read_text()
    for path in ALL_CONFIGS:
        assert path.name in readme, f'{rel(path)} is missing from configs/benchmarks/README.md'


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=rel)
def test_config_parses_and_builds_offline(path):
    cfg = load(path)
    assert cfg.default_scope == SCOPES[path.relative_to(BENCH).parts[0]]
    assert cfg.custom_imports == dict(imports=['mmvisrep'], allow_failed_imports=False)
    backbone = cfg.model.backbone
    if loads_whole_file(cfg):
        assert backbone.init_cfg is None and cfg.load_from == LOAD_FROM_PLACEHOLDER
    elif cfg.default_scope == 'mmseg' and backbone.type == 'VisionTransformer':
        assert backbone.init_cfg == PRETRAINED_MMSEG_VIT
    else:
        assert backbone.init_cfg == PRETRAINED
    # nothing would be fetched at init: no URL schemes, no stock `pretrained` files
    assert cfg.model.get('pretrained') is None
    urls = [s for s in strings(cfg.model.to_dict()) if '://' in s or s.endswith('.pth')]
    assert urls == []

    model = build_model(cfg)
    n_params = sum(p.numel() for p in model.backbone.parameters())
    shared_head = getattr(getattr(model, 'roi_head', None), 'shared_head', None)
    if shared_head is not None:  # C4: res5 is the RoI head's shared head
        n_params += sum(p.numel() for p in shared_head.parameters())
    if backbone.type == 'ResNet':
        assert type(model.backbone).__name__ == 'ResNet'
        assert hasattr(model.backbone, 'conv1')  # 7x7 stem, not ResNetV1c's deep stem
        # ResNet-50 has 23.5M backbone parameters, ResNet-18 11.2M
        expected = {50: 23_508_032, 18: 11_176_512}[backbone.depth]
        assert n_params == expected
    norm_types = {type(m).__name__ for m in model.modules()}
    if 'toy' in path.parent.parts:
        assert 'SyncBatchNorm' not in norm_types  # gloo on the CPU has no SyncBN
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert cfg[name].num_workers <= 1 and cfg[name].persistent_workers is False
        assert cfg.default_hooks.logger.interval <= 10
    elif 'BN' in str(backbone.get('norm_cfg', '')):
        assert 'SyncBatchNorm' in norm_types


@pytest.mark.parametrize(
    'name', ['mask-rcnn_r50_fpn_syncbn-1x_coco.py', 'mask-rcnn_r50_fpn_syncbn-2x_coco.py'])
def test_mask_rcnn_soco_orl_protocol(name):
    cfg = load(BENCH / 'mmdetection' / name)
    m = cfg.model
    assert (m.backbone.frozen_stages, m.backbone.norm_eval, m.backbone.style) == (-1, False,
                                                                                  'pytorch')
    for part in (m.backbone, m.neck, m.roi_head.bbox_head, m.roi_head.mask_head):
        assert part.norm_cfg == dict(type='SyncBN', requires_grad=True)
    assert m.roi_head.bbox_head.type == 'Shared4Conv1FCBBoxHead'
    resize = cfg.train_dataloader.dataset.pipeline[2]
    assert resize.type == 'RandomChoiceResize'
    assert [s[1] for s in resize.scales] == [640, 672, 704, 736, 768, 800]
    epochs = {'1x': 12, '2x': 24}[name.split('-')[-1][:2]]
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.param_scheduler[1].milestones == {12: [8, 11], 24: [16, 22]}[epochs]


def test_transfer_protocol_details():
    fcos = load(BENCH / 'mmdetection/fcos_r50_fpn_1x_coco.py').model
    assert fcos.backbone.style == 'pytorch' and fcos.data_preprocessor.bgr_to_rgb is True
    assert fcos.data_preprocessor.std == [58.395, 57.12, 57.375]
    assert fcos.backbone.norm_cfg.requires_grad is True and fcos.backbone.frozen_stages == -1
    upernet = load(BENCH / 'mmsegmentation/upernet_r50_4xb4-160k_ade20k-512x512.py').model
    assert upernet.backbone.type == 'ResNet' and upernet.backbone.norm_cfg.type == 'SyncBN'
    vit = load(BENCH / 'mmsegmentation/upernet_vit-b16_mln_8xb2-160k_ade20k-512x512.py')
    assert vit.model.neck.type == 'MultiLevelNeck'
    assert vit.model.backbone.final_norm is True
    assert vit.optim_wrapper.optimizer.type == 'AdamW'
    linear = load(BENCH / 'mmpretrain/resnet50_8xb512-linear-coslr-90e_in1k.py')
    assert linear.model.backbone.frozen_stages == 4
    assert linear.optim_wrapper.optimizer.type == 'LARS'
    assert linear.train_cfg.max_epochs == 90 and linear.val_cfg is not None
    finetune = load(BENCH / 'mmpretrain/resnet50_8xb256-finetune-100e_in1k.py')
    assert finetune.train_cfg.max_epochs == 100
    assert finetune.param_scheduler[-1].end == 100
    assert finetune.model.backbone.get('frozen_stages', -1) == -1


@pytest.mark.parametrize('toy', TOY_CONFIGS, ids=rel)
def test_toy_config_keeps_the_paper_protocol(toy):
    """A toy config changes sizes, data and schedule, not the model family or what is frozen."""
    t, p = load(toy), load(paper_of(toy))
    assert t.default_scope == p.default_scope
    assert t.model.type == p.model.type and t.model.backbone.type == p.model.backbone.type
    for key in ('frozen_stages', 'norm_eval', 'style', 'final_norm', 'out_indices'):
        if key == 'out_indices' and t.model.backbone.type == 'VisionTransformer':
            continue  # a 4-layer ViT has other layer indices
        assert t.model.backbone.get(key) == p.model.backbone.get(key), key
    for head in ('neck', 'rpn_head', 'roi_head', 'bbox_head', 'decode_head', 'auxiliary_head',
                 'head'):
        if head in p.model:
            assert t.model[head].type == p.model[head].type
    if 'roi_head' in p.model:
        assert t.model.roi_head.bbox_head.type == p.model.roi_head.bbox_head.type
    assert t.optim_wrapper.optimizer.type == p.optim_wrapper.optimizer.type
    assert type(t.train_cfg.get('max_epochs', t.train_cfg.get('max_iters'))) is int
    assert [s.type for s in t.param_scheduler] == [s.type for s in p.param_scheduler]


def test_toy_class_tables_match_the_generator(toy_scenes):
    from mmvisrep.datasets.toy_scenes.classes import THING_NAMES, seg_class_names
    from mmvisrep.datasets.toy_stuff_dataset import ToySceneStuffDataset

    instance = Config.fromfile(str(DATA_BASES / 'toy_scenes_instance.py'))
    assert instance.toy_classes == THING_NAMES
    coco = json.loads((toy_scenes / 'annotations/instances_val2017.json').read_text())
    cats = sorted(coco['categories'], key=lambda c: c['id'])
    assert [(c['id'], c['name']) for c in cats] == list(enumerate(instance.toy_classes, 1))

    cls = Config.fromfile(str(DATA_BASES / 'toy_scenes_cls.py'))
    assert cls.toy_classes == tuple((toy_scenes / 'meta/classes.txt').read_text().split())

    stuff = Config.fromfile(str(DATA_BASES / 'toy_scenes_stuff.py'))
    assert stuff.toy_num_classes == len(seg_class_names()) == len(
        ToySceneStuffDataset.METAINFO['classes']) == 16


# ---------------------------------------------------------------------------------------------
# Pretrained loading: an extract_weights-style file fills the downstream backbone completely.


@pytest.fixture(scope='module')
def resnet18_weights(tmp_path_factory):
    """A random mmpretrain ResNet-18 saved as ``extract_weights.py --target ...`` writes it."""
    from mmpretrain.models import ResNet

    torch.manual_seed(0)
    net = ResNet(depth=18)
    net.init_weights()
    for m in net.modules():  # distinct BN statistics, so buffers are checked too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.num_batches_tracked.fill_(7)
    state = {'backbone.' + k: v.clone() for k, v in net.state_dict().items()}
    path = tmp_path_factory.mktemp('weights') / 'r18_backbone.pth'
    torch.save({'state_dict': state, 'meta': {'init_prefix': 'backbone.'}}, path)
    return path, {k[len('backbone.'):]: v for k, v in state.items()}


def mmpretrain_tiny_vit():
    from mmpretrain.models import VisionTransformer
    return VisionTransformer(
        arch=TOY_VIT,
        img_size=128,
        patch_size=16,
        out_indices=(0, 1, 2, 3),
        out_type='featmap',
        final_norm=True)


@pytest.fixture(scope='module')
def tiny_vit_weights(tmp_path_factory):
    """A random mmpretrain tiny ViT exported with ``extract_weights(..., 'mmseg')``."""
    from mmvisrep.utils.weight_conversion import extract_weights, save_weights

    torch.manual_seed(0)
    vit = mmpretrain_tiny_vit()
    vit.init_weights()
    with torch.no_grad():  # non-trivial norms and biases, so a wrong mapping shows
        for name, p in vit.named_parameters():
            if name.endswith('bias') or '.ln' in name or name.startswith('ln'):
                p.uniform_(-0.5, 0.5).add_(1.0 if name.endswith('weight') else 0.0)
    root = tmp_path_factory.mktemp('vit')
    src = root / 'pretrain.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in vit.state_dict().items()}}, src)
    obj = extract_weights(str(src), 'mmseg')
    out = save_weights(obj, str(root / 'vit_mmseg.pth'), 'mmseg')
    return Path(out), obj['state_dict'], vit


R18_TOYS = [p for p in TOY_CONFIGS if '_r18_' in p.name or p.name.startswith('resnet18')]


@pytest.mark.parametrize('path', R18_TOYS, ids=rel)
def test_toy_backbone_holds_the_pretrained_resnet(path, resnet18_weights):
    ckpt, expected = resnet18_weights
    cfg = load(path)
    whole = loads_whole_file(cfg)
    if not whole:
        cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    model = build_model(cfg)
    model.init_weights()
    if whole:  # what the Runner does with load_from after init
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, str(ckpt), map_location='cpu')
    got = model.backbone.state_dict()
    assert sorted(got) == sorted(expected)  # no missing, no unexpected backbone key
    different = [k for k in expected if not torch.equal(got[k], expected[k])]
    assert different == []


def test_toy_vit_upernet_holds_the_pretrained_vit(tiny_vit_weights):
    ckpt, expected, source_vit = tiny_vit_weights
    path = BENCH / 'mmsegmentation/toy/upernet_vit-tiny_mln_1xb4-toy_toyscenes.py'
    cfg = load(path)
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    model = build_model(cfg)
    model.init_weights()
    got = model.backbone.state_dict()
    assert sorted(got) == sorted(expected)
    assert [k for k in expected if not torch.equal(got[k], expected[k])] == []
    # the converted backbone computes what the pretrained mmpretrain ViT computed
    model.eval()
    source_vit.eval()
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        ours, theirs = model.backbone(x), source_vit(x)
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape == (2, 192, 8, 8)
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# End to end: every toy config trains a few iterations and evaluates on the toy-scene fixture.

METRICS = {
    'mmdet': ('coco/bbox_mAP', ),
    'mmseg': ('mIoU', ),
    'mmpretrain': ('accuracy/top1', ),
}


def point_at(cfg: Config, root: Path) -> None:
    """Point a toy config at another toy-scene root (the overrides the README documents)."""
    data_root = str(root) + '/'
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = data_root
    for name in ('val_evaluator', 'test_evaluator'):
        if 'ann_file' in cfg[name]:
            cfg[name].ann_file = data_root + 'annotations/instances_val2017.json'


@pytest.mark.parametrize('path', TOY_CONFIGS, ids=rel)
def test_toy_config_trains_and_evaluates(path, toy_scenes, resnet18_weights, tiny_vit_weights,
                                         tmp_path):
    from mmengine.runner import Runner

    cfg = load(path)
    point_at(cfg, toy_scenes)
    is_vit = cfg.model.backbone.type == 'VisionTransformer'
    ckpt = tiny_vit_weights[0] if is_vit else resnet18_weights[0]
    if loads_whole_file(cfg):
        cfg.load_from = str(ckpt)
    else:
        cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    cfg.work_dir = str(tmp_path)
    cfg.visualizer.pop('name', None)  # one visualizer instance per runner, not a shared one
    if cfg.train_cfg.get('by_epoch', 'max_epochs' in cfg.train_cfg):
        cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = 1
        cfg.default_hooks.checkpoint.interval = 1
        last_ckpt = 'epoch_1.pth'
    else:
        cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 3
        cfg.default_hooks.checkpoint.interval = 3
        last_ckpt = 'iter_3.pth'
    # after 3 iterations no detection may pass the 0.05 score threshold, and an empty result
    # has no metrics at all: keep every detection
    test_cfg = cfg.model.get('test_cfg') or {}
    for part in (test_cfg, test_cfg.get('rcnn')):
        if part and 'score_thr' in part:
            part.score_thr = 0.0
    runner = Runner.from_cfg(cfg)
    runner.train()

    keys = METRICS[cfg.default_scope]
    if 'segm' in cfg.val_evaluator.get('metric', ()):
        keys += ('coco/segm_mAP', )
    for key in keys:
        value = runner.message_hub.get_scalar(f'val/{key}').current()
        assert math.isfinite(value) and value >= 0, (key, value)
    assert runner.iter >= 1
    assert (tmp_path / last_ckpt).is_file()
