"""The toy benchmark driver's own logic: step cache (skip, rerun after a kill), results
aggregation and writing, the report, and the benchmark configs resolving."""
import json
import math
from pathlib import Path

import pytest

from mmvisrep.toy_benchmark.cache import StepCache
from mmvisrep.toy_benchmark.report import read_loss_curve, results_table, seed_table
from mmvisrep.toy_benchmark.results import (aggregate, gain_over, methods_beating_random,
                                            significant, summarise)

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- cache
def test_cache_runs_once_and_skips(tmp_path):
    cache = StepCache(str(tmp_path), log=lambda msg: None)
    calls = []

    def step():
        calls.append(1)
        return dict(value=3)

    first = cache.run('pretrain/byol/seed0', step)
    again = cache.run('pretrain/byol/seed0', step)
    assert calls == [1]
    assert first['value'] == again['value'] == 3 and 'seconds' in first
    # another process (a rerun of the driver) sees the same marker
    assert StepCache(str(tmp_path), log=lambda m: None).get('pretrain/byol/seed0')['value'] == 3


def test_killed_step_runs_again(tmp_path):
    """A step that dies before returning leaves no marker, so the rerun executes it."""
    cache = StepCache(str(tmp_path), log=lambda msg: None)

    def killed():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.run('probe/x', killed)
    assert cache.get('probe/x') is None
    assert cache.run('probe/x', lambda: dict(ok=True))['ok'] is True


def test_damaged_marker_counts_as_unfinished(tmp_path):
    cache = StepCache(str(tmp_path), log=lambda msg: None)
    marker = Path(cache.marker('data/scenes'))
    marker.parent.mkdir(parents=True)
    marker.write_text('{"trunc')
    assert cache.get('data/scenes') is None
    assert cache.run('data/scenes', lambda: dict(n=1))['n'] == 1


def test_bad_step_names(tmp_path):
    cache = StepCache(str(tmp_path))
    for name in ('../escape', 'a b', ''):
        with pytest.raises(ValueError):
            cache.marker(name)


# ---------------------------------------------------------------- results
def test_summarise_by_hand():
    out = summarise([1.0, 2.0, 3.0])
    assert out == dict(seeds=[1.0, 2.0, 3.0], mean=2.0, std=1.0)
    assert summarise([5.0])['std'] == 0.0
    with pytest.raises(ValueError):
        summarise([])
    with pytest.raises(ValueError):
        summarise([1.0, math.nan])


def test_gain_in_seed_spreads():
    base = summarise([10.0, 11.0, 12.0])  # std 1
    good = summarise([16.0, 18.0, 20.0])  # std 2, mean 18
    g = gain_over(good, base)
    assert g == dict(gain=7.0, spread=2.0, ratio=3.5)
    assert gain_over(summarise([12.0, 12.0, 12.0]), summarise([10.0] * 3))['ratio'] == math.inf


def test_aggregate_and_significance():
    per_seed = {
        'obj-linear@resnet': {
            'random': {
                0: 10.0,
                1: 11.0,
                2: 12.0
            },
            'byol': {
                0: 16.0,
                1: 18.0,
                2: 20.0
            },
            'soco': {
                0: 11.0,
                1: 12.0,
                2: 13.0
            },
            'orl': {
                0: 30.0,
                2: 31.0
            },  # one seed missing: summarised, flagged, never significant
        }
    }
    res = aggregate(per_seed, [0, 1, 2], reference={'obj-linear@resnet': {'pixel-stats': 9.0}})
    rows = res['probes']['obj-linear@resnet']
    assert set(rows) == {'random', 'byol', 'soco', 'orl'}
    assert res['incomplete'] == {'obj-linear@resnet': {'orl': [0, 2]}}
    assert rows['orl']['mean'] == 30.5 and 'orl' not in res['gains']['obj-linear@resnet']
    assert significant(res, 'obj-linear@resnet', 'byol')
    assert not significant(res, 'obj-linear@resnet', 'soco')
    assert methods_beating_random(res) == {'byol': ['obj-linear@resnet']}
    assert res['reference']['obj-linear@resnet']['pixel-stats'] == 9.0
    # the documented results.json form
    for entry in rows.values():
        assert set(entry) == {'seeds', 'mean', 'std'}
    json.dumps(res)  # serialisable


