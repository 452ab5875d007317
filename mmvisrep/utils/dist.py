"""Distributed training on machines without GPUs (torchrun + gloo)."""
import datetime

import torch
import torch.distributed as torch_dist


def setup_cpu_distributed(cfg) -> bool:
    """Prepare a ``pytorch`` (torchrun) launch of ``cfg`` on a CPU-only machine.

    mmengine 0.10.7 assumes GPUs there: ``init_dist`` calls ``torch.cuda.set_device`` and the
    Runner wraps the model in DDP with ``device_ids=[LOCAL_RANK]``. We start the gloo process
    group ourselves (the Runner then skips ``init_dist``) and wrap with ``device_ids=None``.
    Returns whether anything was done; GPU machines and single-process runs are untouched.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return False
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'nccl')
    if backend != 'gloo':
        raise ValueError(f'distributed training without a GPU needs the gloo backend, but '
                         f'env_cfg.dist_cfg.backend is "{backend}": pass --cfg-options '
                         'env_cfg.dist_cfg.backend=gloo')
    if 'timeout' in dist_cfg:
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo', **dist_cfg)

    wrapper = cfg.get('model_wrapper_cfg', None) or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper
    return True
