"""Benchmark the LocTex data side: trace-map rendering, the full pipeline, the LN index.

1. Rendering: utterance maps per second on one core (``RenderTraceMaps`` on the toy-scene
   narratives after a random crop/flip of their points), at 224 px / 7x7 (paper) and
   96 px / 3x3 (toy).
2. Pipeline: samples per second of the full toy pipeline (``toy_scenes_loctex.py``: load, crop,
   flip, colour jitter, render, tokenise, pack) in one process, with a per-transform split.
3. Index: a JSONL file of ``--index-records`` narratives (the toy records repeated with new
   image ids) is written to ``--index-file`` and indexed in a fresh subprocess, reporting the
   build time, peak RSS above the post-import baseline, the cache load time and random-access
   latency; plus the memory of a naive list of parsed records for comparison.

Run with one thread, e.g. ``OMP_NUM_THREADS=1 python tools/benchmarks/loctex_data_benchmark.py``.
Toy scenes are generated into a temporary folder when ``--data-root`` does not exist.
"""
import os

for _var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMBA_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
    os.environ.setdefault(_var, '1')

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _status_mib(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MiB; ru_maxrss elsewhere."""
    with contextlib.suppress(OSError):  # no /proc (not Linux): fall back to getrusage
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) of this process (Linux >= 4.0); False if not possible."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _toy_root(root: str, tmp: str) -> Path:
    path = Path(root)
    if (path / 'annotations' / 'coco_train_localized_narratives.jsonl').is_file():
        return path
    from mmvisrep.datasets.toy_scenes import generate_toy_scenes
    print(f'{root} not found: generating 200 toy scenes into {tmp}', flush=True)
    return Path(
        generate_toy_scenes(Path(tmp) / 'toy', num_train=200, num_val=20, img_size=128, seed=0))


def bench_render(toy: Path, seconds: float, seed: int = 0) -> dict:
    """Maps per second of RenderTraceMaps on toy narratives after random crop/flip."""
    from mmvisrep.datasets.localized_narratives import parse_line
    from mmvisrep.datasets.transforms.traces import RenderTraceMaps, crop_points, flip_points
    lines = (toy / 'annotations' / 'coco_train_localized_narratives.jsonl').read_bytes()
    records = [parse_line(line) for line in lines.splitlines() if line.strip()]
    rng = np.random.default_rng(seed)
    prepared = []
    for rec in records:
        xy = rec['trace_xy']
        side = rng.uniform(0.45, 1.0)  # crop (0.2, 1) of the area, square
        x0, y0 = rng.uniform(0, 1 - side, 2)
        xy = crop_points(xy, (x0, y0, side, side), (1, 1))
        if rng.random() < 0.5:
            xy = flip_points(xy)
        prepared.append(dict(rec, trace_xy=xy))
    out = {}
    for name, size, grid in (('paper_224px_7x7', 224, 7), ('toy_96px_3x3', 96, 3)):
        tr = RenderTraceMaps(grid=grid, render_size=size, max_utterances=32)
        for res in prepared[:20]:  # warm-up (operator cache, scratch buffer)
            tr.transform(dict(res))
        maps = valid = calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            res = prepared[calls % len(prepared)]
            r = tr.transform(dict(res))
            maps += min(len(res['utterances']), 32)
            valid += int(r['trace_valid'].sum())
            calls += 1
        elapsed = time.perf_counter() - start
        pts = np.mean([len(r['trace_t']) for r in prepared])
        utt = np.mean([len(r['utterances']) for r in prepared])
        out[name] = dict(
            maps_per_s=round(maps / elapsed),
            valid_maps_per_s=round(valid / elapsed),
            narratives_per_s=round(calls / elapsed, 1),
            us_per_map=round(1e6 * elapsed / maps, 1),
            mean_points=round(float(pts), 1),
            mean_utterances=round(float(utt), 1))
        print(f'render {name}: {out[name]}', flush=True)
    return out


def bench_pipeline(toy: Path, samples: int, tmp: str) -> dict:
    """Samples per second of the full toy pipeline in this process, per-transform split."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(REPO / 'configs/_base_/datasets/toy_scenes_loctex.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = str(toy)
    ds_cfg.index_cache = str(Path(tmp) / 'index_cache')
    for t in ds_cfg.pipeline:
        if t['type'] == 'TokenizeUtterances':
            t['tokenizer'] = dict(
                type='AutoTokenizer', name_or_path=str(REPO / 'tests/data/bert_vocab'))
    ds = DATASETS.build(ds_cfg)
    spent = {}

    class Timed:
        """A transform that adds its run time to ``spent``."""

        def __init__(self, transform):
            self.transform, self.name = transform, type(transform).__name__

        def __call__(self, results):
            s = time.perf_counter()
            out = self.transform(results)
            spent[self.name] = spent.get(self.name, 0.0) + time.perf_counter() - s
            return out

    ds.pipeline.transforms = [Timed(t) for t in ds.pipeline.transforms]
    for i in range(10):
        ds[i % len(ds)]
    spent.clear()
    start = time.perf_counter()
    info_time = 0.0
    for i in range(samples):
        s = time.perf_counter()
        info = ds.get_data_info(i % len(ds))
        info_time += time.perf_counter() - s
        ds.pipeline(info)
    elapsed = time.perf_counter() - start
    out = dict(
        samples_per_s=round(samples / elapsed, 1),
        ms_per_sample=round(1e3 * elapsed / samples, 3),
        split_ms={'get_data_info (pread + parse)': round(1e3 * info_time / samples, 3)})
    out['split_ms'].update({k: round(1e3 * v / samples, 3) for k, v in spent.items()})
    print(f'pipeline (toy, 96 px, 1 process): {out}', flush=True)
    return out


def write_index_file(toy: Path, path: str, records: int) -> dict:
    """The toy narratives repeated with new image ids, ``records`` lines."""
    ann = toy / 'annotations'
    templates = []
    for name in ('coco_train_localized_narratives.jsonl', 'coco_val_localized_narratives.jsonl'):
        for line in (ann / name).read_text().splitlines():
            rec = json.loads(line)
            head, tail = line.split(f'"image_id": "{rec["image_id"]}"', 1)
            templates.append((head.replace('mscoco_val2017', 'mscoco_train2017'), tail))
    start = time.perf_counter()
    size = 0
    with open(path, 'w') as f:
        for i in range(records):
            head, tail = templates[i % len(templates)]
            line = f'{head}"image_id": "{i + 1}"{tail}\n'
            size += len(line)
            f.write(line)
    return dict(
        records=records,
        bytes=size,
        mean_record_bytes=round(size / records),
        write_s=round(time.perf_counter() - start, 1))


def index_child(path: str, cache_dir: str, naive_records: int) -> dict:
    """Runs in a fresh process: build time and peak RSS, cache load, random access."""
    import mmvisrep  # noqa: F401
    from mmvisrep.datasets.line_index import save_npz_atomic
    from mmvisrep.datasets.localized_narratives import (LocalizedNarrativesDataset, build_ln_index,
                                                        index_cache_path, parse_line)
    base = _status_mib('VmRSS')
    reset = _reset_peak()
    start = time.perf_counter()
    index = build_ln_index(path, progress=False)
    build_s = time.perf_counter() - start
    peak_build = _status_mib('VmHWM') - base
    nbytes = sum(v.nbytes for v in index.values())
    n = len(index['offset'])
    save_npz_atomic(index, index_cache_path(path, cache_dir))
    del index
    start = time.perf_counter()
    ds = LocalizedNarrativesDataset(ann_file=path, index_cache=cache_dir)  # from cache
    load_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(ds), 2000)
    start = time.perf_counter()
    for i in picks:
        ds.get_data_info(int(i))
    access_ms = 1e3 * (time.perf_counter() - start) / len(picks)
    peak_all = _status_mib('VmHWM') - base
    # Naive comparison: parsed records of the first `naive_records` lines held in a list.
    import tracemalloc
    tracemalloc.start()
    held = []
    with open(path, 'rb') as f:
        for _, line in zip(range(naive_records), f):
            held.append(json.loads(line))
    naive_mib = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    held_arrays = []
    tracemalloc.start()
    with open(path, 'rb') as f:
        for _, line in zip(range(naive_records), f):
            held_arrays.append(parse_line(line))
    arrays_mib = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    return dict(
        records_indexed=n,
        build_s=round(build_s, 1),
        build_mb_per_s=round(os.path.getsize(path) / 2**20 / build_s, 1),
        build_records_per_s=round(n / build_s),
        peak_rss_above_baseline_mib_build=round(peak_build, 1),
        peak_rss_above_baseline_mib_total=round(peak_all, 1),
        baseline_rss_mib=round(base, 1),
        peak_reset_ok=reset,
        index_nbytes_mib=round(nbytes / 2**20, 2),
        cache_load_s=round(load_s, 3),
        random_get_data_info_ms=round(access_ms, 3),
        naive_json_list_mib_per_500k=round(naive_mib * 500000 / naive_records),
        naive_parsed_arrays_mib_per_500k=round(arrays_mib * 500000 / naive_records),
        naive_sample_records=naive_records)


