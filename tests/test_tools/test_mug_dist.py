"""MUG under 2-process CPU DDP (gloo).

1. ``mp.spawn`` on the model: the caption loss is normalised by the all-reduced token count, so
   the mean of the per-rank losses and the DDP-averaged gradients equal the 1-process loss and
   gradients on the concatenated batch, although the ranks hold captions with different numbers
   of tokens. Masks are drawn per image with a per-image seed (mmpretrain's own masking code),
   so both runs mask the same patches.
2. ``tools/dist_train.sh`` on the toy MUG config for one epoch (needs the image-text datasets).
"""
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

REPO = Path(__file__).resolve().parents[2]
GLOBAL_BATCH = 4
CHECKED = ('backbone.patch_embed.projection.weight', 'backbone.layers.1.attn.qkv.weight',
           'neck.decoder_pred.weight', 'text_decoder.latent_proj.weight',
           'text_decoder.model.bert.embeddings.word_embeddings.weight',
           'text_decoder.model.bert.encoder.layer.0.crossattention.self.key.weight')
TOY_CONFIG = REPO / 'configs/mug/mug_vit-tiny-p16_1xb16-toy-10e_toyscenes.py'


def _helpers():
    """The synthetic-batch helpers of tests/test_models/test_mug.py (loaded by path)."""
    path = REPO / 'tests/test_models/test_mug.py'
    spec = importlib.util.spec_from_file_location('_mug_model_tests', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _per_image_masking(backbone, offset):
    """Make the backbone mask image i of this batch with seed 1000 + offset + i."""
    original = backbone.random_masking

    def random_masking(x, mask_ratio=0.75):
        parts = []
        for i in range(x.size(0)):
            torch.manual_seed(1000 + offset + i)
            parts.append(original(x[i:i + 1], mask_ratio))
        return tuple(torch.cat(p) for p in zip(*parts))

    backbone.random_masking = random_masking


def _step(model, inputs, samples):
    model.zero_grad()
    losses = model(inputs, samples, mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    return losses


def _worker(rank, world_size, port, out_dir):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    h = _helpers()
    model = h.build(h.tiny_mug_cfg(), seed=0)
    per_rank = GLOBAL_BATCH // world_size
    _per_image_masking(model.backbone, rank * per_rank)
    ddp = DistributedDataParallel(model)
    data = h.synthetic_batch(model, num=GLOBAL_BATCH, seed=3)
    part = slice(rank * per_rank, (rank + 1) * per_rank)
    losses = _step(ddp, data['inputs'][part], data['data_samples'][part])
    params = dict(model.named_parameters())
    torch.save(
        dict(
            losses={
                k: float(v)
                for k, v in losses.items()
            },
            grads={k: params[k].grad.clone()
                   for k in CHECKED}),
        Path(out_dir) / f'rank{rank}.pth')
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_process_loss_and_gradients_match_one_process(tmp_path):
    h = _helpers()
    model = h.build(h.tiny_mug_cfg(), seed=0)
    _per_image_masking(model.backbone, 0)
    data = h.synthetic_batch(model, num=GLOBAL_BATCH, seed=3)
    ref = _step(model, data['inputs'], data['data_samples'])
    params = dict(model.named_parameters())
    ref_grads = {k: params[k].grad.clone() for k in CHECKED}

    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    # the ranks hold 6 + 5 and 4 + 3 target tokens: a per-rank token mean would weight the
    # tokens of rank 1 more; the all-reduced count makes the mean of the rank losses exact
    tokens = [r['losses']['cap_tokens'] * 2 for r in ranks]
    assert tokens == [11, 7]
    for key in ('loss_rec', 'loss_cap'):
        values = [r['losses'][key] for r in ranks]
        assert values[0] != values[1]
        assert sum(values) / 2 == pytest.approx(ref[key].item(), rel=1e-5), key
    naive = (ranks[0]['losses']['loss_cap'] * 9 / 11 + ranks[1]['losses']['loss_cap'] * 9 / 7) / 2
    assert abs(naive - ref['loss_cap'].item()) > 1e-3
    for name in CHECKED:
        g0, g1 = ranks[0]['grads'][name], ranks[1]['grads'][name]
        torch.testing.assert_close(g0, g1)  # DDP all-reduced
        torch.testing.assert_close(g0, ref_grads[name], atol=1e-6, rtol=1e-4, msg=name)


def test_dist_train_toy_config_two_processes(toy_scenes, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    cmd = [
        'bash',
        str(REPO / 'tools/dist_train.sh'),
        str(TOY_CONFIG), '2', '--work-dir',
        str(tmp_path), '--cfg-options', f'train_dataloader.dataset.data_root={toy_scenes}/',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1'
    ]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log
    assert 'loss_cap' in log and 'loss_rec' in log
    ckpt = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu')
    # 12 toy images over 2 ranks x batch 2 = 3 iterations
    assert ckpt['meta']['iter'] == 3
    assert any(k.startswith('text_decoder.') for k in ckpt['state_dict'])
