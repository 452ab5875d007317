"""The toy benchmark's methods: the config that pretrains each, its backbone, the data it needs.

Every entry names a pretraining config under ``configs/toy_benchmark/`` run through
``tools/train.py`` (ORL: its three stages, stage 1 being the benchmark's own BYOL run of the
same seed), the backbone family whose probes apply, and the prepared data it reads.
"""
from dataclasses import dataclass, field
from typing import Dict, Tuple

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