def bench_index(toy: Path, records: int, path: str, keep: bool, naive_records: int) -> dict:
    print(f'writing {records} records to {path} ...', flush=True)
    info = write_index_file(toy, path, records)
    print(f'  {info}', flush=True)
    cache_dir = tempfile.mkdtemp(prefix='ln_index_bench_')
    try:
        cmd = [
            sys.executable, __file__, '--index-child', path, '--cache-dir', cache_dir,
            '--naive-records',
            str(naive_records)
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            raise RuntimeError(f'index child failed:\n{proc.stderr[-3000:]}')
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        for name in os.listdir(cache_dir):
            os.unlink(os.path.join(cache_dir, name))
        os.rmdir(cache_dir)
        if not keep and os.path.exists(path):
            os.unlink(path)
    result.update(file=info)
    print(f'index: {result}', flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default=str(REPO / 'data/toy_scenes'))
    parser.add_argument('--seconds', type=float, default=5.0, help='per render setting')
    parser.add_argument('--samples', type=int, default=400, help='pipeline samples')
    parser.add_argument('--index-records', type=int, default=500000)
    parser.add_argument('--index-file', default='/tmp/loctex_bench_ln.jsonl')
    parser.add_argument('--keep-index-file', action='store_true')
    parser.add_argument('--naive-records', type=int, default=5000)
    parser.add_argument('--skip', nargs='*', default=[], choices=['render', 'pipeline', 'index'])
    parser.add_argument('--json-out', default='')
    parser.add_argument('--index-child', default='', help=argparse.SUPPRESS)
    parser.add_argument('--cache-dir', default='', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.index_child:
        print(json.dumps(index_child(args.index_child, args.cache_dir, args.naive_records)))
        return
    import mmvisrep  # noqa: F401
    report = dict(
        date=time.strftime('%Y-%m-%d %H:%M'),
        machine=f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
        f'{platform.platform()}',
        python=platform.python_version(),
        numpy=np.__version__,
        threads=os.environ['OMP_NUM_THREADS'])
    with tempfile.TemporaryDirectory() as tmp:
        toy = _toy_root(args.data_root, tmp)
        if 'render' not in args.skip:
            report['render'] = bench_render(toy, args.seconds)
        if 'pipeline' not in args.skip:
            report['pipeline'] = bench_pipeline(toy, args.samples, tmp)
        if 'index' not in args.skip:
            report['index'] = bench_index(toy, args.index_records, args.index_file,
                                          args.keep_index_file, args.naive_records)
    print(json.dumps(report, indent=1))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1) + '\n')


if __name__ == '__main__':
    main()