def test_results_table_marks_significant_rows():
    res = aggregate({'p': {'random': {0: 1.0, 1: 2.0}, 'byol': {0: 9.0, 1: 10.0}}}, [0, 1])
    table = results_table(res, ['random', 'byol'], {'byol': 'BYOL'}, {'p': 'probe'})
    assert '| BYOL | 9.5 ± 0.7 (**+11.3σ**) |' in table
    assert '| random | 1.5 ± 0.7 |' in table
    partial = aggregate({'p': {'random': {0: 1.0, 1: 2.0}, 'byol': {1: 9.0}}}, [0, 1])
    assert '| byol | 9.0 ± 0.0 (1 of 2 seeds) |' in results_table(partial, ['random', 'byol'], {},
                                                                  {})
    assert '| p | byol | – | 9.00 |' in seed_table(partial, ['random', 'byol'], {}, {})


def test_read_loss_curve_over_resumed_runs(tmp_path):
    """A resumed training logs into a second run folder; later values win."""
    for run, records in (('20260101_000000', [(10, 1.0),
                                              (20, 0.8)]), ('20260101_010000', [(20, 0.7),
                                                                                (30, 0.5)])):
        folder = tmp_path / run / 'vis_data'
        folder.mkdir(parents=True)
        lines = [json.dumps(dict(iter=i, loss=v, lr=0.1)) for i, v in records]
        lines.append(json.dumps({'coco/bbox_mAP': 0.1, 'step': 3}))
        (folder / 'scalars.json').write_text('\n'.join(lines) + '\n')
    assert read_loss_curve(str(tmp_path)) == [(10, 1.0), (20, 0.7), (30, 0.5)]


def test_read_loss_terms(tmp_path):
    """Start (mean of the first 50 iterations) and end value of every loss term."""
    from mmvisrep.toy_benchmark.report import read_loss_terms
    folder = tmp_path / '20260101_000000' / 'vis_data'
    folder.mkdir(parents=True)
    rows = [dict(iter=i, loss=2.0 - i / 100, loss_itm=0.693, lr=0.1) for i in (20, 40, 60, 80)]
    (folder / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    terms = read_loss_terms(str(tmp_path))
    assert terms['loss'] == pytest.approx(((1.8 + 1.6 + 1.4) / 3, 1.2))
    assert terms['loss_itm'] == pytest.approx((0.693, 0.693)) and 'lr' not in terms


# ---------------------------------------------------------------- configs
def _benchmark_configs():
    return sorted((REPO / 'configs/toy_benchmark').rglob('*.py'))


@pytest.mark.parametrize(
    'config', [c for c in _benchmark_configs() if '_base_' not in c.parts], ids=lambda p: p.name)
def test_benchmark_configs_share_the_protocol(config, tmp_path, monkeypatch):
    """Every benchmark config resolves, reads the data root from TOYBENCH_DATA_ROOT and builds
    the protocol's backbone."""
    from mmengine.config import Config
    monkeypatch.setenv('TOYBENCH_DATA_ROOT', f'{tmp_path}/')
    cfg = Config.fromfile(str(config))
    assert str(tmp_path) in cfg.pretty_text
    backbone = cfg.model.backbone
    if 'arch' in backbone:  # mmpretrain's ViT
        assert backbone.patch_size == 16 and backbone.img_size == 128
        assert backbone.arch['embed_dims'] == 192 and backbone.arch['num_layers'] == 4
    elif backbone.type == 'MAE':  # the same ViT as mmseg's MAE backbone
        assert backbone.patch_size == 16 and tuple(backbone.img_size) == (128, 128)
        assert backbone.embed_dims == 192 and backbone.num_layers == 4
    else:
        assert backbone.depth == 18 and backbone.base_channels == 32


def test_every_method_config_exists():
    from mmvisrep.toy_benchmark.methods import METHODS
    for method in METHODS:
        for config in (method.config, method.stage3_config):
            if config:
                assert (REPO / config).is_file(), config


# ---------------------------------------------------------------- driver
class _FakeTools:
    """Stands in for the subprocesses of the driver: records each tool run, writes what the
    real tool would (probe json, a checkpoint marker), and can be told to die once."""

    def __init__(self, fail_on=None):
        self.calls = []
        self.commands = {}
        self.fail_on = fail_on

    def call(self, bench, step, cmd):
        from mmvisrep.toy_benchmark.runner import StepError
        self.calls.append(step)
        self.commands[step] = [str(c) for c in cmd]
        if self.fail_on and self.fail_on in step:
            self.fail_on = None
            raise StepError(f'{step}: killed')
        cmd = [str(c) for c in cmd]
        if 'tools/benchmarks/object_probe.py' in cmd:
            out = Path(cmd[cmd.index('--out') + 1])
            out.parent.mkdir(parents=True, exist_ok=True)
            acc = 20.0 if cmd[3] in ('random', 'pixel-stats') else 30.0 + len(self.calls)
            out.write_text(json.dumps(dict(linear=dict(accuracy=acc), knn=dict(accuracy=acc))))

    def train(self, bench, step, config, work_dir, seed, options=()):
        self.calls.append(step)
        logs = Path(work_dir, '20260101_000000', 'vis_data')
        logs.mkdir(parents=True, exist_ok=True)
        records = [dict(iter=i, loss=1.0 / i) for i in (10, 20, 30)]
        if step.endswith('/upernet'):  # the grouped IoU metric of the validation at the end
            records.append(
                dict(
                    aAcc=80.0,
                    mIoU=30.0 + seed,
                    mIoU_things=2.0 + seed,
                    mIoU_stuff=58.0 + seed,
                    step=600))
        (logs / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))
        return dict(checkpoint=f'{work_dir}/epoch_8.pth', work_dir=work_dir)


