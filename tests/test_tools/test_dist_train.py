"""tools/dist_train.sh trains toy configs with 2 CPU processes (gloo): BYOL and SoCo."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
BYOL_CONFIG = REPO / 'configs/byol/byol_resnet18_1xb32-toy-10e_toyscenes.py'
SOCO_CONFIG = REPO / 'configs/soco/soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _dist_train(config, work_dir, options):
    """Run ``tools/dist_train.sh CONFIG 2`` for one epoch; return the log and the checkpoint."""
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    cmd = [
        'bash',
        str(REPO / 'tools/dist_train.sh'),
        str(config), '2', '--work-dir',
        str(work_dir), '--cfg-options', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=1', *options
    ]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log
    return log, torch.load(work_dir / 'epoch_1.pth', map_location='cpu')


def test_dist_train_byol_two_processes(toy_scenes, tmp_path):
    _, ckpt = _dist_train(BYOL_CONFIG, tmp_path, [
        f'train_dataloader.dataset.data_root={toy_scenes}/', 'model.neck.hid_channels=32',
        'model.head.predictor.hid_channels=32'
    ])
    # 12 images over 2 ranks x batch 2 = 3 iterations per epoch on each rank
    assert ckpt['meta']['iter'] == 3


def test_dist_train_soco_two_processes(toy_scenes, tmp_path):
    """Proposals from the tool, then the toy SoCo-FPN config on 2 ranks."""
    proposals = tmp_path / 'proposals'
    subprocess.run([
        sys.executable, 'tools/data/selective_search.py', 'generate', '--img-dir',
        f'{toy_scenes}/train2017', '--out-dir',
        str(proposals), '--prefix', 'train2017', '--workers', '1', '--no-progress'
    ],
                   cwd=REPO,
                   check=True,
                   capture_output=True,
                   env=dict(os.environ, OMP_NUM_THREADS='1'))
    proposal_file = proposals / 'train2017_ratio3size0308post.json'
    assert len(json.loads(proposal_file.read_text())) == 12
    log, ckpt = _dist_train(SOCO_CONFIG, tmp_path / 'work', [
        f'train_dataloader.dataset.data_root={toy_scenes}/',
        f'train_dataloader.dataset.proposal_file={proposal_file}',
        'model.projector.hid_channels=32', 'model.predictor.hid_channels=32',
        'default_hooks.logger.interval=1'
    ])
    assert ckpt['meta']['iter'] == 3
    # logged and finite: 2 view pairs x 2 directions of SoCo's -2 cos lie in [-8, 8]
    scalars = next((tmp_path / 'work').glob('*/vis_data/scalars.json'))
    losses = [json.loads(line)['loss'] for line in scalars.read_text().splitlines()]
    assert len(losses) == 3 and all(-8 <= v <= 8 for v in losses), losses
    # online and EMA target saved; the predictor has no target copy
    state = ckpt['state_dict']
    target = {k for k in state if k.startswith('target.module.')}
    assert target and not any('predictor' in k for k in target)
    assert all(f'target.module.{k}' in state for k in state
               if k.startswith(('backbone.', 'neck.', 'roi_head.', 'projector.')))
