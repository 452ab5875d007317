"""Frozen-backbone features for the SVM benchmark: checkpoint loading, pooling, cached extraction.

The backbone comes from a config's ``model`` (an mmpretrain ``ImageClassifier`` without head)
and gets its weights from either a full self-supervised checkpoint (``backbone.*`` keys, the
online network of BYOL/SoCo/ORL) or the backbone-only file of
``tools/model_converters/extract_weights.py --target mmpretrain`` (also ``backbone.*``), or a
bare backbone state dict. The last backbone output is pooled as the config says (mmselfsup's
"feat5": ``AvgPool2d(6, stride=1)`` on the 7x7 res5 map, 2x2x2048 = 8192-d for R50) and cached
as ``.npy`` next to its label matrix, so that only the SVM part runs again on a rerun.
"""
import copy
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from torch import nn

from mmvisrep.utils.atomic_io import atomic_save_npy
from mmvisrep.utils.weight_conversion import (detect_arch, list_prefixes, load_checkpoint_file,
                                              resolve_ema_prefix, select_prefix)

POOLS = ('AvgPool2d', 'AdaptiveAvgPool2d')
RANDOM_INIT = 'random'


# --------------------------------------------------------------------------- checkpoint
def backbone_state_dict(checkpoint: str,
                        prefix: str = 'auto',
                        use_target: bool = False) -> Tuple[Dict[str, torch.Tensor], str]:
    """Backbone weights of ``checkpoint`` with the prefix stripped, and the prefix used.

    ``prefix='auto'``: ``backbone.`` when such keys exist (full training checkpoints and
    ``extract_weights.py --target mmpretrain`` files), else the whole file if it looks like a bare
    backbone. ``use_target`` takes the momentum (EMA) encoder instead of the online one.
    """
    full_sd, _ = load_checkpoint_file(checkpoint)
    if use_target:
        prefix = resolve_ema_prefix(full_sd, 'backbone.', None, checkpoint)
    elif prefix == 'auto':
        if any(k.startswith('backbone.') for k in full_sd):
            prefix = 'backbone.'
        elif detect_arch(full_sd) != 'unknown':
            prefix = ''
        else:
            raise ValueError(f'{checkpoint}: no "backbone." weights and not a bare backbone state '
                             f'dict; pass --prefix. Prefixes in this checkpoint: '
                             f'{", ".join(list_prefixes(full_sd))}')
    elif prefix and not prefix.endswith('.'):
        prefix += '.'
    return select_prefix(full_sd, prefix, checkpoint), prefix


def load_backbone_weights(backbone: nn.Module,
                          checkpoint: str,
                          prefix: str = 'auto',
                          use_target: bool = False) -> str:
    """Load the backbone weights strictly (every key, no extra ones); return the prefix used."""
    state_dict, used = backbone_state_dict(checkpoint, prefix, use_target)
    own = backbone.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f'{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}' for k in own
        if k in state_dict and state_dict[k].shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        raise ValueError(
            f'{checkpoint}: the weights under "{used}" do not fit the config\'s backbone '
            f'({type(backbone).__name__}): {len(missing)} missing (e.g. {missing[:3]}), '
            f'{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(mismatched)} of another '
            f'shape (e.g. {mismatched[:2]}). Check the depth in the config; a SoCo-C4 file '
            'exported for mmdet keeps res5 in the RoI head, export with --target mmpretrain.')
    backbone.load_state_dict(state_dict, strict=True)
    return used


# --------------------------------------------------------------------------- model and pooling
def build_pool(cfg: Optional[dict]) -> Optional[nn.Module]:
    """``AvgPool2d`` / ``AdaptiveAvgPool2d`` from a dict, or None (features are vectors)."""
    if cfg is None:
        return None
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind not in POOLS:
        raise ValueError(f'svm_extract.pool type must be one of {POOLS}, got {kind!r}')
    return getattr(nn, kind)(**cfg)


