"""Writes the toy benchmark's outputs: ``results.json``, the PNG plots and the markdown page.

Everything on the page comes from the run: the protocol constants the driver used, the step
markers (wall times), the training logs (loss curves) and the probe results.
"""
import json
import os
import os.path as osp
import platform
import time
from statistics import median
from typing import Dict, Iterator, Mapping, Optional, Tuple

from mmvisrep.utils.atomic_io import atomic_write_text
from .methods import METHODS
from .report import (plot_loss_curves, plot_probes, read_loss_curve, read_loss_terms,
                     results_table, seed_table)
from .results import SIGNIFICANT_RATIO, aggregate, methods_beating_random

PROBE_TITLES = {
    'obj-linear@resnet': 'ResNet objects, linear (acc %)',
    'obj-knn@resnet': 'ResNet objects, kNN (acc %)',
    'maskrcnn-bbox-ap@resnet': 'ResNet Mask R-CNN 200 img (box AP)',
    'obj-linear@vit': 'ViT object crops, linear (acc %)',
    'obj-knn@vit': 'ViT object crops, kNN (acc %)',
    'upernet-miou@vit': 'ViT UperNet 200 img (mIoU %)',
    'upernet-things-miou@vit': 'ViT UperNet 200 img, the 8 shapes (mIoU %)',
}


