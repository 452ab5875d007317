"""The probe-side levers of the toy benchmark, measured: each setting of the object probe re-run
on the benchmark's own random-init and stock-baseline backbones of every seed (BYOL for the
ResNet, MAE for the ViT; no pretraining reruns).

A lever is a set of ``--cfg-options`` of ``tools/benchmarks/object_probe.py``; every
(setting, method, seed) is a cached step of the benchmark's :class:`StepCache`, and the result
is ``WORK_DIR/levers.json``, which the benchmark's report renders.
"""
import json
import os.path as osp
from typing import Dict, List

from mmvisrep.utils.atomic_io import atomic_write_text
from .results import gain_over, summarise

#: (backbone, lever, setting, --cfg-options); the benchmark's own choice is marked in the setting
LEVER_SETTINGS = (
    ('resnet', 'feature maps', 'C2 (stride 4)', ['model.backbone.out_indices=(0,)']),
    ('resnet', 'feature maps', 'C3 (stride 8)', ['model.backbone.out_indices=(1,)']),
    ('resnet', 'feature maps', 'C2+C3 (benchmark)', []),
    ('resnet', 'feature maps', 'C4 (stride 16)', ['model.backbone.out_indices=(2,)']),
    ('resnet', 'feature maps', 'C5 (stride 32)', ['model.backbone.out_indices=(3,)']),
    ('resnet', 'RoI bins', '3x3 averaged', ['object_probe.keep_bins=False']),
    ('resnet', 'RoI bins', '3x3 kept (benchmark)', []),
    ('resnet', 'labelled images', '50', ['object_probe.train.num_images=50']),
    ('resnet', 'labelled images', '200 (benchmark)', []),
    ('resnet', 'labelled images', '1000', [
        'object_probe.train.ann_file=annotations/instances_train2017.json',
        'object_probe.train.num_images=1000'
    ]),
    ('vit', 'ViT input', 'scene, RoIAlign on the token grid', ['object_probe.crop=None']),
    ('vit', 'ViT input', 'object crops (benchmark)', []),
    ('vit', 'ViT blocks', 'last block only', ['model.backbone.out_indices=(3,)']),
    ('vit', 'ViT blocks', 'all four (benchmark)', []),
)
#: the stock baseline each backbone's levers compare with random init
LEVER_BASELINES = {'resnet': 'byol', 'vit': 'mae'}
#: pretraining levers: (name, method, --cfg-options) re-run for seed 0 and compared, by the
#: start and end of each loss term, with the benchmark's own run of the method
PRETRAIN_LEVERS = (
    ('SVL init std 0.02 (BERT default) instead of 0.07', 'svl', [
        'model.text_encoder.config.initializer_range=0.02',
        'model.cross_modal_encoder.initializer_range=0.02'
    ]),
    ('SPL on matched pairs only (no-object class off, as in configs/svl/)', 'svl-spl',
     ['model.spl.head.no_object=False']),
)


def _slug(text: str) -> str:
    return ''.join(c if c.isalnum() else '-' for c in text.lower()).strip('-')


def run_levers(bench, settings=LEVER_SETTINGS, pretrain_levers=()) -> Dict:
    """Probe every setting on the finished random-init and stock-baseline runs of its backbone
    (all seeds), and run the ``pretrain_levers`` (see :func:`run_pretrain_levers`)."""
    from .methods import METHODS
    from .runner import OBJECT_PROBE_CONFIGS

    rows: List[Dict] = []
    for backbone, lever, setting, options in settings:
        baseline = LEVER_BASELINES[backbone]
        values: Dict[str, Dict[str, List[float]]] = {}
        for name in ('random', baseline):
            method = next(m for m in METHODS if m.name == name and m.backbone == backbone)
            for seed in bench.seeds:
                if options:
                    # the ResNet levers came first: their steps keep the names without backbone
                    prefix = 'levers' if backbone == 'resnet' else f'levers/{backbone}'
                    step = f'{prefix}/{_slug(lever)}/{_slug(setting)}/{name}/seed{seed}'
                    res = bench.cache.run(
                        step, lambda: _probe(bench, step, OBJECT_PROBE_CONFIGS[backbone], method,
                                             seed, options))
                else:  # the benchmark's own setting: its cached probe
                    res = bench.object_probe(method, seed, _checkpoint(bench, method, seed))
                for kind in ('linear', 'knn'):
                    values.setdefault(kind, {}).setdefault(name, []).append(res[kind])
        for kind, per_method in values.items():
            summary = {m: summarise(v) for m, v in per_method.items()}
            row = dict(
                lever=lever,
                setting=setting,
                probe=f'obj-{kind}@{backbone}',
                baseline=baseline,
                **summary)
            row['gain'] = gain_over(summary[baseline], summary['random'])
            rows.append(row)
    out = dict(seeds=list(bench.seeds), rows=rows)
    path = osp.join(bench.work_dir, 'levers.json')
    if pretrain_levers:
        out['pretraining'] = run_pretrain_levers(bench, pretrain_levers)
    elif osp.isfile(path):  # not re-run this time: keep what an earlier call measured
        with open(path) as f:
            earlier = json.load(f).get('pretraining')
        if earlier:
            out['pretraining'] = earlier
    atomic_write_text(json.dumps(out, indent=1), path)
    return out


def run_pretrain_levers(bench, levers=PRETRAIN_LEVERS, seed: int = 0) -> List[Dict]:
    """Pretrain each lever's variant of its method (seed ``seed``, cached) and return the loss
    terms (first 50 iterations -> end) of the variant and of the benchmark's own run."""
    from .methods import METHODS
    from .report import read_loss_terms

    rows = []
    for name, method_name, options in levers:
        method = next(m for m in METHODS if m.name == method_name)
        own = bench.cache.get(f'pretrain/{method_name}/seed{seed}')
        if own is None:
            raise RuntimeError(f'levers: pretrain/{method_name}/seed{seed} has not finished')
        step = f'levers/pretrain/{_slug(name)}/seed{seed}'
        work = osp.join(bench.work_dir, step)
        variant = bench.cache.run(step,
                                  lambda: bench.train(step, method.config, work, seed, options))
        rows.append(
            dict(
                lever=name,
                method=method_name,
                seed=seed,
                options=list(options),
                benchmark=read_loss_terms(own['work_dir']),
                variant=read_loss_terms(variant['work_dir'])))
    return rows


def _checkpoint(bench, method, seed):
    if method.is_random:
        return None
    marker = bench.cache.get(f'pretrain/{method.name}/seed{seed}')
    if marker is None:
        raise RuntimeError(f'levers: pretrain/{method.name}/seed{seed} has not finished; run '
                           'the benchmark for these seeds first')
    return marker['checkpoint']


def _probe(bench, step, config, method, seed, options):
    out = osp.join(bench.work_dir, step, 'object_probe.json')
    bench.call(step, [
        bench.python, 'tools/benchmarks/object_probe.py', config,
        _checkpoint(bench, method, seed) or 'random', '--seed', seed, '--out', out,
        '--no-progress', '--cfg-options', *options
    ])
    with open(out) as f:
        res = json.load(f)
    return dict(linear=res['linear']['accuracy'], knn=res['knn']['accuracy'])