def build_extractor(cfg,
                    checkpoint: Optional[str],
                    prefix: str = 'auto',
                    use_target: bool = False,
                    seed: int = 0) -> Tuple[nn.Module, str]:
    """Build ``cfg.model`` (with ``cfg.data_preprocessor``) in eval mode and load the backbone.

    ``checkpoint=None`` or ``'random'`` keeps the seeded random initialisation (a baseline).
    Returns the model and a description of where the weights came from.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope

    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    backbone_cfg = model_cfg.get('backbone')
    if backbone_cfg is None:
        raise ValueError('the config has no model.backbone')
    backbone_cfg.pop('init_cfg', None)  # weights come from the checkpoint argument
    model_cfg.pop('pretrained', None)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model = revert_sync_batchnorm(model)  # one process: SyncBN would need a process group
    if checkpoint in (None, RANDOM_INIT):
        source = f'random init (seed {seed})'
    else:
        used = load_backbone_weights(model.backbone, checkpoint, prefix, use_target)
        source = f'{checkpoint} ["{used}"]'
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, source


@torch.no_grad()
def extract_features(model: nn.Module,
                     dataloader,
                     pool: Optional[nn.Module],
                     desc: str = 'features',
                     progress: bool = True) -> np.ndarray:
    """``(N, D)`` float32 features of the last backbone output, in dataset order."""
    from tqdm import tqdm

    dataset = dataloader.dataset
    num = len(dataset)
    feats, filled, offset = None, np.zeros(num, bool), 0
    for data in tqdm(dataloader, desc=desc, disable=not progress):
        data = model.data_preprocessor(data, False)
        out = model.extract_feat(data['inputs'], stage='backbone')
        x = out[-1] if isinstance(out, (tuple, list)) else out
        if x.dim() == 4:
            if pool is None:
                raise ValueError(f'the backbone returns {tuple(x.shape)} feature maps; set '
                                 'svm_extract.pool in the config')
            x = pool(x)
        x = x.flatten(1).float().cpu().numpy()
        samples = data.get('data_samples') or []
        idx = [s.metainfo.get('sample_idx') for s in samples]
        if len(idx) != len(x) or None in idx:  # no sample_idx packed: rely on the order
            idx = list(range(offset, offset + len(x)))
        offset += len(x)
        if feats is None:
            feats = np.zeros((num, x.shape[1]), np.float32)
        feats[idx] = x
        filled[idx] = True
    if not filled.all():
        missing = np.flatnonzero(~filled)
        raise RuntimeError(f'{desc}: {len(missing)} of {num} images got no feature (first '
                           f'indices {missing[:5].tolist()}); use a non-shuffling sampler')
    return feats


# --------------------------------------------------------------------------- cache
def checkpoint_fingerprint(checkpoint: Optional[str]) -> dict:
    """What identifies the weights in the cache key: path, size and modification time."""
    if checkpoint in (None, RANDOM_INIT):
        return dict(path=RANDOM_INIT)
    st = os.stat(checkpoint)
    return dict(path=osp.abspath(checkpoint), size=st.st_size, mtime_ns=st.st_mtime_ns)


def spec_key(spec: dict) -> str:
    """Digest of an extraction spec (JSON with sorted keys)."""
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def cache_paths(feature_dir: str, split: str, name: str) -> Dict[str, str]:
    """Files of one cached split: features, labels and the meta json (written last)."""
    stem = osp.join(feature_dir, f'{split}_{name}')
    return dict(features=stem + '.npy', labels=stem + '_labels.npy', meta=stem + '.json')


def load_cached(paths: Dict[str, str], key: str) -> Optional[Tuple[np.ndarray, np.ndarray, dict]]:
    """``(features, labels, meta)`` of a finished extraction with this key, else None."""
    if not all(osp.isfile(p) for p in paths.values()):
        return None
    try:
        with open(paths['meta']) as f:
            meta = json.load(f)
        if meta.get('key') != key:
            return None
        feats, labels = np.load(paths['features']), np.load(paths['labels'])
    except (OSError, ValueError):
        return None
    if feats.shape[0] != labels.shape[0] or list(feats.shape) != meta.get('shape'):
        return None
    return feats, labels, meta


def save_cached(paths: Dict[str, str], feats: np.ndarray, labels: np.ndarray, meta: dict):
    """Write features and labels, then the meta json that marks the split as finished."""
    from mmvisrep.utils.atomic_io import atomic_write_text
    atomic_save_npy(feats, paths['features'])
    atomic_save_npy(labels, paths['labels'])
    atomic_write_text(json.dumps(meta, indent=1, sort_keys=True, default=str), paths['meta'])
