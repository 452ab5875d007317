"""configs/soco: every model builds, toy configs run a loss step, and the paper schedule is
SoCo's (10 warm-up epochs from lr/100, cosine to 1e-6, per iteration; LARS lr 1.0 x 2048/256)."""
from pathlib import Path

import numpy as np
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
SOCO_CONFIGS = sorted((REPO / 'configs/soco').glob('*.py'))
PAPER = [p for p in SOCO_CONFIGS if 'toy' not in p.name]
TOY = [p for p in SOCO_CONFIGS if 'toy' in p.name]

init_default_scope('mmpretrain')


def _views(cfg):
    dataset = cfg.train_dataloader.dataset
    pipeline = dataset.pipeline if 'pipeline' in dataset else dataset.datasets[0].pipeline
    return [t for t in pipeline if t['type'] == 'SoCoViews'][0]


def test_config_set_is_complete():
    names = {p.stem for p in SOCO_CONFIGS}
    for name in ('soco_resnet50-fpn_16xb128-coslr-100e_in1k',
                 'soco_resnet50-fpn_16xb128-coslr-400e_in1k',
                 'soco-star_resnet50-fpn_16xb128-coslr-400e_in1k',
                 'soco_resnet50-c4_16xb128-coslr-100e_in1k',
                 'soco_resnet50-c4_16xb128-coslr-400e_in1k',
                 'soco_resnet50-fpn_16xb128-coslr-100e_coco-plus',
                 'soco_resnet50-fpn_16xb128-coslr-530e_coco-plus'):
        assert name in names
    assert len(TOY) == 3


@pytest.mark.parametrize('path', PAPER, ids=lambda p: p.stem)
def test_paper_configs(path):
    """Official recipe numbers, and the R50 model builds with mmdet-compatible keys."""
    cfg = Config.fromfile(str(path))
    assert cfg.optim_wrapper.optimizer.type == 'SoCoLARS'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1.0 * 16 * 128 / 256)
    assert cfg.optim_wrapper.optimizer.weight_decay == 1e-5
    assert cfg.optim_wrapper.constructor == 'SoCoLARSOptimWrapperConstructor'
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.model.base_momentum == 0.01 and cfg.model.end_momentum == 0.
    epochs = int(path.stem.split('coslr-')[1].split('e_')[0])
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.param_scheduler[1].end == epochs
    views = _views(cfg)
    c4 = '-c4_' in path.name
    assert views.variant == ('c4' if c4 else 'fpn_star' if 'soco-star' in path.name else 'fpn')
    model = MODELS.build(cfg.model)
    keys = model.state_dict().keys()
    if c4:
        assert model.res5_roi_head and model.roi_align_cfg['output_size'] == 14
        assert not any(k.startswith(('neck.', 'roi_head.')) for k in keys)
    else:
        assert 'roi_head.bbox_head.shared_fcs.0.weight' in keys
        assert model.roi_head.bbox_head.shared_fcs[0].in_features == 256 * 7 * 7
        assert 'neck.fpn_convs.3.bn.weight' in keys
    assert model.projector.fc0.out_features == 4096 and model.predictor.fc1.out_features == 256


def test_paper_schedule_numbers():
    """lr(0) = 8.0 / 100, lr(end of epoch 10) = 8.0, lr(end) ~ 1e-6, stepped per iteration."""
    cfg = Config.fromfile(str(REPO / 'configs/soco/soco_resnet50-fpn_16xb128-coslr-100e_in1k.py'))
    optim = build_optim_wrapper(
        torch.nn.Linear(2, 2), dict(type='OptimWrapper', optimizer=dict(type='SoCoLARS', lr=8.0)))
    iters = 5  # iterations per epoch
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=optim), default_args=dict(epoch_length=iters))
        for s in cfg.param_scheduler
    ]
    lrs = []
    for _ in range(100 * iters):  # iteration-based: the runner steps them every iteration
        lrs.append(optim.get_lr()['lr'][0])
        for s in schedulers:
            s.step()
    assert lrs[0] == pytest.approx(0.08)
    assert lrs[10 * iters] == pytest.approx(8.0)
    # linear in between; mmengine reaches the base lr at the warm-up's last iteration (the
    # official one iteration later: a 2% difference at most, mid warm-up)
    warm = 10 * iters
    assert lrs[warm // 2] == pytest.approx(0.08 + (8.0 - 0.08) * (warm // 2) / (warm - 1))
    assert lrs[-1] == pytest.approx(1e-6, abs=1e-3)
    mid = 10 * iters + 45 * iters  # halfway through the cosine
    assert lrs[mid] == pytest.approx((8.0 + 1e-6) / 2, rel=1e-3)


@pytest.mark.parametrize('path', TOY, ids=lambda p: p.stem)
def test_toy_configs_run_a_loss_step(path):
    """Toy configs: CPU-sized model (BN, R18), toy data root, and a loss on toy-sized views."""
    cfg = Config.fromfile(str(path))
    assert cfg.train_dataloader.dataset.data_root == 'data/toy_scenes/'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert cfg.model.backbone.depth == 18 and cfg.model.backbone.norm_cfg.type == 'BN'
    views = _views(cfg)
    MessageHub.get_current_instance().update_info('max_iters', 10)
    cfg.model.data_preprocessor = cfg.data_preprocessor
    model = MODELS.build(cfg.model)
    model.init_weights()
    sizes = views.view_sizes
    num_pairs = len(sizes) - 1
    num_levels = 1 if views.variant == 'c4' else len(views.aware_range)
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(2):
        xy = rng.uniform(0, .5, (num_pairs, 2, 4, 2))
        boxes = np.concatenate([xy, xy + .4], -1).astype(np.float32)
        ids = np.full((num_pairs, 2, num_levels * 4), -1, dtype=np.int64)
        ids[:, 1] = -2  # the views' unused-slot sentinels differ
        ids[:, :, :4] = np.arange(1, 5)  # boxes 1..4 at level 0 in both views
        s = DataSample()
        s.set_field(boxes, 'soco_boxes')
        s.set_field(ids, 'soco_ids')
        samples.append(s)
    data = dict(
        inputs=[torch.randint(0, 256, (2, 3, s, s), dtype=torch.uint8) for s in sizes],
        data_samples=samples)
    data = model.data_preprocessor(data, True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss'])
    assert losses['pos_pairs'].item() == pytest.approx(4.)