def _fake_bench(tmp_path,
                tools,
                monkeypatch,
                methods=('random', 'byol'),
                probes=('obj-linear@resnet', 'obj-knn@resnet')):
    from mmvisrep.toy_benchmark.methods import methods_for
    from mmvisrep.toy_benchmark.runner import ToyBenchmark
    monkeypatch.setattr(ToyBenchmark, 'call', lambda self, s, c: tools.call(self, s, c))
    monkeypatch.setattr(ToyBenchmark, 'train', lambda self, *a, **k: tools.train(self, *a, **k))
    bench = ToyBenchmark(
        str(tmp_path / 'work'),
        str(tmp_path / 'data'),
        seeds=[0, 1],
        methods=methods_for(list(methods)),
        probes=list(probes),
        log=lambda msg: None)
    # the data steps are done (generating scenes is the generator's own test)
    for step in ('data/scenes', 'data/labelled'):
        bench.cache.run(step, dict)
    return bench


def test_driver_skips_finished_steps_and_resumes_after_a_kill(tmp_path, monkeypatch):
    from mmvisrep.toy_benchmark.runner import StepError
    tools = _FakeTools(fail_on='byol/seed1/objects')
    bench = _fake_bench(tmp_path, tools, monkeypatch)
    with pytest.raises(StepError, match='killed'):
        bench.run()
    first = list(tools.calls)
    assert first == [
        'probe/pixel-stats', 'probe/resnet/random/seed0/objects', 'pretrain/byol/seed0',
        'probe/resnet/byol/seed0/objects', 'probe/resnet/random/seed1/objects',
        'pretrain/byol/seed1', 'probe/resnet/byol/seed1/objects'
    ]
    tools.calls.clear()
    outcome = bench.run()  # the rerun does only what the kill interrupted
    assert tools.calls == ['probe/resnet/byol/seed1/objects']
    tools.calls.clear()
    assert bench.run() == outcome and tools.calls == []
    assert bench.collect()['per_seed'] == outcome['per_seed']
    assert outcome['per_seed']['obj-linear@resnet']['random'] == {0: 20.0, 1: 20.0}
    assert outcome['reference'] == {'obj-linear@resnet': 20.0, 'obj-knn@resnet': 20.0}


