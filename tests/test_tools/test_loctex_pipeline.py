"""LocTex toy pipeline end to end: toy LN records -> pretraining via tools/train.py -> attention
pictures -> backbone export -> toy Mask R-CNN fine-tune -> bbox / segm AP."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
LOCTEX = 'configs/loctex/loctex_resnet18_1xb16-toy-10e_toyscenes.py'
MASK_RCNN = 'configs/benchmarks/mmdetection/toy/mask-rcnn_r18_fpn_1xb4-toy_toyscenes.py'


def _run(cmd):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    result = subprocess.run([sys.executable, *cmd],
                            cwd=REPO,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=1200)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return log


def test_loctex_toy_pipeline(toy_scenes, tmp_path):
    work = tmp_path / 'loctex'
    _run([
        'tools/train.py', LOCTEX, '--work-dir',
        str(work), '--cfg-options', f'train_dataloader.dataset.data_root={toy_scenes}/',
        f'train_dataloader.dataset.index_cache={tmp_path}', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
        'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1'
    ])
    ckpt = work / 'epoch_1.pth'
    state = torch.load(ckpt, map_location='cpu')
    assert state['meta']['iter'] == 3  # 12 narratives, batch 4
    scalars = next(work.glob('*/vis_data/scalars.json')).read_text().splitlines()
    losses = [json.loads(line) for line in scalars if 'loss' in line]
    assert losses and all(k in losses[0]
                          for k in ('loss_contrastive', 'loss_attention')), losses[0]

    vis = tmp_path / 'attention'
    _run([
        'tools/analysis_tools/visualize_attention.py', LOCTEX,
        str(ckpt), '--data-root', f'{toy_scenes}/', '--out-dir',
        str(vis), '--num', '2', '--cfg-options', f'val_dataset_coco.index_cache={tmp_path}'
    ])
    assert len(list(vis.glob('*.png'))) == 2

    exported = tmp_path / 'loctex_mmdet.pth'
    _run([
        'tools/model_converters/extract_weights.py',
        str(ckpt),
        str(exported), '--target', 'mmdet'
    ])
    det = tmp_path / 'maskrcnn'
    data = [
        f'{name}.dataset.data_root={toy_scenes}/'
        for name in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    ann = f'{toy_scenes}/annotations/instances_val2017.json'
    log = _run([
        'tools/train.py', MASK_RCNN, '--work-dir',
        str(det), '--cfg-options', *data, f'val_evaluator.ann_file={ann}',
        f'test_evaluator.ann_file={ann}', f'model.backbone.init_cfg.checkpoint={exported}',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1'
    ])
    assert 'Loads checkpoint' in log or 'load checkpoint' in log.lower()
    assert 'coco/bbox_mAP' in log and 'coco/segm_mAP' in log
