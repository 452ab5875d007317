"""Export pretrained weights from mmvisrep/mmpretrain checkpoints for downstream codebases.

A pretraining checkpoint holds the whole self-supervised model (online and momentum encoders,
necks, heads) plus optimizer and message-hub state. Downstream code wants only the backbone (and
sometimes the neck or RoI head), under the key names of its own modules, in a file that loads with
``torch.load(weights_only=True)``. This module does that selection and key conversion for mmdet,
mmseg (``VisionTransformer`` and the BEiT-style ``MAE`` backbone), mmpretrain, torchvision and
detectron2, and publishes slimmed training checkpoints.
SoCo checkpoints are recognised and exported for mmdet with their FPN and box head (FPN variant)
or with res5 as the C4 RoI head's shared head (C4 variant), as SoCo's official converter does.
"""
import datetime
import hashlib
import inspect
import logging
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log

TARGETS = ('mmdet', 'mmseg', 'mmseg-mae', 'mmpretrain', 'torchvision', 'detectron2')
# targets whose file is ``{'state_dict', 'meta'}`` for an OpenMMLab model
OPENMMLAB_TARGETS = ('mmdet', 'mmseg', 'mmseg-mae', 'mmpretrain')
# targets whose configs can load extra submodules (--include) from the file
INCLUDE_TARGETS = ('mmdet', 'mmseg', 'mmpretrain')
# mmseg's ``MAE`` backbone (BEiT-style layers), e.g. mmseg's mae/*upernet* ADE20K recipe
MMSEG_MAE = 'mmseg-mae'
# what a mmpretrain ViT pretrained with the default LayerNorm needs downstream (not in the weights)
LN_EPS_NOTE = "norm_cfg=dict(type='LN', eps=1e-6) (or the eps used in pretraining)"

# Momentum (EMA) encoders in mmpretrain wrap ``nn.Sequential(backbone, neck)`` in an averaged
# model: BYOL ``target_net``, MoCo v3 ``momentum_encoder``, MoCo v2 / DenseCL ``encoder_k``.
EMA_ROOTS = ('target_net.module.', 'momentum_encoder.module.', 'encoder_k.module.')
EMA_SLOTS = {'backbone.': '0.', 'neck.': '1.'}

# Momentum encoders kept as a named-module copy of the online model (SoCo: ``CosineEMA`` over
# ``ModuleDict(backbone, neck, roi_head, projector)``): the EMA copy of ``X.`` is ``<root>X.``.
NAMED_EMA_ROOTS = ('target.module.', )

# What SoCo transfers to mmdet (spec 1.8, convert_mmdetection_Head.py): the online FPN and the
# shared convs/fc of the 4conv1fc box head, under the names of mmdet's Mask R-CNN.
SOCO_FPN_INCLUDES = ('neck.', 'roi_head.bbox_head.shared_convs.', 'roi_head.bbox_head.shared_fcs.')
# mmdet's C4 RoI head runs the backbone's last stage as ``roi_head.shared_head`` (``ResLayer``
# with ``stage=3`` registers it as ``layer4``), while the backbone stops after ``layer3``.
C4_SOURCE, C4_SHARED_HEAD = 'layer4.', 'roi_head.shared_head.layer4.'

# Top-level entries of an mmengine training checkpoint that a published model does not need.
TRAINING_ONLY_KEYS = ('optimizer', 'param_schedulers', 'message_hub', 'hook_msgs')

_BN_BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')


def _normalize_prefix(prefix: str) -> str:
    """Return ``prefix`` with exactly one trailing dot ('' stays '' = the whole state dict)."""
    prefix = prefix.strip()
    if prefix and not prefix.endswith('.'):
        prefix += '.'
    return prefix


def parse_include(spec: str) -> Tuple[str, str]:
    """Parse an ``--include`` item ``SRC`` or ``SRC:DST`` into normalized prefixes."""
    if spec.count(':') > 1:
        raise ValueError(f'--include {spec!r}: expected SRC or SRC:DST')
    src, _, dst = spec.partition(':')
    src, dst = _normalize_prefix(src), _normalize_prefix(dst or src)
    if not src or not dst:
        raise ValueError(f'--include {spec!r}: empty source or destination prefix')
    return src, dst


def _torch_load(path: str) -> dict:
    """``torch.load`` a checkpoint dict under the ``weights_only=True`` default, naming the file.

    ``import mmvisrep`` has allow-listed the mmengine types a training checkpoint holds, so no
    unsafe unpickling is needed.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    try:
        obj = torch.load(path, map_location='cpu')
    except pickle.UnpicklingError as err:
        raise RuntimeError(
            f'{path}: torch.load(weights_only=True) refused a type in this file: {err}\n'
            'If it is a trusted mmengine/mmpretrain type, allow-list it in '
            'mmvisrep/utils/checkpoint.py.') from err
    except Exception as err:  # corrupt or not a torch file
        raise RuntimeError(f'{path}: not a readable torch checkpoint: {err}') from err
    if not isinstance(obj, dict):
        raise TypeError(f'{path}: expected a dict checkpoint, got {type(obj).__name__}')
    return obj


def _state_dict_of(obj: dict, path: str) -> Dict[str, torch.Tensor]:
    """Return ``obj['state_dict']``, or ``obj`` itself when it is a plain state dict."""
    if 'state_dict' in obj:
        state_dict = obj['state_dict']
    elif obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        state_dict = obj
    else:
        raise ValueError(f'{path}: neither a "state_dict" entry nor a plain state dict; '
                         f'top-level keys: {sorted(map(str, obj))[:20]}')
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise TypeError(f'{path}: state_dict entries that are not tensors: {bad[:10]}')
    return state_dict


def load_checkpoint_file(path: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Load a training checkpoint or plain state dict; return ``(state_dict, meta)``."""
    obj = _torch_load(path)
    meta = obj.get('meta') if isinstance(obj.get('meta'), dict) else {}
    return _state_dict_of(obj, path), meta