def test_results_writer(tmp_path, monkeypatch):
    """results.json in the documented form, the probe plot and the page, from finished steps."""
    from mmvisrep.toy_benchmark.write import write_outputs
    bench = _fake_bench(tmp_path, _FakeTools(), monkeypatch)
    outcome = bench.run()
    results = write_outputs(bench, outcome, str(tmp_path / 'docs'))
    saved = json.loads((tmp_path / 'docs/toy_benchmark/results.json').read_text())
    assert saved['probes'] == results['probes']
    byol = saved['probes']['obj-linear@resnet']['byol']
    assert set(byol) == {'seeds', 'mean', 'std'} and len(byol['seeds']) == 2
    assert byol['mean'] == pytest.approx(sum(byol['seeds']) / 2)
    assert saved['probes']['obj-linear@resnet']['random'] == dict(
        seeds=[20.0, 20.0], mean=20.0, std=0.0)
    assert (tmp_path / 'docs/toy_benchmark/probes.png').stat().st_size > 1000
    assert (tmp_path / 'docs/toy_benchmark/loss_curves.png').stat().st_size > 1000
    page = (tmp_path / 'docs/toy_benchmark.md').read_text()
    assert '| BYOL |' in page and 'pixel statistics (reference)' in page
    assert 'Beating random init by more than 3 seed spreads: BYOL' in page


def test_upernet_run_gives_the_16_class_and_the_shapes_miou(tmp_path, monkeypatch):
    """One UperNet run per seed feeds both segmentation probes; a run cached before the grouped
    metric existed still gives its 16-class mIoU."""
    tools = _FakeTools()
    bench = _fake_bench(
        tmp_path,
        tools,
        monkeypatch,
        methods=('random', 'mae'),
        probes=('upernet-miou@vit', 'upernet-things-miou@vit'))
    outcome = bench.run()
    # MAE's step runs the export, then the training; random init trains only
    assert [c for c in tools.calls if c.endswith('/upernet')] == [
        'probe/vit/random/seed0/upernet', 'probe/vit/mae/seed0/upernet',
        'probe/vit/mae/seed0/upernet', 'probe/vit/random/seed1/upernet',
        'probe/vit/mae/seed1/upernet', 'probe/vit/mae/seed1/upernet'
    ]
    assert outcome['per_seed']['upernet-miou@vit']['mae'] == {0: 30.0, 1: 31.0}
    assert outcome['per_seed']['upernet-things-miou@vit']['random'] == {0: 2.0, 1: 3.0}
    marker = Path(bench.cache.marker('probe/vit/mae/seed1/upernet'))
    old = json.loads(marker.read_text())
    assert old['miou_stuff'] == 59.0
    for key in ('miou_things', 'miou_stuff'):
        old.pop(key)
    marker.write_text(json.dumps(old))
    found = bench.collect()['per_seed']
    assert found['upernet-miou@vit']['mae'] == {0: 30.0, 1: 31.0}
    assert found['upernet-things-miou@vit']['mae'] == {0: 2.0}


def test_report_covers_every_cached_seed(tmp_path, monkeypatch):
    """A later call for one seed rewrites the report with every seed that has finished probes,
    not only its own (its rows would otherwise show one seed and no spread)."""
    from mmvisrep.toy_benchmark.write import write_report
    bench = _fake_bench(tmp_path, _FakeTools(), monkeypatch)
    bench.run()  # seeds 0 and 1
    assert bench.cache.probed_seeds() == [0, 1]
    results = write_report(bench.work_dir, bench.data_root, [0], str(tmp_path / 'docs'))
    assert results['seeds'] == [0, 1]
    assert len(results['probes']['obj-linear@resnet']['byol']['seeds']) == 2


