"""tools/dist_train.sh trains the toy BYOL config with 2 CPU processes (gloo)."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/byol/byol_resnet18_1xb32-toy-10e_toyscenes.py'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_dist_train_two_processes(toy_scenes, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    cmd = [
        'bash',
        str(REPO / 'tools/dist_train.sh'),
        str(CONFIG), '2', '--work-dir',
        str(tmp_path), '--cfg-options', f'train_dataloader.dataset.data_root={toy_scenes}/',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_cfg.max_epochs=1', 'model.neck.hid_channels=32',
        'model.head.predictor.hid_channels=32'
    ]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log
    ckpt = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu')
    # 12 images over 2 ranks x batch 2 = 3 iterations per epoch on each rank
    assert ckpt['meta']['iter'] == 3
