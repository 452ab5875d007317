"""Export pretrained weights from mmvisrep/mmpretrain checkpoints for downstream codebases.

A pretraining checkpoint holds the whole self-supervised model (online and momentum encoders,
necks, heads) plus optimizer and message-hub state. Downstream code wants only the backbone (and
sometimes the neck or RoI head), under the key names of its own modules, in a file that loads with
``torch.load(weights_only=True)``. This module does that selection and key conversion for mmdet,
mmseg, mmpretrain, torchvision and detectron2, and publishes slimmed training checkpoints.
SoCo checkpoints are recognised and exported for mmdet with their FPN and box head (FPN variant)
or with res5 as the C4 RoI head's shared head (C4 variant), as SoCo's official converter does.
"""
import datetime
import hashlib
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

TARGETS = ('mmdet', 'mmseg', 'mmpretrain', 'torchvision', 'detectron2')
OPENMMLAB_TARGETS = ('mmdet', 'mmseg', 'mmpretrain')

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
    notes.append("norm_cfg=dict(type='LN', eps=1e-6) (or the eps used in pretraining)")
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
                    c4_shared_head: Optional[bool] = None) -> dict:
    """Build the downstream file content for ``target`` from a pretraining checkpoint.

    Returns ``{'state_dict': ..., 'meta': ...}`` (OpenMMLab targets), a bare torchvision state
    dict, or detectron2's ``{'model': numpy dict, ...}``; see ``save_weights``.

    With ``auto`` a SoCo checkpoint exported for mmdet without ``include`` and with the default
    ``prefix`` gets what SoCo transfers: the FPN and box-head shared convs/fc (FPN variant) or
    res5 as ``roi_head.shared_head.layer4`` (C4 variant). ``c4_shared_head`` forces (True) or
    forbids (False) that res5 move; ``None`` leaves it to the SoCo detection.
    """
    if target not in TARGETS:
        raise ValueError(f'unknown target {target!r}; choose one of {", ".join(TARGETS)}')
    prefix = _normalize_prefix(prefix)
    includes = [parse_include(s) for s in include]
    if includes and target not in OPENMMLAB_TARGETS:
        raise ValueError(f'--target {target}: --include is only supported for '
                         f'{"/".join(OPENMMLAB_TARGETS)} (their configs load submodules by '
                         'prefix); torchvision/detectron2 get the backbone only')
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
    if notes:
        meta['downstream_settings'] = list(notes)
        print_log(
            f'mmseg VisionTransformer must be built with {", ".join(notes)}', logger='current')
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