def test_levers_reuse_the_benchmark_runs(tmp_path, monkeypatch):
    """A lever setting re-probes the finished runs of every seed (cached); the benchmark's own
    setting reuses its probe; levers.json holds mean ± std per method and the gain."""
    from mmvisrep.toy_benchmark.levers import LEVER_SETTINGS, run_levers
    from mmvisrep.toy_benchmark.write import levers_section
    tools = _FakeTools()
    bench = _fake_bench(tmp_path, tools, monkeypatch)
    bench.run()
    tools.calls.clear()
    settings = [s for s in LEVER_SETTINGS if s[1] == 'labelled images']
    out = run_levers(bench, settings)
    assert tools.calls == [
        f'levers/labelled-images/{n}/{m}/seed{s}' for n in ('50', '1000')
        for m in ('random', 'byol') for s in (0, 1)
    ]
    assert json.loads((tmp_path / 'work/levers.json').read_text()) == out
    row = next(r for r in out['rows']
               if r['setting'] == '200 (benchmark)' and r['probe'] == 'obj-linear@resnet')
    assert row['random'] == dict(seeds=[20.0, 20.0], mean=20.0, std=0.0)
    assert row['gain']['gain'] == pytest.approx(row['byol']['mean'] - 20.0)
    tools.calls.clear()
    assert run_levers(bench, settings) == out and tools.calls == []
    assert '| labelled images | 50 | obj-linear@resnet | 20.0 ± 0.0 |' in '\n'.join(
        levers_section(out))


def test_vit_levers_compare_mae_with_random_init(tmp_path, monkeypatch):
    """The ViT levers probe the random-init and MAE ViTs with the ViT's probe config."""
    from mmvisrep.toy_benchmark.levers import LEVER_SETTINGS, run_levers
    from mmvisrep.toy_benchmark.runner import OBJECT_PROBE_CONFIGS
    from mmvisrep.toy_benchmark.write import levers_section
    tools = _FakeTools()
    bench = _fake_bench(
        tmp_path,
        tools,
        monkeypatch,
        methods=('random', 'mae'),
        probes=('obj-linear@vit', 'obj-knn@vit'))
    bench.run()
    assert 'probe/vit/random/seed0/objects' in tools.calls
    tools.calls.clear()
    configs = []
    monkeypatch.setattr(
        tools, 'call', lambda b, step, cmd:
        (configs.append(str(cmd[2])), _FakeTools.call(tools, b, step, cmd)))
    settings = [s for s in LEVER_SETTINGS if s[1] == 'ViT input']
    out = run_levers(bench, settings)
    assert tools.calls == [
        f'levers/vit/vit-input/scene--roialign-on-the-token-grid/{m}/seed{s}'
        for m in ('random', 'mae') for s in (0, 1)
    ]
    assert set(configs) == {OBJECT_PROBE_CONFIGS['vit']}
    row = next(r for r in out['rows'] if r['probe'] == 'obj-linear@vit')
    assert row['baseline'] == 'mae' and row['gain']['gain'] == pytest.approx(row['mae']['mean'] -
                                                                             row['random']['mean'])
    assert '| ViT input | object crops (benchmark) | obj-linear@vit | 20.0 ± 0.0 | MAE ' in \
        '\n'.join(levers_section(out))


def test_pretraining_lever(tmp_path, monkeypatch):
    """A pretraining lever trains its variant once (cached) and reports the loss terms of the
    variant next to the benchmark's own run."""
    from mmvisrep.toy_benchmark.levers import run_levers
    from mmvisrep.toy_benchmark.write import levers_section
    tools = _FakeTools()
    bench = _fake_bench(tmp_path, tools, monkeypatch)
    bench.run()
    tools.calls.clear()
    lever = ('BYOL at half the lr', 'byol', ['optim_wrapper.optimizer.lr=0.5'])
    out = run_levers(bench, settings=(), pretrain_levers=(lever, ))
    assert tools.calls == ['levers/pretrain/byol-at-half-the-lr/seed0']
    row = out['pretraining'][0]
    # the fake run logs loss 1/i at iterations 10, 20, 30: all within the first 50 iterations
    assert row['variant']['loss'] == pytest.approx(((0.1 + 0.05 + 1 / 30) / 3, 1 / 30))
    assert row['benchmark'] == row['variant']  # the fake tools log the same curve
    text = '\n'.join(levers_section(out))
    assert '**BYOL at half the lr** (`byol`, seed 0' in text and '| loss |' in text
    tools.calls.clear()
    run_levers(bench, settings=(), pretrain_levers=(lever, ))
    assert tools.calls == []
    # a call without the pretraining levers keeps their measured rows
    kept = run_levers(bench, settings=())['pretraining']
    assert kept == json.loads(json.dumps(out['pretraining']))