def list_prefixes(state_dict: Dict[str, torch.Tensor]) -> List[str]:
    """Summarize the submodules present as ``'prefix. (N tensors)'`` strings.

    Groups by the first name component, or by the first three under an averaged-model wrapper
    (``target_net.module.0.``) so that EMA encoders show up as separate entries.
    """
    counts: Dict[str, int] = OrderedDict()
    wrappers = {k.split('.', 1)[0] for k in state_dict if k.split('.')[1:2] == ['module']}
    for key in state_dict:
        parts = key.split('.')
        if len(parts) > 3 and parts[1] == 'module':
            name = '.'.join(parts[:3]) + '.'
        elif len(parts) > 1 and parts[0] not in wrappers:
            name = parts[0] + '.'
        else:  # a lone tensor such as ``target_net.steps``
            name = key
        counts[name] = counts.get(name, 0) + 1
    return [f'{name} ({n} tensor{"s" if n != 1 else ""})' for name, n in sorted(counts.items())]


def select_prefix(state_dict: Dict[str, torch.Tensor],
                  prefix: str,
                  source: str = 'checkpoint') -> Dict[str, torch.Tensor]:
    """Return the tensors under ``prefix`` with the prefix stripped; fail listing what exists."""
    if not prefix:
        return OrderedDict(state_dict)
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items() if k.startswith(prefix))
    if not out:
        raise ValueError(f'{source}: no weights under prefix "{prefix}". Prefixes in this '
                         f'checkpoint: {", ".join(list_prefixes(state_dict))}')
    return out


def resolve_ema_prefix(state_dict: Dict[str, torch.Tensor],
                       online_prefix: str,
                       target_map: Optional[Dict[str, str]] = None,
                       source: str = 'checkpoint') -> str:
    """Map an online-model prefix to where the momentum (EMA) copy of it is stored.

    ``target_map`` (online -> EMA prefix) wins; otherwise ``backbone.``/``neck.`` map to slot
    0/1 of the one ``EMA_ROOTS`` wrapper found in the state dict; a named copy of the online
    model (``NAMED_EMA_ROOTS``, SoCo's ``target.module.backbone.``) maps any prefix.
    """
    if target_map and online_prefix in target_map:
        return target_map[online_prefix]
    named = [
        root + online_prefix for root in NAMED_EMA_ROOTS if any(
            k.startswith(root + online_prefix) for k in state_dict)
    ]
    if len(named) == 1:
        return named[0]
    slot = EMA_SLOTS.get(online_prefix)
    if slot is None:
        raise ValueError(f'{source}: no default momentum-encoder location for "{online_prefix}"; '
                         'pass --target-map ONLINE:EMA (e.g. roi_head.:target_roi_head.)')
    found = [
        root + slot for root in EMA_ROOTS if any(k.startswith(root + slot) for k in state_dict)
    ]
    if not found:
        raise ValueError(
            f'{source}: --use-target given but no momentum encoder found (looked for '
            f'{", ".join(r + slot for r in EMA_ROOTS)}). Prefixes in this checkpoint: '
            f'{", ".join(list_prefixes(state_dict))}')
    if len(found) > 1:
        raise ValueError(f'{source}: several momentum encoders {found}; choose one with '
                         '--target-map or --prefix')
    return found[0]


def detect_arch(sd: Dict[str, torch.Tensor]) -> str:
    """Guess the backbone family from its (prefix-free) keys.

    Returns ``'resnet'`` (torchvision-style stem), ``'resnet_deep_stem'`` (V1c/V1d),
    ``'vit'`` (mmpretrain ViT), ``'vit_mmseg'`` (already mmseg ViT) or ``'unknown'``.
    """
    if any(k.startswith('layer1.0.') for k in sd):
        if 'conv1.weight' in sd:
            return 'resnet'
        if any(k.startswith('stem.') for k in sd):
            return 'resnet_deep_stem'
    if any(re.match(r'layers\.\d+\.attn\.qkv\.weight$', k) for k in sd):
        return 'vit'
    if any(re.match(r'layers\.\d+\.attn\.attn\.in_proj_weight$', k) for k in sd):
        return 'vit_mmseg'
    return 'unknown'


def _has_prefix(state_dict: Dict[str, torch.Tensor], prefix: str) -> bool:
    """Whether any key of ``state_dict`` starts with ``prefix``."""
    return any(k.startswith(prefix) for k in state_dict)


def detect_soco(state_dict: Dict[str, torch.Tensor],
                meta: Optional[dict] = None) -> Tuple[Optional[str], str]:
    """Recognise a SoCo pretraining checkpoint; return ``(variant, evidence)``.

    ``variant`` is ``'fpn'`` (FPN and SoCo*: ``neck.`` + ``roi_head.bbox_head.shared_*``),
    ``'c4'`` (no neck, no box head: res5 is the head) or ``None``. The evidence is the model's
    keys (``projector.``, ``predictor.`` and the EMA copy ``target.module.backbone.`` of
    :class:`mmvisrep.models.SoCo`) or, failing that, ``type='SoCo'`` in the config text that
    mmengine's Runner saves as ``meta['cfg']``.
    """
    evidence = []
    if all(_has_prefix(state_dict, p) for p in ('projector.', 'predictor.')) and \
            _has_prefix(state_dict, NAMED_EMA_ROOTS[0] + 'backbone.'):
        evidence.append('keys projector./predictor./target.module.backbone.')
    cfg_text = (meta or {}).get('cfg')
    cfg_c4 = None
    if isinstance(cfg_text, str) and re.search(r"type\s*=\s*['\"]SoCo['\"]", cfg_text):
        evidence.append("meta config type='SoCo'")
        cfg_c4 = re.search(r'res5_roi_head\s*=\s*True', cfg_text) is not None
    if not evidence:
        return None, 'not a SoCo checkpoint (no SoCo keys, no SoCo config in meta)'
    has_neck = _has_prefix(state_dict, 'neck.')
    has_head = _has_prefix(state_dict, 'roi_head.bbox_head.shared_convs.')
    if has_neck and has_head and cfg_c4 is not True:
        return 'fpn', ' and '.join(evidence) + ', with neck. and roi_head.bbox_head.shared_*'
    if not has_neck and not has_head and cfg_c4 is not False and \
            _has_prefix(state_dict, 'backbone.' + C4_SOURCE):
        return 'c4', ' and '.join(evidence) + ', no neck./roi_head. (res5 is the RoI head)'
    return None, (' and '.join(evidence) + ' but an unknown layout (neck. present: '
                  f'{has_neck}, box head present: {has_head}, config C4: {cfg_c4})')