def machine_info() -> Dict:
    """CPU model, logical cores and the torch build the benchmark ran on."""
    import torch

    # the model name is in /proc/cpuinfo on Linux; elsewhere platform's (often terser) name
    cpu = platform.processor() or 'unknown'
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            names = [ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name')]
        cpu = names[0] if names else cpu
    return dict(
        cpu=cpu,
        cores=os.cpu_count(),
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
        python=platform.python_version())


def method_labels():
    """``{method: label}`` of the table rows."""
    return {m.name: m.label for m in METHODS}


def method_order():
    """Method names in table order."""
    return list(dict.fromkeys(m.name for m in METHODS))


#: the fine-tuning probe of each backbone family (step suffix of ``probe/...``)
FINETUNE_PROBES = {'resnet': 'maskrcnn', 'vit': 'upernet'}


def wall_times(bench) -> Dict[str, Dict]:
    """Seconds per (method, seed) from the step markers: pretraining and each probe that ran
    (``objects`` and the backbone's fine-tuning probe)."""
    out: Dict[str, Dict] = {}
    for method in bench.methods:
        for seed in bench.seeds:
            pre = bench.cache.get(f'pretrain/{method.name}/seed{seed}') if not \
                method.is_random else {'seconds': 0.0}
            probes = {
                kind: bench.cache.get(f'probe/{method.backbone}/{method.name}/seed{seed}/{kind}')
                for kind in ('objects', FINETUNE_PROBES[method.backbone])
            }
            probes = {k: v['seconds'] for k, v in probes.items() if v}
            if pre is None or (method.is_random and not probes):
                continue
            out.setdefault(f'{method.name}@{method.backbone}', {})[str(seed)] = dict(
                pretrain=pre['seconds'], **probes)
    data = [
        bench.cache.get(s) for s in ('data/scenes', 'data/labelled', 'data/proposals',
                                     'data/captions', 'data/pseudo_labels')
    ]
    out['data'] = {'all': dict(pretrain=sum(d['seconds'] for d in data if d))}
    return out


def finished_pretraining(bench) -> Iterator[Tuple[str, int, Dict]]:
    """``(method, seed, marker)`` of every finished pretraining run of the benchmark."""
    for method in bench.methods:
        if method.is_random:
            continue
        for seed in bench.seeds:
            marker = bench.cache.get(f'pretrain/{method.name}/seed{seed}')
            if marker:
                yield method.name, seed, marker


def pretraining_configs(bench) -> Dict[str, str]:
    """``{method: config}`` the finished pretraining runs were trained with (their markers;
    runs from before the markers kept it: the method's benchmark config)."""
    configs: Dict[str, str] = {}
    for name, _, marker in finished_pretraining(bench):
        method = next(m for m in bench.methods if m.name == name)
        if method.stage3_config:  # ORL: stage 1 is the BYOL row's run
            configs.setdefault(name, method.stage3_config)
        else:
            configs.setdefault(name, marker.get('config', method.config))
    return configs


def loss_curves(bench) -> Dict[str, Dict[int, list]]:
    """``{method: {seed: [(iteration, loss)]}}`` of every finished pretraining run."""
    curves: Dict[str, Dict[int, list]] = {}
    for name, seed, marker in finished_pretraining(bench):
        curves.setdefault(name, {})[seed] = read_loss_curve(marker['work_dir'])
    return curves


def loss_terms(bench) -> Dict[str, Dict[str, Dict]]:
    """``{method: {seed: {term: [start, end]}}}`` of every finished pretraining run."""
    out: Dict[str, Dict[str, Dict]] = {}
    for name, seed, marker in finished_pretraining(bench):
        terms = read_loss_terms(marker['work_dir'])
        out.setdefault(name, {})[str(seed)] = {
            k: [round(a, 4), round(b, 4)]
            for k, (a, b) in terms.items()
        }
    return out


def write_outputs(bench,
                  outcome: Mapping,
                  docs_dir: str,
                  md_name: str = 'toy_benchmark.md',
                  levers: Optional[Mapping] = None) -> Dict:
    """Write ``DOCS/toy_benchmark/results.json``, its plots and ``DOCS/<md_name>``."""
    out_dir = osp.join(docs_dir, osp.splitext(md_name)[0])
    os.makedirs(out_dir, exist_ok=True)
    results = aggregate(
        outcome['per_seed'],
        bench.seeds,
        reference={
            p: {
                'pixel-stats': v
            }
            for p, v in outcome['reference'].items()
        })
    times = wall_times(bench)
    results['wall_seconds'] = times
    results['machine'] = machine_info()
    results['loss_terms'] = loss_terms(bench)
    results['protocol'] = dict(bench.data_spec, num_labelled=outcome.get('num_labelled'))
    atomic_write_text(
        json.dumps(results, indent=1, sort_keys=True), osp.join(out_dir, 'results.json'))
    labels = method_labels()
    plots = {}
    curves = loss_curves(bench)
    if any(c for seeds in curves.values() for c in seeds.values()):
        plots['loss'] = plot_loss_curves(curves, labels, osp.join(out_dir, 'loss_curves.png'))
    if results['probes']:
        plots['probes'] = plot_probes(results, labels, osp.join(out_dir, 'probes.png'),
                                      PROBE_TITLES)
    atomic_write_text(
        render_markdown(bench, results, plots, docs_dir, levers), osp.join(docs_dir, md_name))
    return results


def write_report(work_dir: str,
                 data_root: str,
                 seeds,
                 docs_dir: str,
                 python: Optional[str] = None) -> Dict:
    """Rewrite the report from every finished step of every method, probe and seed under
    ``work_dir`` (whatever a call ran: ``seeds`` are added to those with finished probes), with
    the measured levers when ``levers.json`` exists."""
    import sys

    from .cache import StepCache
    from .methods import methods_for
    from .runner import ToyBenchmark
    seeds = sorted(set(seeds) | set(StepCache(work_dir).probed_seeds()))
    report = ToyBenchmark(
        work_dir,
        data_root,
        seeds=seeds,
        methods=methods_for(None),
        python=python or sys.executable)
    levers_file = osp.join(work_dir, 'levers.json')
    levers = None
    if osp.isfile(levers_file):
        with open(levers_file) as f:
            levers = json.load(f)
    return write_outputs(report, report.collect(), docs_dir, levers=levers)


def _minutes(seconds: float) -> str:
    return f'{seconds / 60:.1f}'


def render_markdown(bench,
                    results: Mapping,
                    plots: Mapping,
                    docs_dir: str,
                    levers: Optional[Mapping] = None) -> str:
    spec = bench.data_spec
    labels, order = method_labels(), method_order()
    lines = [
        '# Toy benchmark: does each method learn transferable features on a 2-core CPU?', '',
        '*Generated by `tools/benchmarks/toy_benchmark.py` from its run logs on '
        f'{time.strftime("%Y-%m-%d")}; do not edit by hand (rerun the tool). What the runs '
        'revealed, and why the protocol is what it is: '
        '[toy_benchmark_findings.md](toy_benchmark_findings.md).*', ''
    ]
    lines += protocol_section(spec, results)
    configs = pretraining_configs(bench)
    if configs:
        lines[-1:-1] = [
            '- **Pretraining configs** of the runs: ' +
            '; '.join(f'{labels.get(k, k)} `{v}`' for k, v in configs.items()) + '.'
        ]
    m = results['machine']
    lines += [
        '## Machine', '', f'{m["cpu"]}, {m["cores"]} logical cores, torch {m["torch"]} '
        f'({m["torch_threads"]} threads), Python {m["python"]}.', ''
    ]
    lines += ['## Results', '']
    if results['probes']:
        lines += [
            f'Mean ± sample std over seeds {", ".join(map(str, results["seeds"]))}. In brackets: '
            'the gain over random init of the same backbone in seed spreads, '
            '(mean − mean<sub>random</sub>) / max(std, std<sub>random</sub>); **bold** above '
            f'{SIGNIFICANT_RATIO:g}. Higher is better everywhere.', '',
            results_table(results, order, labels, PROBE_TITLES), ''
        ]
        beating = methods_beating_random(results)
        winners = ', '.join(f'{labels.get(k, k)} ({", ".join(v)})' for k, v in beating.items())
        lines += [
            f'Beating random init by more than {SIGNIFICANT_RATIO:g} seed spreads: '
            f'{winners or "none"}.', ''
        ]
    if results.get('incomplete'):
        lines += [
            'Not all seeds finished yet (their rows show the finished seeds and get no '
            'gain): ' + '; '.join(f'{p}: ' + ', '.join(f'{k} seeds {v}' for k, v in rows.items())
                                  for p, rows in results['incomplete'].items()) + '.', ''
        ]
    rel = osp.relpath
    if 'probes' in plots:
        lines += [
            f'![probe results]({rel(plots["probes"], docs_dir)})', '',
            '*Bars: mean ± std over seeds; dashed line and grey band: random init ± 3 '
            'std; dotted red: the pixel-statistics reference.*', ''
        ]
    if 'loss' in plots:
        lines += [
            '### Pretraining loss', '', f'![loss curves]({rel(plots["loss"], docs_dir)})', ''
        ]
    lines += loss_terms_section(results, labels)
    lines += wall_time_section(results, labels)
    if levers:
        lines += levers_section(levers)
    lines += ['## Every seed', '', seed_table(results, order, labels, PROBE_TITLES), '']
    return '\n'.join(lines) + '\n'


def protocol_section(spec: Mapping, results: Mapping):
    lo, hi = spec['radius_range']
    return [
        '## Protocol', '', f'- **Data** (`tools/data/make_toy_scenes.py`, seed {spec["seed"]}): '
        f'{spec["num_train"]} unlabelled train2017 images and {spec["num_val"]} val2017 test '
        f'images of {spec["img_size"]} px, 1-{spec["max_objects"]} shapes each (radius '
        f'{lo:g}-{hi:g} of the side), object textures `{spec["textures"]}`: a shape\'s surface '
        'pattern and colour are drawn per object, so only its outline tells the class. The first '
        f'{results["protocol"].get("num_labelled")} train images are the labelled set; every '
        'method pretrains on all train images with its own kind of supervision '
        '(none, captions, narratives, stuff maps, pseudo-labels).',
        '- **Backbones**: ResNet-18 of width 32 (`ResNet(base_channels=32)`) for BYOL, SoCo, '
        'ORL, LocTex and the SVL variants; a 4-layer 192-wide ViT with 16 px patches for MAE '
        'and MUG. Each row pretrains through `tools/train.py` with its config in '
        '`configs/toy_benchmark/`; random init is the same backbone untrained.',
        '- **Object probes** (`tools/benchmarks/object_probe.py`, frozen backbone): every '
        'ground-truth box RoIAligned (3x3 bins, kept) on C2+C3 of the ResNet; on the ViT, '
        'whose 16 px tokens give an object only 2-4 tokens a side, each object cropped on its '
        'own (1.3 x its longer side) and resized to 128 px, the token maps of all four blocks '
        'pooled into 3x3 bins, kept; logistic regression with C chosen by 3-fold CV on the '
        'labelled objects, and a weighted cosine kNN (k=20). Test: all val2017 objects.',
        '- **Fine-tuning probes**: the toy Mask R-CNN (R18-w32 FPN, 4conv1fc, BN) trained on the '
        '200 labelled images, val2017 box AP (ResNet); mmseg\'s UperNet on the ViT (MAE '
        'recipe, lr 1e-3) trained on the COCO-Stuff maps of the 200 labelled images for 600 '
        'iterations of 8, val2017 mIoU over the 16 toy classes and over the 8 shapes alone '
        '(the stuff kinds differ in colour and texture, the shapes only in outline) (ViT).',
        '- **Reference**: the object probes on colour histograms of the box pixels (pixel '
        'statistics): what colour alone tells.', ''
    ]


def loss_terms_section(results: Mapping, labels: Mapping[str, str]):
    """Each loss term of each pretraining run: mean of its first logged iterations -> last
    value, so that a term that never moved (e.g. a classification loss stuck at ln 2) shows."""
    terms = results.get('loss_terms') or {}
    if not terms:
        return []
    lines = [
        '### Loss terms (first 50 iterations → end of pretraining)', '',
        '| method | seed | terms |', '|---|---|---|'
    ]
    for method, seeds in terms.items():
        for seed, values in seeds.items():
            cells = ', '.join(f'{k} {a:.3f} → {b:.3f}' for k, (a, b) in sorted(values.items()))
            lines.append(f'| {labels.get(method, method)} | {seed} | {cells} |')
    return lines + ['']


def wall_time_section(results: Mapping, labels: Mapping[str, str]):
    """Minutes per seed of each row (median over the timed seeds), the total so far and the
    projected full benchmark, each row with every probe of its backbone."""
    rows, total, projected, worst = wall_time_rows(results['wall_seconds'], len(results['seeds']))
    lines = [
        '## Wall time', '', 'Minutes per seed, the median over the timed seeds (a run that '
        'shared the two cores with another job, e.g. the tests, takes up to twice as long: '
        'compare the seeds of a row in `work_dirs/toy_benchmark/done/`). A fine-tuning probe '
        'that has not run for a row is estimated by its median over the other rows of the '
        'backbone (*est.*).', '',
        '| run | seeds timed | pretraining | object probes | fine-tuning probe | one seed |',
        '|---|---|---|---|---|---|'
    ]
    for key, row in rows.items():
        name = 'data preparation (once)' if key == 'data' else \
            f'{labels.get(key.split("@")[0], key)} ({key.split("@")[1]})'
        ft = '' if row['finetune'] is None else \
            _minutes(row['finetune']) + (' (est.)' if row['estimated'] else '')
        lines.append(f'| {name} | {row["seeds"]} | {_minutes(row["pretrain"])} | '
                     f'{_minutes(row["objects"])} | {ft} | {_minutes(row["one_seed"])} |')
    lines += [
        '', f'Total: {total / 3600:.2f} h of steps on this machine (sum of the step '
        'markers; an interrupted step counts from its last start). Every row above at '
        f'{len(results["seeds"])} seeds with every probe: {projected / 3600:.2f} h; the longest '
        f'row takes {_minutes(worst[1])} min per seed ({labels.get(worst[0].split("@")[0])}). '
        'ORL\'s pretraining time is stages 2 and 3 only: its stage 1 is the BYOL run of the '
        'same seed.', ''
    ]
    return lines


def wall_time_rows(times: Mapping, num_seeds: int):
    """``(rows, total, projected, (slowest row, its seconds))`` from ``wall_seconds``: per row
    the median seconds per seed of pretraining, object probes and the fine-tuning probe (the
    backbone's median over rows where the row has none), and their sum ``one_seed``."""

    finetune_by_backbone: Dict[str, list] = {}
    rows: Dict[str, Dict] = {}
    total = 0.0
    for key, seeds in times.items():
        runs = list(seeds.values())
        total += sum(sum(v.values()) for v in runs)
        if key == 'data':
            pre = sum(v['pretrain'] for v in runs)
            rows[key] = dict(
                seeds=1, pretrain=pre, objects=0.0, finetune=None, estimated=False, one_seed=pre)
            continue
        backbone = key.split('@')[1]
        ft = [v[FINETUNE_PROBES[backbone]] for v in runs if FINETUNE_PROBES[backbone] in v]
        rows[key] = dict(
            seeds=len(runs),
            pretrain=median([v['pretrain'] for v in runs]),
            objects=median([v.get('objects', 0.0) for v in runs]),
            finetune=median(ft) if ft else None,
            estimated=False)
        if ft:
            finetune_by_backbone.setdefault(backbone, []).append(median(ft))
    projected, worst = 0.0, ('', 0.0)
    for key, row in rows.items():
        if key != 'data':
            backbone = key.split('@')[1]
            if row['finetune'] is None and finetune_by_backbone.get(backbone):
                row.update(finetune=median(finetune_by_backbone[backbone]), estimated=True)
            row['one_seed'] = row['pretrain'] + row['objects'] + (row['finetune'] or 0.0)
            worst = max(worst, (key, row['one_seed']), key=lambda kv: kv[1])
        projected += row['one_seed'] * (1 if key == 'data' else num_seeds)
    return rows, total, projected, worst


def levers_section(levers: Mapping):
    """The measured levers (``levers.json`` of ``toy_benchmark_levers.py``)."""
    seeds = ', '.join(map(str, levers.get('seeds', [])))
    lines = [
        '## How the probe was chosen (levers, measured)', '',
        'Each probe setting re-run on the random-init and stock-baseline backbones (BYOL for '
        f'the ResNet, MAE for the ViT) of seeds {seeds} '
        '(`tools/benchmarks/toy_benchmark_levers.py`); each *pretraining epochs* and *backbone '
        'width* setting re-pretrains stock BYOL for every seed and probes it as the benchmark '
        'does (random init is not pretrained: its row is the benchmark\'s, or the narrower '
        'random backbone re-probed), and gives the pretraining minutes per seed (the median); '
        'gain in seed spreads as above.', '',
        '| lever | setting | probe | random init | stock baseline | gain | pretraining (min) |',
        '|---|---|---|---|---|---|---|'
    ]
    labels = method_labels()
    for row in levers['rows']:
        gain = row.get('gain')
        cell = '' if gain is None else f'{gain["gain"]:+.1f} ({gain["ratio"]:+.1f}σ)'
        baseline = row.get('baseline', 'byol')  # levers.json of before the ViT levers
        lines.append(f'| {row["lever"]} | {row["setting"]} | {row["probe"]} | '
                     f'{_fmt_entry(row.get("random"))} | {labels.get(baseline, baseline)} '
                     f'{_fmt_entry(row.get(baseline))} | {cell} | '
                     f'{row.get("pretrain_minutes", "")} |')
    for row in levers.get('pretraining', []):
        lines += [
            '', f'**{row["lever"]}** (`{row["method"]}`, seed {row["seed"]}, '
            f'`--cfg-options {" ".join(row["options"])}`): loss terms, first 50 '
            'iterations → end.', '', '| term | benchmark config | variant |', '|---|---|---|'
        ]
        for term in sorted(set(row['benchmark']) | set(row['variant'])):
            cells = [
                '' if term not in row[k] else f'{row[k][term][0]:.3f} → {row[k][term][1]:.3f}'
                for k in ('benchmark', 'variant')
            ]
            lines.append(f'| {term} | {cells[0]} | {cells[1]} |')
    return lines + ['']


def _fmt_entry(entry) -> str:
    return '' if not entry else f'{entry["mean"]:.1f} ± {entry["std"]:.1f}'
