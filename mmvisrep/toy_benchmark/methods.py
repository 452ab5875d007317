"""The toy benchmark's methods: the config that pretrains each, its backbone, the data it needs.

Every entry names a pretraining config under ``configs/toy_benchmark/`` run through
``tools/train.py`` (ORL: its three stages, stage 1 being the benchmark's own BYOL run of the
same seed), the backbone family whose probes apply, and the prepared data it reads.
"""
import os.path as osp
from dataclasses import dataclass, field, replace
from typing import Dict, Mapping, Optional, Tuple

CONFIG_DIR = 'configs/toy_benchmark'


@dataclass(frozen=True)
class Method:
    """One row of the benchmark."""

    name: str
    backbone: str  # 'resnet' or 'vit': which probes apply
    config: str = ''  # pretraining config ('' for random init)
    needs: Tuple[str, ...] = ()  # prepared data: 'proposals', 'captions', 'pseudo_labels'
    stage3_config: str = ''  # ORL: the stage-3 config (stage 1 is the BYOL run)
    label: str = ''
    extra: Dict = field(default_factory=dict)

    @property
    def is_random(self) -> bool:
        return not self.config


def _cfg(name: str) -> str:
    return f'{CONFIG_DIR}/{name}.py'


#: benchmark order (rows of the tables); random init first in each backbone family
METHODS = (
    Method('random', 'resnet', label='random init'),
    Method('byol', 'resnet', _cfg('byol_resnet18-w32_1xb64-coslr-8e_toybench'), label='BYOL'),
    Method(
        'soco',
        'resnet',
        _cfg('soco_resnet18-w32-fpn_1xb64-coslr-8e_toybench'),
        needs=('proposals', ),
        label='SoCo'),
    Method(
        'orl',
        'resnet',
        _cfg('byol_resnet18-w32_1xb64-coslr-8e_toybench'),
        stage3_config=_cfg('orl_resnet18-w32_1xb64-coslr-8e_toybench'),
        label='ORL'),
    Method(
        'loctex', 'resnet', _cfg('loctex_resnet18-w32_1xb64-coslr-8e_toybench'), label='LocTex'),
    Method(
        'svl',
        'resnet',
        _cfg('svl_resnet18-w32_1xb64-8e_toybench'),
        needs=('captions', ),
        label='SVL (MLM + ITM)'),
    Method(
        'svl-ssul',
        'resnet',
        _cfg('svl-ssul_resnet18-w32_1xb64-8e_toybench'),
        needs=('captions', ),
        label='SVL + SSUL'),
    Method(
        'svl-segl',
        'resnet',
        _cfg('svl-segl_resnet18-w32_1xb64-8e_toybench'),
        needs=('captions', ),
        label='SVL + SEGL'),
    Method(
        'svl-spl',
        'resnet',
        _cfg('svl-spl_resnet18-w32_1xb64-8e_toybench'),
        needs=('captions', 'pseudo_labels'),
        label='SVL + SPL'),
    Method('random', 'vit', label='random init'),
    Method('mae', 'vit', _cfg('mae_vit-tiny-p16_1xb64-coslr-24e_toybench'), label='MAE'),
    Method('mug', 'vit', _cfg('mug_vit-tiny-p16_1xb64-coslr-24e_toybench'), label='MUG'),
)
METHOD_NAMES = tuple(dict.fromkeys(m.name for m in METHODS))
BACKBONES = ('resnet', 'vit')


def methods_for(names=None):
    """The benchmark's methods in table order, restricted to ``names`` (all by default)."""
    if names:
        unknown = sorted(set(names) - set(METHOD_NAMES))
        if unknown:
            raise ValueError(f'unknown methods {unknown}; choose from {", ".join(METHOD_NAMES)}')
    return [m for m in METHODS if not names or m.name in names]


def with_configs(methods, configs: Optional[Mapping[str, str]] = None):
    """``methods`` with the pretraining configs of ``configs`` (``{method: config}``) swapped
    in: a variant of a method, probed as the benchmark does. ORL's stage 1 is the BYOL run of
    the same seed, so ORL follows a BYOL override and takes none of its own."""
    configs = dict(configs or {})
    for name, config in configs.items():
        if name not in METHOD_NAMES or name in ('random', 'orl'):
            choices = [n for n in METHOD_NAMES if n not in ('random', 'orl')]
            raise ValueError(f'cannot set the config of {name!r}; choose from {choices}')
        if not osp.isfile(config):
            raise FileNotFoundError(f'config of {name!r} not found: {config}')
    out = []
    for m in methods:
        if m.name in configs:
            m = replace(m, config=configs[m.name])
        elif m.stage3_config and 'byol' in configs:
            m = replace(m, config=configs['byol'])
        out.append(m)
    return out
