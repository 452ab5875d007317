"""Every pretraining config parses, loads the plugin, and builds a model that trains."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
PRETRAIN_CONFIGS = sorted(
    p for p in (REPO / 'configs').rglob('*.py')
    if not {'_base_', 'benchmarks', 'detector'} & set(p.parts))
# offline detectors (pseudo-labels for SVL's SPL) are mmdet configs
DETECTOR_CONFIGS = sorted((REPO / 'configs').rglob('detector/*.py'))


def test_there_are_pretrain_configs():
    assert any(p.name.startswith('byol_') for p in PRETRAIN_CONFIGS)


@pytest.mark.parametrize('path', PRETRAIN_CONFIGS, ids=lambda p: p.stem)
def test_pretrain_config_parses_and_loads_plugin(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports == dict(imports=['mmvisrep'], allow_failed_imports=False)
    assert cfg.train_dataloader.collate_fn == dict(type='default_collate')
    assert cfg.env_cfg.dist_cfg.backend in ('gloo', 'nccl')


@pytest.mark.parametrize('path', DETECTOR_CONFIGS, ids=lambda p: p.stem)
def test_detector_config_parses_and_loads_plugin(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports == dict(imports=['mmvisrep'], allow_failed_imports=False)
    assert cfg.model.roi_head.bbox_head.num_classes == len(cfg.toy_classes)


def test_byol_toy_config_one_step():
    """The toy BYOL model builds from its config and one optimiser step lowers nothing to NaN."""
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(REPO / 'configs/byol/byol_resnet18_1xb32-toy-10e_toyscenes.py'))
    cfg.model.neck.hid_channels = 16
    cfg.model.head.predictor.hid_channels = 16
    cfg.model.data_preprocessor = cfg.data_preprocessor
    model = MODELS.build(cfg.model)
    size = cfg.crop_size
    data = {
        'inputs': [torch.randint(0, 255, (2, 3, size, size), dtype=torch.uint8)] * 2,
        'data_samples': [DataSample() for _ in range(2)]
    }
    data = model.data_preprocessor(data, training=True)
    # features of the toy input size: ResNet-18 at 64 px -> 512 x 2 x 2
    feats = model(data['inputs'][0], mode='tensor')
    assert feats[0].shape == (2, 512, size // 32, size // 32)
    losses = model(**data, mode='loss')
    # BYOL's loss is 2 * (2 - 2 cos) summed over both directions, bounded in [-4, 4]
    assert -4 <= losses['loss'].item() <= 4
    losses['loss'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
