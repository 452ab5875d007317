"""The levers of the toy benchmark, measured: each setting of the object probe re-run on the
benchmark's own random-init and stock-baseline backbones of every seed (BYOL for the ResNet, MAE
for the ViT), each schedule or width setting re-pretraining the stock baseline for every seed,
and the pretraining levers re-running one method for seed 0.

A probe lever is a set of ``--cfg-options`` of ``tools/benchmarks/object_probe.py``, a schedule
lever a set of ``--cfg-options`` of ``tools/train.py`` (and of the probe, where it changes the
backbone); every (setting, method, seed) is a cached step of the benchmark's :class:`StepCache`,
and the result is ``WORK_DIR/levers.json``, which the benchmark's report renders.
"""
import json
import os.path as osp
import statistics
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
#: (backbone, lever, setting, tools/train.py --cfg-options[, object_probe.py --cfg-options]):
#: the stock baseline re-pretrained with the train options for every seed and probed as in the
#: benchmark, with the probe options if any; random init is not pretrained: its row is the
#: benchmark's, or re-probed with the probe options (a narrower random backbone)
SCHEDULE_LEVERS = (
    ('resnet', 'pretraining epochs', '4 (half the iterations)',
     ['train_cfg.max_epochs=4', 'param_scheduler.1.T_max=3', 'param_scheduler.1.end=4']),
    ('resnet', 'pretraining epochs', '8 (benchmark)', []),
    ('resnet', 'backbone width', '16 (a quarter of the conv FLOPs)', [
        'model.backbone.base_channels=16', 'model.backbone.stem_channels=16',
        'model.neck.in_channels=128'
    ], ['model.backbone.base_channels=16', 'model.backbone.stem_channels=16']),
    ('resnet', 'backbone width', '32 (benchmark)', []),
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


def run_levers(bench, settings=LEVER_SETTINGS, pretrain_levers=(), schedule_levers=()) -> Dict:
    """Probe every setting on the finished random-init and stock-baseline runs of its backbone
    (all seeds), re-pretrain the baseline for every ``schedule_levers`` setting, and run the
    ``pretrain_levers`` (see :func:`run_pretrain_levers`). Kinds not run this time keep what an
    earlier call wrote to ``levers.json``."""
    rows = [row for setting in settings for row in _lever_rows(bench, setting, schedule=False)]
    rows += [
        row for setting in schedule_levers for row in _lever_rows(bench, setting, schedule=True)
    ]
    path = osp.join(bench.work_dir, 'levers.json')
    earlier = {}
    if osp.isfile(path):
        with open(path) as f:
            earlier = json.load(f)
    if not schedule_levers:
        rows += [r for r in earlier.get('rows', []) if r.get('kind') == 'schedule']
    out = dict(seeds=list(bench.seeds), rows=rows)
    if pretrain_levers:
        out['pretraining'] = run_pretrain_levers(bench, pretrain_levers)
    elif earlier.get('pretraining'):
        out['pretraining'] = earlier['pretraining']
    atomic_write_text(json.dumps(out, indent=1), path)
    return out


def _lever_rows(bench, setting, schedule: bool) -> List[Dict]:
    """The linear and kNN rows of one lever setting: random init vs the stock baseline."""
    from .methods import METHODS
    from .runner import OBJECT_PROBE_CONFIGS

    backbone, lever, name_of_setting, options = setting[:4]
    probe_options = setting[4] if len(setting) > 4 else ()
    baseline = LEVER_BASELINES[backbone]
    # the ResNet probe levers came first: their steps keep the names without backbone
    prefix = 'levers' if backbone == 'resnet' and not schedule else f'levers/{backbone}'
    if schedule:
        prefix += '/schedule'
    values: Dict[str, Dict[str, List[float]]] = {}
    pretrain_seconds = []
    for name in ('random', baseline):
        method = next(m for m in METHODS if m.name == name and m.backbone == backbone)
        for seed in bench.seeds:
            step = f'{prefix}/{_slug(lever)}/{_slug(name_of_setting)}/{name}/seed{seed}'
            if schedule and method.is_random and probe_options:
                res = bench.cache.run(
                    step, lambda: _probe(bench, step, OBJECT_PROBE_CONFIGS[backbone], None, seed,
                                         probe_options))
            elif not options or (schedule and method.is_random):
                # the benchmark's own setting (random init has no schedule): its cached probe
                res = bench.object_probe(method, seed, _checkpoint(bench, method, seed))
                if schedule and not method.is_random:
                    pretrain_seconds.append(_pretrain_marker(bench, method, seed)['seconds'])
            elif schedule:
                work = osp.join(bench.work_dir, step)
                ckpt = bench.cache.run(
                    step + '/pretrain',
                    lambda: bench.train(step + '/pretrain', method.config, work, seed, options))
                pretrain_seconds.append(ckpt['seconds'])
                res = bench.cache.run(
                    step, lambda: _probe(bench, step, OBJECT_PROBE_CONFIGS[backbone], ckpt[
                        'checkpoint'], seed, probe_options))
            else:
                res = bench.cache.run(
                    step, lambda: _probe(bench, step, OBJECT_PROBE_CONFIGS[backbone],
                                         _checkpoint(bench, method, seed), seed, options))
            for kind in ('linear', 'knn'):
                values.setdefault(kind, {}).setdefault(name, []).append(res[kind])
    rows = []
    for kind, per_method in values.items():
        summary = {m: summarise(v) for m, v in per_method.items()}
        row = dict(
            lever=lever,
            setting=name_of_setting,
            probe=f'obj-{kind}@{backbone}',
            baseline=baseline,
            **summary)
        if schedule:
            row['kind'] = 'schedule'
            # the median, as in the wall-time table: a seed that shared the cores runs longer
            row['pretrain_minutes'] = round(statistics.median(pretrain_seconds) / 60, 1)
        row['gain'] = gain_over(summary[baseline], summary['random'])
        rows.append(row)
    return rows


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
    return None if method.is_random else _pretrain_marker(bench, method, seed)['checkpoint']


def _pretrain_marker(bench, method, seed) -> Dict:
    marker = bench.cache.get(f'pretrain/{method.name}/seed{seed}')
    if marker is None:
        raise RuntimeError(f'levers: pretrain/{method.name}/seed{seed} has not finished; run '
                           'the benchmark for these seeds first')
    return marker


def _probe(bench, step, config, ckpt, seed, options):
    out = osp.join(bench.work_dir, step, 'object_probe.json')
    extra = ['--cfg-options', *options] if options else []
    bench.call(step, [
        bench.python, 'tools/benchmarks/object_probe.py', config, ckpt or 'random', '--seed', seed,
        '--out', out, '--no-progress', *extra
    ])
    with open(out) as f:
        res = json.load(f)
    return dict(linear=res['linear']['accuracy'], knn=res['knn']['accuracy'])
