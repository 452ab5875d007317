"""LocTex under 2-process CPU DDP (gloo): negatives are gathered across both ranks, so the mean of
the per-rank losses and the DDP-averaged gradients equal the 1-process loss and gradients on the
concatenated global batch.

The backbone uses GroupNorm: with BatchNorm every rank normalises with the statistics of its own
half batch, so the features (and hence the losses) would legitimately differ from a 1-process
run; GroupNorm is per sample. Dropout in the text encoder is 0 for the same reason.
"""
import importlib.util
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

REPO = Path(__file__).resolve().parents[2]
# Two splits of a 4-image global batch: equal halves, and 3 + 1 (a short last batch); sample 1
# has one valid utterance less, so the ranks also hold different numbers of valid utterances.
SPLITS = ((2, 2), (3, 1))
GLOBAL_BATCH = 4
CHECKED = ('backbone.conv1.weight', 'backbone.layer4.1.gn2.weight',
           'text_encoder.model.embeddings.word_embeddings.weight', 'visual_proj.weight',
           'attention_head.key_proj.weight', 'contrastive_loss.logit_scale')


def _helpers():
    """The synthetic-batch helpers of tests/test_models/test_loctex.py (loaded by path)."""
    path = REPO / 'tests/test_models/test_loctex.py'
    spec = importlib.util.spec_from_file_location('_loctex_model_tests', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model_cfg(h):
    return h.tiny_loctex_cfg(
        norm='GN',
        contrastive_loss=dict(type='InfoNCELoss', temperature=0.1, learnable_temperature=True))


def _global_batch(h, model):
    data = h.synthetic_batch(model, num=GLOBAL_BATCH, seed=3)
    sample = data['data_samples'][1]
    sample.utterance_valid[0] = False
    sample.trace_maps[0] = 0
    return data


def _step(model, inputs, samples):
    model.zero_grad()
    losses = model(inputs, samples, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    return losses


def _worker(rank, world_size, port, out_dir):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    h = _helpers()
    model = h.build(_model_cfg(h), seed=0)
    ddp = DistributedDataParallel(model)
    data = _global_batch(h, model)
    results = []
    for split in SPLITS:
        start = sum(split[:rank])
        stop = start + split[rank]
        losses = _step(ddp, data['inputs'][start:stop], data['data_samples'][start:stop])
        params = dict(model.named_parameters())
        results.append(
            dict(
                losses={
                    k: float(v)
                    for k, v in losses.items() if k.startswith('loss')
                },
                grads={k: params[k].grad.clone()
                       for k in CHECKED}))
    torch.save(results, Path(out_dir) / f'rank{rank}.pth')
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_process_loss_and_gradients_match_one_process(tmp_path):
    h = _helpers()
    model = h.build(_model_cfg(h), seed=0)
    data = _global_batch(h, model)
    ref_losses = _step(model, data['inputs'], data['data_samples'])
    params = dict(model.named_parameters())
    ref_grads = {k: params[k].grad.clone() for k in CHECKED}
    assert ref_losses['loss_attention'].item() > 0

    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    for i, split in enumerate(SPLITS):
        per_rank = [ranks[r][i] for r in range(2)]
        for key in ('loss_contrastive', 'loss_attention'):
            # each rank scores only its own rows, so the per-rank values differ ...
            values = [res['losses'][key] for res in per_rank]
            assert values[0] != values[1]
            # ... but their mean (what DDP optimises) is the global-batch loss
            assert abs(sum(values) / 2 - ref_losses[key].item()) < 1e-5, (split, key, values)
        for name in CHECKED:
            g0, g1 = per_rank[0]['grads'][name], per_rank[1]['grads'][name]
            torch.testing.assert_close(g0, g1)  # DDP all-reduced
            torch.testing.assert_close(
                g0, ref_grads[name], atol=1e-6, rtol=1e-4, msg=lambda m: f'{split} {name}: {m}')