def test_schedule_lever_repretrains_the_baseline_for_every_seed(tmp_path, monkeypatch):
    """A schedule lever pretrains the stock baseline with its options for each seed (cached),
    probes it as the benchmark does, reuses random init's own probe, and is kept by later calls
    that do not run it."""
    from mmvisrep.toy_benchmark.levers import SCHEDULE_LEVERS, run_levers
    from mmvisrep.toy_benchmark.write import levers_section
    tools = _FakeTools()
    trained = []
    monkeypatch.setattr(
        tools,
        'train',
        lambda b, step, config, work, seed, options=():
        (trained.append((step, seed, list(options))),
         _FakeTools.train(tools, b, step, config, work, seed, options))[1])
    bench = _fake_bench(tmp_path, tools, monkeypatch)
    bench.run()
    tools.calls.clear()
    trained.clear()
    epochs = SCHEDULE_LEVERS[:2]
    out = run_levers(bench, settings=(), schedule_levers=epochs)
    half = 'levers/resnet/schedule/pretraining-epochs/4--half-the-iterations/byol'
    assert tools.calls == [
        f'{half}/seed0/pretrain', f'{half}/seed0', f'{half}/seed1/pretrain', f'{half}/seed1'
    ]
    assert [t[:2] for t in trained] == [(f'{half}/seed0/pretrain', 0),
                                        (f'{half}/seed1/pretrain', 1)]
    assert trained[0][2] == SCHEDULE_LEVERS[0][3] and 'train_cfg.max_epochs=4' in trained[0][2]
    assert '--cfg-options' not in tools.commands[f'{half}/seed0']  # the benchmark's probe
    rows = [r for r in out['rows'] if r['probe'] == 'obj-linear@resnet']
    assert [r['setting'] for r in rows] == ['4 (half the iterations)', '8 (benchmark)']
    assert all(r['kind'] == 'schedule' for r in rows)
    assert rows[0]['random'] == rows[1]['random'] == dict(seeds=[20.0, 20.0], mean=20.0, std=0.0)
    assert rows[0]['byol']['seeds'] != rows[1]['byol']['seeds']  # a new run, a new probe
    # minutes per seed: the median of the lever's own pretraining markers, else the benchmark's
    lever_seconds = [bench.cache.get(f'{half}/seed{s}/pretrain')['seconds'] for s in (0, 1)]
    own_seconds = [bench.cache.get(f'pretrain/byol/seed{s}')['seconds'] for s in (0, 1)]
    assert rows[0]['pretrain_minutes'] == round(sum(lever_seconds) / 2 / 60, 1)
    assert rows[1]['pretrain_minutes'] == round(sum(own_seconds) / 2 / 60, 1)
    assert '| pretraining epochs | 4 (half the iterations) | obj-linear@resnet | 20.0 ± 0.0 |' \
        in '\n'.join(levers_section(out))
    tools.calls.clear()
    assert run_levers(bench, settings=()) == out and tools.calls == []


def test_width_lever_reprobes_random_init_at_the_narrower_width(tmp_path, monkeypatch):
    """A lever that narrows the backbone pretrains BYOL with its train options and probes both
    BYOL and a random backbone of the same width with its probe options."""
    from mmvisrep.toy_benchmark.levers import SCHEDULE_LEVERS, run_levers
    width = next(s for s in SCHEDULE_LEVERS if s[1] == 'backbone width' and len(s) > 4)
    tools = _FakeTools()
    bench = _fake_bench(tmp_path, tools, monkeypatch)
    bench.run()
    tools.calls.clear()
    out = run_levers(bench, settings=(), schedule_levers=(width, ))
    step = 'levers/resnet/schedule/backbone-width/16--a-quarter-of-the-conv-flops'
    assert tools.calls == [
        f'{step}/random/seed0', f'{step}/random/seed1', f'{step}/byol/seed0/pretrain',
        f'{step}/byol/seed0', f'{step}/byol/seed1/pretrain', f'{step}/byol/seed1'
    ]
    for probe in (f'{step}/random/seed0', f'{step}/byol/seed1'):
        cmd = tools.commands[probe]
        assert cmd[cmd.index('--cfg-options') + 1:] == width[4]
    assert tools.commands[f'{step}/random/seed0'][3] == 'random'
    assert tools.commands[f'{step}/byol/seed1'][3].endswith(f'{step}/byol/seed1/epoch_8.pth')
    assert 'model.backbone.base_channels=16' in width[3] and 'model.neck.in_channels=128' in \
        width[3]
    assert [r['probe'] for r in out['rows']] == ['obj-linear@resnet', 'obj-knn@resnet']


