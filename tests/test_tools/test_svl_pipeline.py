"""SVL toy pipeline end to end, per visual loss: toy detector trained via tools/train.py ->
pseudo-labels by tools/data/extract_pseudo_labels.py -> caption list and Karpathy split by the
data tools -> pretraining via tools/train.py (1 epoch) -> zero-shot retrieval R@1/5/10 from the
val loop; and the SPL config on 2 CPU processes via tools/dist_train.sh.

The toy configs read the default layout under ``data/toy_scenes/`` (relative to the working
directory, as a user runs them), so the tools run in a scratch directory whose
``data/toy_scenes`` links to the session's toy scenes and holds the generated files.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / 'configs/svl/toy'
DETECTOR = REPO / 'configs/svl/detector/faster-rcnn_r18_fpn_1xb4-toy-8e_toyscenes.py'
RECALL_KEYS = [f'{d}/retrieval/Recall@{k}' for d in ('i2t', 't2i') for k in (1, 5, 10)]
TRAIN_OPTS = [
    'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
    'train_cfg.val_interval=1', 'param_scheduler.0.end=0.5', 'param_scheduler.1.begin=0.5',
    'param_scheduler.1.end=1', 'default_hooks.checkpoint.interval=1',
    'default_hooks.logger.interval=1'
]


def _run(cmd, cwd, env=None, timeout=900):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', **(env or {}))
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return log


def _link_layout(toy_scenes: Path, cwd: Path) -> Path:
    """``cwd/data/toy_scenes`` with the images, maps and annotations linked from the
    (read-only) session toy scenes; ``cwd/tests/data`` for the offline vocabulary."""
    root = cwd / 'data/toy_scenes'
    (root / 'annotations').mkdir(parents=True)
    for name in ('train2017', 'val2017', 'stuffthingmaps'):
        (root / name).symlink_to(toy_scenes / name, target_is_directory=True)
    for ann in (toy_scenes / 'annotations').iterdir():
        (root / 'annotations' / ann.name).symlink_to(ann)
    (cwd / 'tests').mkdir()
    (cwd / 'tests/data').symlink_to(REPO / 'tests/data', target_is_directory=True)
    return root


@pytest.fixture(scope='module')
def svl_toy(toy_scenes, tmp_path_factory):
    """Scratch working directory with everything the toy SVL configs read, made by the tools."""
    cwd = tmp_path_factory.mktemp('svl_cwd')
    root = _link_layout(toy_scenes, cwd)
    py = sys.executable
    det = cwd / 'work_dirs/detector'
    _run([
        py,
        str(REPO / 'tools/train.py'),
        str(DETECTOR), '--work-dir',
        str(det), '--cfg-options', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=3',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'default_hooks.checkpoint.interval=2'
    ], cwd)
    labels = root / 'pseudo_labels/train2017.json'
    _run([
        py,
        str(REPO / 'tools/data/extract_pseudo_labels.py'), 'extract',
        str(DETECTOR),
        str(det / 'epoch_2.pth'), '--img-dir',
        str(root / 'train2017'), '--ann-file',
        str(root / 'annotations/instances_train2017.json'), '--out',
        str(labels), '--no-progress'
    ], cwd)
    _run([
        py,
        str(REPO / 'tools/data/svl_caption_lists.py'), 'coco-captions',
        str(root / 'annotations/captions_train2017.json'), '--out',
        str(root / 'meta/svl_captions_train2017.jsonl')
    ], cwd)
    _run([
        py,
        str(REPO / 'tools/data/coco_captions_to_karpathy.py'),
        str(root / 'annotations/captions_val2017.json'),
        str(root / 'annotations/karpathy_val2017.json'), '--split', 'test'
    ], cwd)
    return cwd, json.loads(labels.read_text())


def _recalls(work: Path) -> dict:
    """The last val entry of the run's scalars.json."""
    lines = next(work.glob('*/vis_data/scalars.json')).read_text().splitlines()
    vals = [json.loads(line) for line in lines if 'i2t/retrieval/Recall@1' in line]
    assert vals, 'no retrieval metrics were logged'
    return vals[-1]


def _train_losses(work: Path) -> list:
    lines = next(work.glob('*/vis_data/scalars.json')).read_text().splitlines()
    return [json.loads(line) for line in lines if '"loss"' in line]


