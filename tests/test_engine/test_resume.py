"""A real train -> SIGKILL -> resume cycle through tools/train.py on toy scenes.

Guards the torch >= 2.6 ``weights_only`` allow-list (resume reads the message hub, numpy meta
and optimizer state of a full mmengine checkpoint) and that resuming continues, not restarts.
"""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/byol/byol_resnet18_1xb32-toy-10e_toyscenes.py'
ITERS_PER_EPOCH = 3  # 12 toy images / batch 4


def _train_cmd(work_dir, toy_scenes, max_epochs, *extra):
    return [
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(CONFIG), '--work-dir',
        str(work_dir), *extra, '--cfg-options',
        f'train_dataloader.dataset.data_root={toy_scenes}/', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0', f'train_cfg.max_epochs={max_epochs}',
        'model.neck.hid_channels=32', 'model.head.predictor.hid_channels=32',
        'default_hooks.checkpoint.max_keep_ckpts=-1'
    ]


def _last_epoch(work_dir: Path) -> int:
    """The epoch ``last_checkpoint`` names (0 while it is missing or being written)."""
    path = work_dir / 'last_checkpoint'
    match = re.search(r'epoch_(\d+)\.pth$', path.read_text().strip()) if path.exists() else None
    return int(match.group(1)) if match else 0


def test_train_kill_resume(toy_scenes, tmp_path):
    work_dir = tmp_path / 'byol'
    # 1) a long run, killed without warning once two epochs are checkpointed
    first_log = tmp_path / 'first_run.log'
    with open(first_log, 'w') as log_file:
        proc = subprocess.Popen(
            _train_cmd(work_dir, toy_scenes, 1000),
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    try:
        # mmengine names a checkpoint in last_checkpoint once it is saved: polling the .pth
        # file alone raced the hook on a loaded machine
        while _last_epoch(work_dir) < 2:
            assert proc.poll() is None, first_log.read_text()[-3000:]
            assert time.time() < deadline, 'no epoch_2.pth within 5 minutes'
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = _last_epoch(work_dir)
    assert killed_at >= 2

    # the full training checkpoint loads under torch's weights_only=True default
    ckpt = torch.load(work_dir / f'epoch_{killed_at}.pth', map_location='cpu')
    assert ckpt['meta']['epoch'] == killed_at
    assert ckpt['meta']['iter'] == killed_at * ITERS_PER_EPOCH
    assert {'state_dict', 'optimizer', 'message_hub', 'param_schedulers'} <= set(ckpt)

    # 2) resume: continues from the saved epoch and trains exactly one more
    result = subprocess.run(
        _train_cmd(work_dir, toy_scenes, killed_at + 1, '--resume'),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert f'resumed epoch: {killed_at}, iter: {killed_at * ITERS_PER_EPOCH}' in log
    # no epoch before the resumed one is trained again
    trained_epochs = {int(e) for e in re.findall(r'Epoch\(train\)\s*\[(\d+)\]', log)}
    assert trained_epochs == {killed_at + 1}
    final = torch.load(work_dir / f'epoch_{killed_at + 1}.pth', map_location='cpu')
    assert final['meta']['iter'] == (killed_at + 1) * ITERS_PER_EPOCH
    # the weights moved on from the resumed state
    key = 'backbone.conv1.weight'
    assert not torch.equal(final['state_dict'][key], ckpt['state_dict'][key])