def test_config_override_is_recorded_and_guarded(tmp_path, monkeypatch):
    """``--config byol=...`` pretrains BYOL (and ORL's stage 1) with another config, records it
    in the marker and on the page, and a work dir holding the other config's run refuses it."""
    from mmvisrep.toy_benchmark.methods import METHODS, methods_for, with_configs
    from mmvisrep.toy_benchmark.runner import StepError, ToyBenchmark
    from mmvisrep.toy_benchmark.write import write_outputs
    short = str(tmp_path / 'byol_4e.py')
    base = REPO / 'configs/toy_benchmark/byol_resnet18-w32_1xb64-coslr-8e_toybench.py'
    Path(short).write_text(f"_base_ = ['{base}']\ntrain_cfg = dict(max_epochs=4)\n")
    methods = with_configs(methods_for(['byol', 'orl']), {'byol': short})
    assert [m.config for m in methods] == [short, short]  # ORL's stage 1 follows BYOL
    assert next(m for m in METHODS if m.name == 'byol').config != short
    for bad, err in ((dict(orl=short), ValueError), (dict(random=short), ValueError),
                     (dict(nope=short), ValueError), (dict(byol='missing.py'), FileNotFoundError)):
        with pytest.raises(err):
            with_configs(METHODS, bad)
    tools = _FakeTools()
    bench = _fake_bench(tmp_path, tools, monkeypatch)
    bench = ToyBenchmark(
        bench.work_dir,
        bench.data_root,
        seeds=[0],
        methods=methods_for(['random', 'byol']),
        probes=['obj-linear@resnet'],
        configs={'byol': short},
        log=lambda msg: None)
    outcome = bench.run()
    assert bench.cache.get('pretrain/byol/seed0')['config'] == short
    page = write_outputs(bench, outcome, str(tmp_path / 'docs'))
    text = (tmp_path / 'docs/toy_benchmark.md').read_text()
    assert f'- **Pretraining configs** of the runs: BYOL `{short}`.' in text and page['probes']
    default = ToyBenchmark(
        bench.work_dir,
        bench.data_root,
        seeds=[0],
        methods=methods_for(['byol']),
        probes=['obj-linear@resnet'],
        log=lambda msg: None)
    with pytest.raises(StepError, match='use another --work-dir'):
        default.run()


def test_wall_time_rows_by_hand():
    """Median per seed (robust to a run that shared the cores), the fine-tuning probe estimated
    from the backbone's other rows where a row has none, the projection and the slowest row."""
    from mmvisrep.toy_benchmark.write import wall_time_rows
    times = {
        'byol@resnet': {
            '0': dict(pretrain=800.0, objects=20.0, maskrcnn=300.0),
            '1': dict(pretrain=400.0, objects=20.0),
            '2': dict(pretrain=360.0, objects=30.0)
        },
        'soco@resnet': {
            '0': dict(pretrain=1200.0, objects=20.0, maskrcnn=340.0)
        },
        'loctex@resnet': {
            '0': dict(pretrain=500.0, objects=20.0),
            '1': dict(pretrain=460.0, objects=20.0)
        },
        'data': {
            'all': dict(pretrain=400.0)
        },
    }
    rows, total, projected, worst = wall_time_rows(times, num_seeds=3)
    assert rows['byol@resnet'] == dict(
        seeds=3, pretrain=400.0, objects=20.0, finetune=300.0, estimated=False, one_seed=720.0)
    assert rows['loctex@resnet']['pretrain'] == 480.0
    assert rows['loctex@resnet']['finetune'] == 320.0 and rows['loctex@resnet']['estimated']
    assert rows['data']['one_seed'] == 400.0
    assert total == pytest.approx(1120 + 420 + 390 + 1560 + 520 + 480 + 400)
    assert projected == pytest.approx(400 + 3 * (720 + 1560 + (480 + 20 + 320)))
    assert worst == ('soco@resnet', 1560.0)
