"""The toy benchmark's report: loss curves and probe plots (PNG) and the markdown page, all
generated from the run logs and the results of :mod:`.results` (no number is typed by hand)."""
import glob
import json
import os.path as osp
from typing import Dict, Iterator, List, Mapping, Sequence, Tuple

from .results import SIGNIFICANT_RATIO

LossCurve = List[Tuple[int, float]]


def iter_scalars(work_dir: str) -> Iterator[Dict]:
    """Every record of ``*/vis_data/scalars.json`` of an mmengine work dir, run folders in
    order (a resumed training logs into a second folder)."""
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def read_loss_curve(work_dir: str) -> LossCurve:
    """``[(iteration, loss)]`` of an mmengine work dir, over every (resumed) run folder; a later
    folder's value wins for an iteration logged twice."""
    points = {
        int(r['iter']): float(r['loss'])
        for r in iter_scalars(work_dir) if 'loss' in r and 'iter' in r
    }
    return sorted(points.items())


def _is_loss_term(key: str) -> bool:
    return key.startswith('loss') or key.endswith('.loss') or '_loss' in key


def read_loss_terms(work_dir: str, first_iters: int = 50) -> Dict[str, Tuple[float, float]]:
    """``{loss term: (mean over the first first_iters logged iterations, last logged value)}`` of
    an mmengine work dir: whether each term of a method's loss moved during pretraining."""
    series: Dict[str, Dict[int, float]] = {}
    for record in iter_scalars(work_dir):
        if 'iter' in record:
            for key, value in record.items():
                if _is_loss_term(key):
                    series.setdefault(key, {})[int(record['iter'])] = float(value)
    out = {}
    for key, points in series.items():
        its = sorted(points)
        head = [points[i] for i in its if i <= its[0] + first_iters]
        out[key] = (sum(head) / len(head), points[its[-1]])
    return out


def plot_loss_curves(curves: Mapping[str, Mapping[int, LossCurve]], labels: Mapping[str, str],
                     out: str) -> str:
    """One panel per method, one line per seed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    methods = [m for m in curves if any(curves[m].values())]
    if not methods:
        raise ValueError('no loss curves to plot')
    cols = min(4, len(methods))
    rows = (len(methods) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.7 * rows), squeeze=False)
    for ax in axes.flat[len(methods):]:
        ax.axis('off')
    for ax, method in zip(axes.flat, methods):
        for seed, curve in sorted(curves[method].items()):
            if curve:
                its, losses = zip(*curve)
                ax.plot(its, losses, lw=1, label=f'seed {seed}')
        ax.set_title(labels.get(method, method), fontsize=10)
        ax.set_xlabel('iteration', fontsize=8)
        ax.set_ylabel('total loss', fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_probes(results: Mapping, labels: Mapping[str, str], out: str,
                probe_titles: Mapping[str, str]) -> str:
    """One panel per probe: mean +- std over seeds per method, random init's mean as a line
    with its +- 3 std band, and the pixel-statistics reference where it exists; rows that lack
    seeds are drawn lighter and labelled with their seed count."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    probes = list(results['probes'])
    if not probes:
        raise ValueError('no probe results to plot')
    fig, axes = plt.subplots(1, len(probes), figsize=(3.2 * len(probes) + 1, 3.6), squeeze=False)
    for ax, probe in zip(axes[0], probes):
        rows = results['probes'][probe]
        names = list(rows)
        means = [rows[m]['mean'] for m in names]
        stds = [rows[m]['std'] for m in names]
        partial = results.get('incomplete', {}).get(probe, {})
        colours = ['0.6' if m == 'random' else 'C0' for m in names]
        bars = ax.bar(range(len(names)), means, yerr=stds, color=colours, capsize=3)
        for bar, name in zip(bars, names):
            if name in partial:  # not every seed finished: lighter, with its seed count
                bar.set_alpha(0.4)
                ax.annotate(
                    f'{len(partial[name])} seed',
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha='center',
                    va='bottom',
                    fontsize=6)
        if 'random' in rows:
            r = rows['random']
            ax.axhline(r['mean'], color='k', lw=0.8, ls='--')
            ax.axhspan(
                r['mean'] - SIGNIFICANT_RATIO * r['std'],
                r['mean'] + SIGNIFICANT_RATIO * r['std'],
                color='0.85',
                zorder=0)
        ref = results.get('reference', {}).get(probe, {}).get('pixel-stats')
        if ref is not None:
            ax.axhline(ref, color='C3', lw=0.8, ls=':', label='pixel statistics')
            ax.legend(fontsize=7, loc='lower right')
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([labels.get(m, m) for m in names], rotation=60, ha='right', fontsize=7)
        ax.set_title(probe_titles.get(probe, probe), fontsize=9)
        ax.tick_params(axis='y', labelsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _fmt(entry: Mapping) -> str:
    return f'{entry["mean"]:.1f} ± {entry["std"]:.1f}'


def results_table(results: Mapping, method_order: Sequence[str], labels: Mapping[str, str],
                  probe_titles: Mapping[str, str]) -> str:
    """Markdown table: a row per method, a column per probe (mean ± std, and the gain over
    random init in seed spreads, bold when above 3)."""
    probes = list(results['probes'])
    head = '| method | ' + ' | '.join(probe_titles.get(p, p) for p in probes) + ' |'
    lines = [head, '|' + '---|' * (len(probes) + 1)]
    for method in method_order:
        if not any(method in results['probes'][p] for p in probes):
            continue
        cells = []
        for probe in probes:
            entry = results['probes'][probe].get(method)
            if entry is None:
                cells.append('')
                continue
            text = _fmt(entry)
            have = results.get('incomplete', {}).get(probe, {}).get(method)
            if have is not None:
                text += f' ({len(have)} of {len(results["seeds"])} seeds)'
            gain = results.get('gains', {}).get(probe, {}).get(method)
            if gain is not None:
                ratio = gain['ratio']
                mark = f'{ratio:+.1f}σ'
                text += f' (**{mark}**)' if ratio > SIGNIFICANT_RATIO else f' ({mark})'
            cells.append(text)
        lines.append(f'| {labels.get(method, method)} | ' + ' | '.join(cells) + ' |')
    ref = results.get('reference', {})
    if ref:
        cells = [f'{ref[p]["pixel-stats"]:.1f}' if p in ref else '' for p in probes]
        lines.append('| *pixel statistics (reference)* | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def seed_table(results: Mapping, method_order: Sequence[str], labels: Mapping[str, str],
               probe_titles: Mapping[str, str]) -> str:
    """Every seed's value, for the record."""
    seeds = results['seeds']
    lines = [
        '| probe | method | ' + ' | '.join(f'seed {s}' for s in seeds) + ' |',
        '|---|---|' + '---|' * len(seeds)
    ]
    for probe, rows in results['probes'].items():
        for method in method_order:
            if method in rows:
                have = results.get('incomplete', {}).get(probe, {}).get(method, seeds)
                by_seed = dict(zip(have, rows[method]['seeds']))
                vals = ' | '.join(f'{by_seed[s]:.2f}' if s in by_seed else '–' for s in seeds)
                lines.append(f'| {probe_titles.get(probe, probe)} | {labels.get(method, method)} '
                             f'| {vals} |')
    return '\n'.join(lines)