def convert_deep_stem(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename mmpretrain's ConvModule deep stem to mmdet/mmseg's flat ``nn.Sequential`` stem.

    mmpretrain ResNetV1c/V1d: ``stem.i.conv`` / ``stem.i.bn``; mmdet/mmseg: ``stem.3i`` (conv),
    ``stem.3i+1`` (norm), ``stem.3i+2`` (ReLU). Other keys are identical.
    """
    out = OrderedDict()
    for key, val in sd.items():
        m = re.match(r'stem\.(\d+)\.(conv|bn|gn|ln|in)\.(.+)$', key)
        if m:
            idx = 3 * int(m.group(1)) + (0 if m.group(2) == 'conv' else 1)
            key = f'stem.{idx}.{m.group(3)}'
        out[key] = val
    return out


def _check_torchvision_resnet(sd: Dict[str, torch.Tensor], target: str) -> None:
    """Reject ResNet variants that torchvision/detectron2 ResNets cannot represent."""
    arch = detect_arch(sd)
    if arch in ('vit', 'vit_mmseg'):
        raise ValueError(f'--target {target}: Vision Transformer backbones are not supported '
                         '(only ResNet); use --target mmpretrain/mmdet/mmseg')
    if arch != 'resnet':
        raise ValueError(f'--target {target}: needs a plain (v1b) ResNet backbone with keys '
                         f'conv1/bn1/layerN, found {arch} keys such as {list(sd)[:3]}')
    if any('.downsample.2.' in k for k in sd):
        raise ValueError(f'--target {target}: ResNetV1d average-pool shortcuts are not '
                         'representable in torchvision/detectron2 ResNets')


_TV_KEY = re.compile(r'(conv1\.weight|bn1\.\w+|layer[1-4]\.\d+\.(conv\d\.weight|bn\d\.\w+|'
                     r'downsample\.[01]\.\w+))$')


def convert_resnet_to_torchvision(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Return the torchvision ResNet state dict (identical names to mmpretrain's ``ResNet``)."""
    _check_torchvision_resnet(sd, 'torchvision')
    bad = [k for k in sd if not _TV_KEY.match(k)]
    if bad:
        raise ValueError(f'--target torchvision: keys without a torchvision ResNet '
                         f'counterpart: {bad[:10]}')
    return OrderedDict((k, v.clone()) for k, v in sd.items())


def _d2_name(key: str) -> Optional[str]:
    """Map one torchvision/mmpretrain ResNet key to its detectron2 name (None: drop it)."""
    if key.endswith('num_batches_tracked'):
        return None
    m = re.match(r'(conv1\.weight|bn1\.(\w+))$', key)
    if m:
        return 'stem.conv1.weight' if m.group(2) is None else f'stem.conv1.norm.{m.group(2)}'
    m = re.match(r'layer([1-4])\.(\d+)\.(.+)$', key)
    if not m:
        raise ValueError(f'--target detectron2: unexpected ResNet key {key!r}')
    stage, block, rest = f'res{int(m.group(1)) + 1}', m.group(2), m.group(3)
    conv = re.match(r'conv(\d)\.weight$', rest)
    norm = re.match(r'bn(\d)\.(\w+)$', rest)
    if conv:
        rest = f'conv{conv.group(1)}.weight'
    elif norm:
        rest = f'conv{norm.group(1)}.norm.{norm.group(2)}'
    elif rest.startswith('downsample.0.'):
        rest = 'shortcut.' + rest[len('downsample.0.'):]
    elif rest.startswith('downsample.1.'):
        rest = 'shortcut.norm.' + rest[len('downsample.1.'):]
    else:
        raise ValueError(f'--target detectron2: unexpected ResNet key {key!r}')
    return f'{stage}.{block}.{rest}'


def convert_resnet_to_detectron2(sd: Dict[str, torch.Tensor]) -> Dict[str, np.ndarray]:
    """Rename a ResNet state dict to detectron2 names (stem, res2..res5) as numpy arrays."""
    _check_torchvision_resnet(sd, 'detectron2')
    out = OrderedDict()
    for key, val in sd.items():
        name = _d2_name(key)
        if name is not None:
            out[name] = val.detach().cpu().numpy()
    return out


def convert_vit_to_mmseg(sd: Dict[str, torch.Tensor],
                         notes: Optional[List[str]] = None) -> Dict[str, torch.Tensor]:
    """Convert mmpretrain ``VisionTransformer`` keys to mmseg ``VisionTransformer`` keys.

    mmseg's layers use mmcv ``MultiheadAttention`` (an ``nn.MultiheadAttention`` in ``attn.attn``
    whose packed q/k/v ``in_proj`` has the same layout as mmpretrain's ``qkv``), name the pre-norm
    ``ln_pre``, have no layer scale and (by default) no patch-embedding bias, so layer-scale
    vectors are folded into the output projections, the patch bias into ``pos_embed`` and
    missing attention biases become zeros; the result computes the same function.
    ``notes`` collects the downstream settings this requires.
    """
    notes = [] if notes is None else notes
    # not visible in the weights: mmpretrain's ViT uses LN eps=1e-6, mmseg's default is 1e-5
    notes.append(LN_EPS_NOTE)
    out = OrderedDict()
    embed_dims = None
    for key, val in sd.items():
        m = re.match(r'layers\.(\d+)\.(.+)$', key)
        if m:
            idx, rest = m.group(1), m.group(2)
            renamed = {
                'attn.qkv.weight': 'attn.attn.in_proj_weight',
                'attn.qkv.bias': 'attn.attn.in_proj_bias',
                'attn.proj.weight': 'attn.attn.out_proj.weight',
                'attn.proj.bias': 'attn.attn.out_proj.bias',
            }.get(rest)
            if renamed is None and re.match(
                    r'(ln[12]\.(weight|bias)|ffn\.layers\.\d+(\.0)?\.'
                    r'(weight|bias))$', rest):
                renamed = rest
            if renamed is None and rest in ('attn.gamma1.weight', 'ffn.gamma2.weight'):
                continue  # folded below
            if renamed is None:
                raise ValueError(f'--target mmseg: ViT key {key!r} has no mmseg counterpart '
                                 '(e.g. SwiGLU FFN or extra attention parameters)')
            out[f'layers.{idx}.{renamed}'] = val.clone()
        elif key.startswith('pre_norm.'):
            out['ln_pre.' + key[len('pre_norm.'):]] = val.clone()
            if 'pre_norm=True' not in notes:
                notes.append('pre_norm=True')
        elif key.startswith('ln1.'):
            out[key] = val.clone()
            if 'final_norm=True' not in notes:
                notes.append('final_norm=True')
        elif key.startswith('ln2.'):
            print_log(
                f'--target mmseg: dropping {key} (norm after average pooling, '
                'no counterpart in mmseg ViT)',
                logger='current')
        elif key in ('cls_token', 'pos_embed') or key.startswith('patch_embed.'):
            out[key] = val.clone()
        else:
            raise ValueError(f'--target mmseg: ViT key {key!r} has no mmseg counterpart')
        if key == 'pos_embed':
            embed_dims = val.shape[-1]

    if embed_dims is None:
        raise ValueError('--target mmseg: ViT backbone without pos_embed is not supported')
    layer_ids = sorted({int(k.split('.')[1]) for k in sd if k.startswith('layers.')})
    for i in layer_ids:
        pre, dst = f'layers.{i}.', f'layers.{i}.'
        if pre + 'attn.qkv.bias' not in sd:
            out[dst + 'attn.attn.in_proj_bias'] = torch.zeros(3 * embed_dims)
        if pre + 'attn.proj.bias' not in sd:
            out[dst + 'attn.attn.out_proj.bias'] = torch.zeros(embed_dims)
        gamma1 = sd.get(pre + 'attn.gamma1.weight')
        if gamma1 is not None:  # out = gamma * (W x + b)  ->  (gamma W) x + gamma b
            out[dst + 'attn.attn.out_proj.weight'] *= gamma1[:, None]
            out[dst + 'attn.attn.out_proj.bias'] *= gamma1
        gamma2 = sd.get(pre + 'ffn.gamma2.weight')
        if gamma2 is not None:
            fc_ids = [
                int(mm.group(1)) for k in sd
                for mm in [re.match(re.escape(pre) + r'ffn\.layers\.(\d+)\.weight$', k)] if mm
            ]
            last = f'{dst}ffn.layers.{max(fc_ids)}.'
            out[last + 'weight'] *= gamma2[:, None]
            if last + 'bias' in out:
                out[last + 'bias'] *= gamma2
    if any(f'layers.{i}.attn.qkv.bias' not in sd for i in layer_ids):
        notes.append('qkv_bias=True (zero q/k/v biases were added)')
    if 'cls_token' not in out:
        # mmseg always concatenates a class token before adding pos_embed (and drops it right
        # after when with_cls_token=False): give it a zero token and a zero position row.
        pos = out['pos_embed']
        out['pos_embed'] = torch.cat([pos.new_zeros(1, 1, embed_dims), pos], dim=1)
        out['cls_token'] = pos.new_zeros(1, 1, embed_dims)
        notes.append('with_cls_token=False')
    patch_bias = out.pop('patch_embed.projection.bias', None)
    if patch_bias is not None:
        # mmseg's ViT defaults to patch_bias=False (its own configs keep it): the conv bias is
        # added to every patch token just like pos_embed, so fold it into the patch rows
        # (interpolating pos_embed to another size keeps a constant offset constant).
        out['pos_embed'] = out['pos_embed'].clone()
        out['pos_embed'][:, 1:] += patch_bias
    return out


def _square_size(img_size, what: str) -> int:
    """Return the side of a square ``img_size`` given as an int or a pair."""
    if isinstance(img_size, (tuple, list)):
        if len(img_size) == 1:
            img_size = img_size[0]
        elif len(img_size) == 2 and int(img_size[0]) == int(img_size[1]):
            img_size = img_size[0]
        else:
            raise ValueError(f'{what}: img_size {tuple(img_size)} is not square; mmseg\'s MAE '
                             'loader (resize_abs_pos_embed / resize_rel_pos_embed) supports '
                             'square patch grids only')
    if isinstance(img_size, bool) or not isinstance(img_size, (int, np.integer)) or \
            int(img_size) <= 0:
        raise ValueError(f'{what}: img_size must be a positive int, got {img_size!r}')
    return int(img_size)


def _resize_abs_pos_embed(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """Resize a square ``(1, 1 + g*g, C)`` position embedding to ``grid`` x ``grid`` patches.

    Bicubic, ``align_corners=False``, class-token row kept: the operation of mmseg
    ``MAE.resize_abs_pos_embed``, so the file loads to the same numbers as an unresized one.
    """
    src = int(round((pos_embed.shape[1] - 1)**0.5))
    if src * src != pos_embed.shape[1] - 1:
        raise ValueError(f'pos_embed of shape {tuple(pos_embed.shape)} is not 1 + a square grid')
    if src == grid:
        return pos_embed.clone()
    tokens = pos_embed[:, 1:].reshape(1, src, src, -1).permute(0, 3, 1, 2)
    tokens = torch.nn.functional.interpolate(
        tokens.float(), size=(grid, grid), mode='bicubic', align_corners=False)
    tokens = tokens.permute(0, 2, 3, 1).flatten(1, 2).to(pos_embed.dtype)
    return torch.cat([pos_embed[:, :1], tokens], dim=1)


def convert_vit_to_mmseg_mae(
        sd: Dict[str, torch.Tensor],
        img_size,
        num_heads: int,
        final_norm: bool = False,
        notes: Optional[List[str]] = None) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Convert an mmpretrain ``VisionTransformer`` / ``MAEViT`` to mmseg's ``MAE`` backbone.

    Returns ``(state_dict, backbone_kwargs)``: bare keys for ``MAE.init_weights`` (which loads
    the whole file, ignores ``init_cfg.prefix``) and the ``MAE`` arguments it fits. The layers
    share the mmpretrain names (``layers.i.ln1/attn.qkv/attn.proj/ln2/ffn``, ``patch_embed``,
    ``cls_token``, ``pos_embed``). Added with values that keep the function of the ViT:
    ``gamma_1``/``gamma_2`` (the ViT's layer scales, else ones), zero q/k/v biases if the ViT had
    none, and per layer a zero ``relative_position_bias_table`` for the ``img_size // patch``
    grid (a table of another size would send mmseg into scipy's removed ``interp2d``);
    ``pos_embed`` is resized to that grid the way mmseg resizes it. Dropped: the final norm
    ``ln1`` unless ``final_norm`` (mmseg's MAE recipe builds ``final_norm=False``) and ``ln2``
    (the norm after average pooling). Not written: the ``relative_position_index`` buffers,
    which the model builds for its grid and mmseg's loader pops from any checkpoint (for ViT-B
    at 512 px they would add 100 MB). A ViT without class token or with ``pre_norm`` has no MAE
    equivalent and is rejected.
    """
    what = f'--target {MMSEG_MAE}'
    notes = [] if notes is None else notes
    if 'pos_embed' not in sd or 'patch_embed.projection.weight' not in sd:
        raise ValueError(f'{what}: needs a ViT with pos_embed and patch_embed.projection, got '
                         f'keys such as {list(sd)[:5]}')
    if 'cls_token' not in sd:
        raise ValueError(f'{what}: the ViT has no class token, but mmseg\'s MAE always prepends '
                         'one and attends to it; use --target mmseg (with_cls_token=False)')
    if any(k.startswith('pre_norm.') for k in sd):
        raise ValueError(f'{what}: the ViT has a pre-norm (pre_norm=True), which mmseg\'s MAE '
                         'lacks; use --target mmseg (pre_norm=True)')
    embed_dims = sd['pos_embed'].shape[-1]
    kh, kw = sd['patch_embed.projection.weight'].shape[-2:]
    if kh != kw:
        raise ValueError(f'{what}: non-square patches {kh}x{kw} are not supported by MAE')
    patch = int(kh)
    side = _square_size(img_size, what)
    grid = side // patch
    if grid < 1:
        raise ValueError(f'{what}: img_size {side} is smaller than the patch size {patch}')
    if num_heads is None or int(num_heads) < 1 or embed_dims % int(num_heads):
        raise ValueError(f'{what}: num_heads={num_heads!r} must be a positive divisor of '
                         f'embed_dims={embed_dims}')
    num_heads = int(num_heads)
    if final_norm and 'ln1.weight' not in sd:
        raise ValueError(f'{what}: final_norm=True asked, but the ViT has no final norm ln1')

    out, dropped = OrderedDict(), []
    out['cls_token'] = sd['cls_token'].clone()
    out['pos_embed'] = _resize_abs_pos_embed(sd['pos_embed'], grid)
    for key, val in sd.items():
        if key in ('cls_token', 'pos_embed'):
            continue
        m = re.match(r'layers\.(\d+)\.(.+)$', key)
        if m:
            idx, rest = m.group(1), m.group(2)
            if rest == 'attn.gamma1.weight':
                out[f'layers.{idx}.gamma_1'] = val.clone()
            elif rest == 'ffn.gamma2.weight':
                out[f'layers.{idx}.gamma_2'] = val.clone()
            elif re.match(
                    r'(ln[12]\.(weight|bias)|attn\.(qkv|proj)\.(weight|bias)|'
                    r'ffn\.layers\.\d+(\.0)?\.(weight|bias))$', rest):
                out[key] = val.clone()
            else:
                raise ValueError(f'{what}: ViT key {key!r} has no counterpart in mmseg\'s MAE '
                                 '(e.g. SwiGLU FFN or extra attention parameters)')
        elif key.startswith('patch_embed.projection.'):
            out[key] = val.clone()
        elif key.startswith('ln1.') and final_norm:
            out[key] = val.clone()
        elif key.startswith(('ln1.', 'ln2.')):
            dropped.append(key)
        else:
            raise ValueError(f'{what}: ViT key {key!r} has no counterpart in mmseg\'s MAE')
    if dropped:
        print_log(
            f'{what}: dropping {", ".join(dropped)} (ln1: the final norm, unused with '
            'final_norm=False as in mmseg\'s MAE recipe, see --final-norm; ln2: the norm after '
            'average pooling, which MAE lacks)',
            logger='current')
    if 'patch_embed.projection.bias' not in out:
        out['patch_embed.projection.bias'] = sd['pos_embed'].new_zeros(embed_dims)

    layer_ids = sorted({int(k.split('.')[1]) for k in sd if k.startswith('layers.')})
    if layer_ids != list(range(len(layer_ids))) or not layer_ids:
        raise ValueError(f'{what}: expected layers 0..N-1, found {layer_ids}')
    hidden = sd.get('layers.0.ffn.layers.0.0.weight')
    if hidden is None or hidden.shape[0] % embed_dims:
        raise ValueError(f'{what}: the FFN hidden size must be an integer multiple of '
                         f'embed_dims={embed_dims} (MAE takes an int mlp_ratio)')
    mlp_ratio = hidden.shape[0] // embed_dims
    fc_ids = sorted({
        int(m.group(1))
        for k in sd
        for m in [re.match(r'layers\.0\.ffn\.layers\.(\d+)\.', k)] if m
    })
    # identity-valued parameters MAE has and a ViT lacks; BEiTAttention's table has a row per
    # relative offset in a (grid, grid) window plus 3 for cls->token, token->cls and cls->cls
    num_relative_distance = (2 * grid - 1)**2 + 3
    ones, zeros = torch.ones(embed_dims), torch.zeros(embed_dims)
    for i in layer_ids:
        pre = f'layers.{i}.'
        out.setdefault(pre + 'gamma_1', ones.clone())
        out.setdefault(pre + 'gamma_2', ones.clone())
        out.setdefault(pre + 'attn.qkv.bias', torch.zeros(3 * embed_dims))
        out.setdefault(pre + 'attn.proj.bias', zeros.clone())
        out[pre + 'attn.relative_position_bias_table'] = torch.zeros(num_relative_distance,
                                                                     num_heads)
    if any(f'layers.{i}.attn.qkv.bias' not in sd for i in layer_ids):
        print_log(f'{what}: the ViT has no q/k/v biases; writing zeros', logger='current')
    kwargs = dict(
        img_size=side,
        patch_size=patch,
        embed_dims=embed_dims,
        num_layers=len(layer_ids),
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
        num_fcs=len(fc_ids),
        final_norm=bool(final_norm))
    notes.extend(f'{k}={v}' for k, v in kwargs.items() if k != 'num_fcs' or v != 2)
    notes.append(LN_EPS_NOTE)
    return out, kwargs


def read_mmseg_mae_config(path: str) -> dict:
    """Return ``model.backbone`` of an mmseg config whose backbone is ``MAE``, as a plain dict."""
    from mmengine.config import Config
    if not osp.isfile(path):
        raise FileNotFoundError(f'--seg-config: config file not found: {path}')
    cfg = Config.fromfile(path)
    backbone = (cfg.get('model') or {}).get('backbone')
    btype = backbone.get('type') if backbone is not None else None
    if not isinstance(btype, str) or btype.split('.')[-1] != 'MAE':
        raise ValueError(f'{path}: model.backbone.type is {btype!r}, not mmseg\'s "MAE"; '
                         f'--target {MMSEG_MAE} is for MAE backbones (mmseg VisionTransformer: '
                         '--target mmseg)')
    backbone = backbone.to_dict() if hasattr(backbone, 'to_dict') else dict(backbone)
    return backbone


def check_mmseg_mae_state_dict(state_dict: Dict[str, torch.Tensor], backbone_cfg: dict,
                               source: str) -> None:
    """Build mmseg's ``MAE`` from ``backbone_cfg`` and require exactly its keys and shapes.

    The ``relative_position_index`` buffers are the exception: they are never written (mmseg's
    ``MAE.init_weights`` drops them from any checkpoint; the model builds them).
    """
    from mmseg.models.backbones import MAE
    kwargs = {k: v for k, v in backbone_cfg.items() if k not in ('type', 'init_cfg', 'pretrained')}
    model = MAE(**kwargs)
    expected = {
        k: tuple(v.shape)
        for k, v in model.state_dict().items() if not k.endswith('.relative_position_index')
    }
    got = {k: tuple(v.shape) for k, v in state_dict.items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = [
        f'{k}: file {got[k]} vs model {expected[k]}' for k in sorted(set(got) & set(expected))
        if got[k] != expected[k]
    ]
    if missing or unexpected or shapes:
        raise ValueError(
            f'{source}: the encoder does not fit the MAE backbone {kwargs}: missing '
            f'{missing[:8]}, unexpected {unexpected[:8]}, shape mismatches {shapes[:8]} '
            '(embed_dims / num_layers / mlp_ratio / patch_size must match the pretrained ViT)')


def _mmseg_mae_settings(seg_config: Optional[str], img_size, num_heads: Optional[int],
                        final_norm: Optional[bool]) -> Tuple[object, int, bool, Optional[dict]]:
    """Resolve ``(img_size, num_heads, final_norm, backbone_cfg)`` for ``--target mmseg-mae``.

    A config supplies all three (and the backbone the export is checked against); options given
    as well must agree with it. Without a config ``img_size`` and ``num_heads`` are required.
    """
    if seg_config is None:
        if img_size is None or num_heads is None:
            raise ValueError(f'--target {MMSEG_MAE} needs --seg-config CONFIG (the mmseg config '
                             'whose MAE backbone takes the weights) or --img-size and --num-heads '
                             '(num_heads is not stored in the weights)')
        return img_size, num_heads, bool(final_norm), None
    backbone = read_mmseg_mae_config(seg_config)
    from mmseg.models.backbones import MAE
    defaults = {
        name: param.default
        for name, param in inspect.signature(MAE.__init__).parameters.items()
    }
    cfg_values = {
        key: backbone.get(key, defaults[key])
        for key in ('img_size', 'num_heads', 'final_norm')
    }
    given = dict(img_size=img_size, num_heads=num_heads, final_norm=final_norm)
    for key, value in given.items():
        if value is None:
            continue
        cfg_value = cfg_values[key]
        if key == 'img_size':
            same = _square_size(value, '--img-size') == _square_size(cfg_value, seg_config)
        else:
            same = value == cfg_value
        if not same:
            raise ValueError(
                f'--{key.replace("_", "-")} {value} contradicts {seg_config} '
                f'(model.backbone.{key}={cfg_value!r}); drop the option or the config')
    norm_cfg = backbone.get('norm_cfg', defaults['norm_cfg'])
    if float(norm_cfg.get('eps', 1e-5)) != 1e-6:
        print_log(
            f'{seg_config}: MAE norm_cfg={norm_cfg}, but mmpretrain ViTs pretrain with LN '
            'eps=1e-6; the features will differ unless the pretraining used this eps',
            logger='current',
            level=logging.WARNING)
    return (cfg_values['img_size'], cfg_values['num_heads'], bool(cfg_values['final_norm']),
            backbone)


def _count(sd: Dict[str, object]) -> Tuple[int, int, int]:
    """Return (tensor count, parameter values, BN buffer values) of a state dict."""
    n_params = n_buffers = 0
    for key, val in sd.items():
        numel = int(np.prod(val.shape))
        if key.rsplit('.', 1)[-1] in _BN_BUFFERS:
            n_buffers += numel
        else:
            n_params += numel
    return len(sd), n_params, n_buffers


def extract_weights(checkpoint: str,
                    target: str,
                    prefix: str = 'backbone.',
                    include: Sequence[str] = (),
                    use_target: bool = False,
                    target_map: Optional[Dict[str, str]] = None,
                    auto: bool = True,
                    c4_shared_head: Optional[bool] = None,
                    seg_config: Optional[str] = None,
                    img_size=None,
                    num_heads: Optional[int] = None,
                    final_norm: Optional[bool] = None) -> dict:
    """Build the downstream file content for ``target`` from a pretraining checkpoint.

    Returns ``{'state_dict': ..., 'meta': ...}`` (OpenMMLab targets), a bare torchvision state
    dict, or detectron2's ``{'model': numpy dict, ...}``; see ``save_weights``.

    With ``auto`` a SoCo checkpoint exported for mmdet without ``include`` and with the default
    ``prefix`` gets what SoCo transfers: the FPN and box-head shared convs/fc (FPN variant) or
    res5 as ``roi_head.shared_head.layer4`` (C4 variant). ``c4_shared_head`` forces (True) or
    forbids (False) that res5 move; ``None`` leaves it to the SoCo detection.

    ``target='mmseg-mae'`` (mmseg's ``MAE`` backbone, see :func:`convert_vit_to_mmseg_mae`)
    takes ``seg_config`` (an mmseg config with an ``MAE`` backbone: it gives ``img_size``,
    ``num_heads``, ``final_norm``, and the export is checked against that backbone) or
    ``img_size`` and ``num_heads`` (``final_norm`` defaults to False).
    """
    if target not in TARGETS:
        raise ValueError(f'unknown target {target!r}; choose one of {", ".join(TARGETS)}')
    prefix = _normalize_prefix(prefix)
    includes = [parse_include(s) for s in include]
    if includes and target == MMSEG_MAE:
        raise ValueError(f'--target {MMSEG_MAE}: --include is not supported (mmseg\'s '
                         'MAE.init_weights loads the file into the backbone only)')
    if includes and target not in INCLUDE_TARGETS:
        raise ValueError(f'--target {target}: --include is only supported for '
                         f'{"/".join(INCLUDE_TARGETS)} (their configs load submodules by '
                         'prefix); torchvision/detectron2 get the backbone only')
    mae_options = dict(
        seg_config=seg_config, img_size=img_size, num_heads=num_heads, final_norm=final_norm)
    if target != MMSEG_MAE and any(v is not None for v in mae_options.values()):
        given = ', '.join('--' + k.replace('_', '-') for k, v in mae_options.items()
                          if v is not None)
        raise ValueError(f'{given}: only for --target {MMSEG_MAE} (got --target {target})')
    if target == MMSEG_MAE:
        img_size, num_heads, final_norm, mae_cfg = _mmseg_mae_settings(
            seg_config, img_size, num_heads, final_norm)
    target_map = {
        _normalize_prefix(k): _normalize_prefix(v)
        for k, v in (target_map or {}).items()
    }
    full_sd, src_meta = load_checkpoint_file(checkpoint)
    includes, c4_shared_head, selection = _soco_selection(full_sd, src_meta, checkpoint, target,
                                                          prefix, includes, auto, c4_shared_head,
                                                          use_target)
    if c4_shared_head and target != 'mmdet':
        raise ValueError(f'--c4-shared-head: only for --target mmdet (got {target})')

    src_prefix = prefix
    if use_target:
        src_prefix = resolve_ema_prefix(full_sd, prefix, target_map, checkpoint)
    backbone = select_prefix(full_sd, src_prefix, checkpoint)
    arch = detect_arch(backbone)
    notes: List[str] = []
    print_log(f'{checkpoint}: exporting "{src_prefix}" ({arch}) for {target}', logger='current')

    if target == 'torchvision':
        return convert_resnet_to_torchvision(backbone)
    if target == 'detectron2':
        return {
            'model': convert_resnet_to_detectron2(backbone),
            '__author__': 'mmvisrep',
            'matching_heuristics': True,
        }

    load_prefix = 'backbone.'
    if arch == 'resnet_deep_stem' and target in ('mmdet', 'mmseg'):
        backbone = convert_deep_stem(backbone)
    elif arch == 'vit' and target == 'mmseg':
        backbone = convert_vit_to_mmseg(backbone, notes)
        # mmseg's VisionTransformer.init_weights ignores init_cfg.prefix and loads the whole
        # state dict (resizing pos_embed): its keys must be bare.
        load_prefix = ''
    elif arch == 'vit_mmseg' and target == 'mmseg':
        load_prefix = ''
    elif target == MMSEG_MAE:
        if arch != 'vit':
            raise ValueError(f'{checkpoint}: --target {MMSEG_MAE} needs an mmpretrain '
                             f'VisionTransformer/MAEViT backbone under "{src_prefix}", found '
                             f'{arch} keys such as {list(backbone)[:3]}')
        backbone, mae_kwargs = convert_vit_to_mmseg_mae(backbone, img_size, num_heads, final_norm,
                                                        notes)
        # MAE.init_weights also ignores init_cfg.prefix and loads the whole file, non-strictly
        load_prefix = ''
        check_source = f'{checkpoint} -> {seg_config}' if mae_cfg else checkpoint
        check_mmseg_mae_state_dict(backbone, mae_cfg or dict(mae_kwargs), check_source)
    used_src = {src_prefix: 'backbone.'}
    if c4_shared_head:
        if not any(k.startswith(C4_SOURCE) for k in backbone):
            raise ValueError(f'{checkpoint}: --c4-shared-head needs the backbone\'s last stage '
                             f'"{src_prefix}{C4_SOURCE}", which this checkpoint does not hold')
        # the C4 detector's backbone stops at layer3: res5 moves to the RoI head
        shared = OrderedDict((C4_SHARED_HEAD + k[len(C4_SOURCE):], v) for k, v in backbone.items()
                             if k.startswith(C4_SOURCE))
        backbone = OrderedDict((k, v) for k, v in backbone.items() if not k.startswith(C4_SOURCE))
        used_src[src_prefix + C4_SOURCE] = C4_SHARED_HEAD
    state_dict = OrderedDict((load_prefix + k, v.clone()) for k, v in backbone.items())
    if c4_shared_head:
        state_dict.update((k, v.clone()) for k, v in shared.items())
    for src, dst in includes:
        src_real = resolve_ema_prefix(full_sd, src, target_map, checkpoint) if use_target else src
        part = select_prefix(full_sd, src_real, checkpoint)
        for key, val in part.items():
            if dst + key in state_dict:
                raise ValueError(f'{checkpoint}: --include {src}:{dst} collides on {dst + key}')
            state_dict[dst + key] = val.clone()
        used_src[src_real] = dst

    meta = {
        'mmvisrep_version': _version(),
        'source': str(checkpoint),
        'target': target,
        'source_prefix': src_prefix,
        'exported': dict(used_src),
        'use_target': bool(use_target),
        'backbone_arch': arch,
        'init_prefix': load_prefix or None,
        'selection': selection,
        # a file with more than backbone keys is loaded whole into the detector
        'downstream_load': 'load_from' if len(set(used_src.values())) > 1 else 'init_cfg',
    }
    for key in ('epoch', 'iter'):
        if isinstance(src_meta.get(key), int):
            meta[f'source_{key}'] = int(src_meta[key])
    if target == MMSEG_MAE:
        meta['seg_config'] = seg_config
    if notes:
        meta['downstream_settings'] = list(notes)
        model_name = 'MAE' if target == MMSEG_MAE else 'VisionTransformer'
        print_log(f'mmseg {model_name} must be built with {", ".join(notes)}', logger='current')
    return {'state_dict': state_dict, 'meta': meta}


def _soco_selection(full_sd: Dict[str, torch.Tensor],
                    src_meta: dict,
                    checkpoint: str,
                    target: str,
                    prefix: str,
                    includes: List[Tuple[str, str]],
                    auto: bool,
                    c4_shared_head: Optional[bool],
                    use_target: bool = False) -> Tuple[list, bool, str]:
    """Decide what a SoCo checkpoint exports; return ``(includes, c4_shared_head, selection)``.

    ``selection`` says why (it is logged and stored in the output's ``meta``).
    """
    variant, evidence = detect_soco(full_sd, src_meta)
    if variant is None:
        if 'unknown layout' in evidence:
            print_log(
                f'{checkpoint}: SoCo-like checkpoint ({evidence}); exporting only what '
                'was asked',
                logger='current',
                level=logging.WARNING)
        return includes, bool(c4_shared_head), 'explicit (not a SoCo checkpoint)'
    name = f'SoCo-{variant.upper()}'
    if not auto:
        print_log(
            f'{checkpoint}: {name} checkpoint ({evidence}); --no-auto: exporting only '
            'what was asked',
            logger='current')
        return includes, bool(c4_shared_head), f'explicit ({name}, --no-auto)'
    if target != 'mmdet':
        print_log(
            f'{checkpoint}: {name} checkpoint ({evidence}); --target {target} takes the '
            'backbone only (SoCo\'s FPN/box head or res5 head transfer to --target mmdet)',
            logger='current')
        return includes, bool(c4_shared_head), f'explicit ({name}, --target {target})'
    if includes or prefix != 'backbone.' or c4_shared_head is not None:
        print_log(
            f'{checkpoint}: {name} checkpoint ({evidence}); explicit --prefix/--include/'
            '--c4-shared-head given, so no automatic selection',
            logger='current')
        return includes, bool(c4_shared_head), f'explicit ({name}, --prefix/--include/' \
            '--c4-shared-head given)'
    if variant == 'fpn':
        includes = [(p, p) for p in SOCO_FPN_INCLUDES]
        what = 'backbone. + neck. + roi_head.bbox_head.shared_convs./shared_fcs.'
    else:
        c4_shared_head = True
        what = f'backbone. (stem..layer3) + backbone.{C4_SOURCE} as {C4_SHARED_HEAD}'
    selection = f'auto: {name} detected by {evidence}'
    network = 'momentum (EMA) target, --use-target' if use_target else 'online'
    print_log(
        f'{checkpoint}: {selection}; exporting {what} of the {network} network for mmdet '
        '(--no-auto: backbone only)',
        logger='current')
    return includes, bool(c4_shared_head), selection


def _version() -> str:
    """Return the mmvisrep version string (imported lazily to avoid an import cycle)."""
    from mmvisrep.version import __version__
    return __version__


def summarize(obj: dict, target: str) -> str:
    """Progress-free summary of an exported object: tensors and parameters per submodule."""
    if target == 'detectron2':
        sd = obj['model']
    elif target == 'torchvision':
        sd = obj
    else:
        sd = obj['state_dict']
    n, p, b = _count(sd)
    lines = [f'{n} tensors, {p:,} parameters, {b:,} BN buffer values ({target} format)']
    if target in OPENMMLAB_TARGETS:
        meta = obj['meta']
        dsts = [d for d in meta['exported'].values() if d != 'backbone.']
        backbone_name = meta['init_prefix'] or '(backbone, bare keys)'
        groups: Dict[str, dict] = OrderedDict()
        for key, val in sd.items():
            group = next((d for d in dsts if key.startswith(d)), backbone_name)
            groups.setdefault(group, OrderedDict())[key] = val
        for group, part in groups.items():
            gn, gp, _ = _count(part)
            lines.append(f'  {group}: {gn} tensors, {gp:,} parameters')
    return '\n'.join(lines)


def save_weights(obj: dict, out: str, target: str) -> str:
    """Write an ``extract_weights`` result: torch.save, or a numpy-only pickle for detectron2."""
    out_dir = osp.dirname(osp.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = out + '.tmp'
    if target == 'detectron2':
        with open(tmp, 'wb') as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        torch.save(obj, tmp)
    os.replace(tmp, out)
    return out


def _plain(value, path: str = 'meta'):
    """Convert ``value`` to plain Python (numpy scalars/arrays to numbers/lists); drop others."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        items = [_plain(v, f'{path}[{i}]') for i, v in enumerate(value)]
        return type(value)(items)
    if isinstance(value, dict):
        return {str(k): _plain(v, f'{path}.{k}') for k, v in value.items()}
    print_log(f'publish: dropping {path} of type {type(value).__name__}', logger='current')
    return None


def publish_checkpoint(in_file: str, out_file: str, date: Optional[str] = None) -> str:
    """Drop training-only state, save, and rename to ``<stem>_<YYYYMMDD>-<sha256[:8]>.pth``.

    The result holds ``state_dict`` (tensors) and a plain-Python ``meta``, so it loads with
    ``torch.load(weights_only=True)`` without mmvisrep's allow-list.
    """
    obj = _torch_load(in_file)
    state_dict = _state_dict_of(obj, in_file)
    meta = dict(obj.get('meta') or {}) if state_dict is not obj else {}
    for key in TRAINING_ONLY_KEYS:
        meta.pop(key, None)
    meta = _plain(meta)
    meta['mmvisrep_version'] = _version()
    dropped = [k for k in obj if k not in ('state_dict', 'meta')]
    print_log(f'{in_file}: dropping {dropped}', logger='current')

    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    os.makedirs(osp.dirname(osp.abspath(stem)), exist_ok=True)
    tmp = stem + '.publish.tmp'
    torch.save({'state_dict': OrderedDict(state_dict), 'meta': meta}, tmp)
    sha = hashlib.sha256()
    with open(tmp, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            sha.update(chunk)
    date = date or datetime.datetime.now().strftime('%Y%m%d')
    final = f'{stem}_{date}-{sha.hexdigest()[:8]}.pth'
    os.replace(tmp, final)
    return final
