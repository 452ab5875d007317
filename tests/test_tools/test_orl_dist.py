"""tools/dist_train.sh trains the toy ORL stage-3 config with 2 CPU processes (gloo) on a small
correspondence json in the official layout (built from the toy scenes' ground-truth boxes)."""
import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/orl/stage3/orl_resnet18_1xb32-toy-coslr-10e_toyscenes.py'


def _write_toy_correspondence(*args, **kwargs):
    """The json builder of tests/test_datasets/test_orl_dataset.py (loaded by path)."""
    path = REPO / 'tests/test_datasets/test_orl_dataset.py'
    spec = importlib.util.spec_from_file_location('_orl_dataset_tests', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_toy_correspondence(*args, **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_orl_stage3_dist_train_two_processes(toy_scenes, tmp_path):
    ann = _write_toy_correspondence(toy_scenes, tmp_path / 'corr.json')
    work_dir = tmp_path / 'work'
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(_free_port()),
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1')
    cmd = [
        'bash',
        str(REPO / 'tools/dist_train.sh'),
        str(CONFIG), '2', '--work-dir',
        str(work_dir), '--cfg-options', f'train_dataloader.dataset.data_root={toy_scenes}/',
        f'train_dataloader.dataset.ann_file={ann}', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=1', 'model.neck.hid_channels=32',
        'model.head.predictor.hid_channels=32', 'default_hooks.logger.interval=1'
    ]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log
    assert 'ORLDataset: 12 images' in log
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu')
    # 12 images over 2 ranks x batch 2 = 3 iterations per epoch on each rank
    assert ckpt['meta']['iter'] == 3
    state = ckpt['state_dict']
    for head in ('head', 'intra_head', 'inter_head'):
        assert f'{head}.predictor.fc0.weight' in state
    assert int(state['target_net.steps']) == 3
    for name in ('loss_global', 'loss_intra', 'loss_inter'):
        values = [float(v) for v in re.findall(rf'{name}: (-?[\d.]+)', log)]
        assert len(values) >= 3 and all(-4 <= v <= 4 for v in values), name