def test_toy_detector_pseudo_labels(svl_toy, toy_scenes):
    """The extraction covers every toy training image with 10..100 labels of the 8 classes."""
    _, labels = svl_toy
    images = sorted(p.name for p in (toy_scenes / 'train2017').glob('*.jpg'))
    assert sorted(labels['images']) == images
    assert labels['info']['classes'] == [
        'circle', 'square', 'triangle', 'star', 'ring', 'cross', 'hexagon', 'ellipse'
    ]
    for rec in labels['images'].values():
        assert 10 <= len(rec['labels']) <= 100
        assert all(0 <= c < 8 for c in rec['labels'])


@pytest.mark.parametrize('config, loss_key',
                         [('svl_vit-tiny-p32_1xb8-toy-4e_toyscenes.py', None),
                          ('svl-ssul_vit-tiny-p32_1xb8-toy-4e_toyscenes.py', 'loss_ssul'),
                          ('svl-segl_vit-tiny-p32_1xb8-toy-4e_toyscenes.py', 'loss_segl'),
                          ('svl-spl36_vit-tiny-p32_1xb8-toy-4e_toyscenes.py', 'loss_spl'),
                          ('svl-spl100_vit-tiny-p32_1xb8-toy-4e_toyscenes.py', 'loss_spl'),
                          ('svl-segl_resnet18-tiny_1xb8-toy-4e_toyscenes.py', 'loss_segl'),
                          ('svl-spl36_resnet18-tiny_1xb8-toy-4e_toyscenes.py', 'loss_spl')])
def test_toy_pretraining_reports_retrieval(svl_toy, config, loss_key):
    cwd, _ = svl_toy
    work = cwd / 'work_dirs' / Path(config).stem
    _run([
        sys.executable,
        str(REPO / 'tools/train.py'),
        str(TOY / config), '--work-dir',
        str(work), '--cfg-options', *TRAIN_OPTS
    ], cwd)
    ckpt = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)
    # 12 toy images: 12 samples with stuff maps + 60 caption-list samples, batch 4
    assert ckpt['meta']['iter'] == 18
    losses = _train_losses(work)
    assert len(losses) == 18
    for entry in losses:
        assert {'loss_mlm', 'loss_itm'} <= set(entry)
        assert all(torch.isfinite(torch.tensor(v)) for k, v in entry.items() if 'loss' in k)
    others = {'loss_ssul', 'loss_segl', 'loss_spl'} - {loss_key}
    assert not others & set(losses[0])
    if loss_key is not None:
        assert all(loss_key in entry for entry in losses)
    if loss_key == 'loss_segl':
        # only the 12 COCO-part samples carry maps: some batches have none (loss exactly 0)
        assert any(entry['loss_segl'] > 0 for entry in losses)
    recalls = _recalls(work)
    for key in RECALL_KEYS:
        assert 0. <= recalls[key] <= 100., (key, recalls)
    # 6 val images, 30 captions: R@10 of image->text is not trivially 100 (30 candidates),
    # text->image R@10 over 6 images is 100
    assert recalls['t2i/retrieval/Recall@10'] == 100.
    for d in ('i2t', 't2i'):
        assert recalls[f'{d}/retrieval/Recall@1'] <= recalls[f'{d}/retrieval/Recall@5'] <= \
            recalls[f'{d}/retrieval/Recall@10']


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_toy_spl_two_processes(svl_toy):
    """tools/dist_train.sh: SPL pretraining on 2 gloo ranks, retrieval under DDP."""
    cwd, _ = svl_toy
    work = cwd / 'work_dirs/dist_spl36'
    config = TOY / 'svl-spl36_vit-tiny-p32_1xb8-toy-4e_toyscenes.py'
    log = _run([
        'bash',
        str(REPO / 'tools/dist_train.sh'),
        str(config), '2', '--work-dir',
        str(work), '--cfg-options', *TRAIN_OPTS, 'train_dataloader.batch_size=2'
    ],
               cwd,
               env=dict(PYTHON=sys.executable, PORT=str(_free_port())))
    assert 'Distributed training: True' in log
    ckpt = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 18  # 72 samples over 2 ranks x batch 2
    recalls = _recalls(work)
    assert recalls['t2i/retrieval/Recall@10'] == 100.
    assert all(0. <= recalls[k] <= 100. for k in RECALL_KEYS)
