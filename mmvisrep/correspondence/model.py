"""The Stage-1 network of ORL as used by Stage 2: image embeddings and RoI embeddings.

The model is built from its mmpretrain config (e.g. a ``BYOL``) and loaded from a training
checkpoint; Stage 2 uses the *online* network only: ``backbone`` (+ ``neck`` for images), in
eval mode (BN running statistics), SyncBN reverted to BN so it runs on one CPU or GPU.
"""
import copy
import os
import os.path as osp
from typing import Optional

import torch
import torch.nn.functional as F


class Stage1Encoder:
    """Online backbone (+ projector) of a Stage-1 model with its input normalisation.

    Inputs are float ``N x 3 x H x W`` RGB batches in 0..255. They are converted to what the
    model was trained on: mean/std of its data preprocessor and, when the preprocessor does not
    convert BGR to RGB, BGR order (mmpretrain loads images in BGR).
    """

    def __init__(self, model: torch.nn.Module, device='cpu'):
        self.model = model
        self.device = torch.device(device)
        self.backbone = model.backbone
        self.neck = getattr(model, 'neck', None)
        prep = getattr(model, 'data_preprocessor', None)
        self.to_bgr = not getattr(prep, '_channel_conversion', True)
        if getattr(prep, '_enable_normalize', False):
            self.mean = prep.mean.detach().reshape(1, -1, 1, 1).float().to(self.device)
            self.std = prep.std.detach().reshape(1, -1, 1, 1).float().to(self.device)
        else:
            self.mean = self.std = None

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """RGB 0..255 -> the model's input (channel order, mean/std)."""
        x = x.to(self.device, torch.float32)
        if self.to_bgr:
            x = x.flip(1)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x

    def _last_stage(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(self.preprocess(x))
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    @torch.no_grad()
    def image_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised projector outputs (backbone -> neck), ORL's kNN features."""
        if self.neck is None:
            raise ValueError('the model has no neck (projector); kNN retrieval needs one')
        feats = self.backbone(self.preprocess(x))
        if not isinstance(feats, (tuple, list)):
            feats = (feats, )
        out = self.neck(tuple(feats[-1:]))
        out = out[0] if isinstance(out, (tuple, list)) else out
        return F.normalize(out.flatten(1).float(), dim=1)

    @torch.no_grad()
    def roi_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised global-average-pooled last backbone stage (res5), ORL's RoI features."""
        feat = self._last_stage(x)
        return F.normalize(F.adaptive_avg_pool2d(feat, 1).flatten(1).float(), dim=1)


def default_device() -> str:
    """``cuda:LOCAL_RANK`` (torchrun; ``SLURM_LOCALID`` under srun) when CUDA exists, else cpu."""
    if not torch.cuda.is_available():
        return 'cpu'
    local = os.environ.get('LOCAL_RANK') or os.environ.get('SLURM_LOCALID')
    if local is None:
        return 'cuda'
    return f'cuda:{int(local) % torch.cuda.device_count()}'


def _strip_prefix(state_dict: dict) -> dict:
    """Drop a ``module.`` prefix left by (D)DP wrappers."""
    if state_dict and all(k.startswith('module.') for k in state_dict):
        return {k[len('module.'):]: v for k, v in state_dict.items()}
    return state_dict


def load_encoder(config,
                 checkpoint: str,
                 device: Optional[str] = None,
                 need_neck: bool = True) -> Stage1Encoder:
    """Build the model of ``config`` (path or Config), load the online ``backbone`` (and
    ``neck``) weights of ``checkpoint`` and return it in eval mode on ``device``.

    Missing or mis-shaped backbone/neck weights raise an error naming the checkpoint; nothing is
    silently left at its random initialisation.
    """
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import _load_checkpoint
    from mmpretrain.registry import MODELS

    import mmvisrep  # noqa: F401  (registries, torch>=2.6 checkpoint allow-list)

    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if not isinstance(cfg, Config):
        cfg = Config(cfg)
    if 'model' not in cfg:
        raise KeyError(f'config {config if isinstance(config, str) else ""} has no "model"')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = copy.deepcopy(cfg.model)
    if 'data_preprocessor' not in model_cfg and cfg.get('data_preprocessor') is not None:
        model_cfg['data_preprocessor'] = copy.deepcopy(cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    model = revert_sync_batchnorm(model)
    for name in ('backbone', ) + (('neck', ) if need_neck else ()):
        if getattr(model, name, None) is None:
            raise ValueError(f'model {type(model).__name__} of the config has no {name}')

    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'checkpoint {checkpoint} holds no state dict')
    state = _strip_prefix(state)
    prefixes = ('backbone.', ) + (('neck.', ) if need_neck else ())
    wanted = {k: v for k, v in model.state_dict().items() if k.startswith(prefixes)}
    missing = [k for k in wanted if k not in state]
    if missing:
        raise KeyError(f'checkpoint {checkpoint} lacks {len(missing)} of the {len(wanted)} '
                       f'online {"/".join(p[:-1] for p in prefixes)} weights of the config '
                       f'model, e.g. {missing[:3]}')
    shape = [k for k, v in wanted.items() if tuple(state[k].shape) != tuple(v.shape)]
    if shape:
        raise ValueError(f'checkpoint {checkpoint} does not fit the config model: {len(shape)} '
                         f'shape mismatches, e.g. {shape[0]}: {tuple(state[shape[0]].shape)} vs '
                         f'{tuple(wanted[shape[0]].shape)}')
    model.load_state_dict({k: state[k] for k in wanted}, strict=False)
    device = device or default_device()
    model.eval().to(device)
    return Stage1Encoder(model, device)


def checkpoint_identity(path: str) -> dict:
    """What resume checks compare about a checkpoint: its file name and size."""
    return dict(name=osp.basename(path), bytes=osp.getsize(path))
