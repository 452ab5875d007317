"""Benchmark (a) of SoCo: our selective-search tool against the official pure-Python generator.

Both run single-threaded (timed in process CPU time) on the same images with scale 300,
sigma 0.9, min_size 100; both outputs go through the same ``ratio3size0308post`` filter.
Reported per method: images/s per core, mean boxes per image, and recall@0.5 of the (raw and
filtered) boxes against the COCO GT boxes of generated toy scenes. Optionally also the speed on
the natural photos that scikit-image ships (no GT).

The reference is the PyPI ``selectivesearch`` 0.4 package (AlpacaDB), of which SoCo's
``selective_search/selective_search.py`` is a port; SoCo changed one line (the texture
histogram range, AlpacaDB issue #30), which ``--reference-variant soco`` (default) reproduces.
Install it outside the project environment and point ``--reference-path`` at it::

    .venv/bin/python -m pip install --target /tmp/refpkgs --no-deps selectivesearch \
        scikit-image imageio tifffile lazy_loader networkx
    python tools/benchmarks/proposals_benchmark.py --reference-path /tmp/refpkgs

The official per-image step (``generate_imagenet_ss_proposals.py``) is timed as it runs: PIL
decode, ``selective_search``, pickling ``{'label', 'regions'}``; ours is ``compute_proposals``
(OpenCV decode + selective search) with each backend. Each method runs once untimed first, so
the numba JIT is not counted per image; its one-time cost per process (cold compile into an
empty cache, and loading from numba's on-disk cache) is measured in two fresh subprocesses.
For the numba backend the table also counts the images whose box list (values, order and
duplicates) is identical to the official one.
"""
import os

# One core per method: set before numpy / OpenCV start their thread pools.
for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[_var] = '1'

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os.path as osp  # noqa: E402
import pickle  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from pycocotools import mask as mask_utils  # noqa: E402

FILTER = 'ratio3size0308post'
# Our methods: (row name, make_params arguments).
METHODS = {
    'numba': ('ours (numba, official algorithm)', dict(backend='numba')),
    'numba-adjacent':
    ('ours (numba, adjacent neighbours)', dict(backend='numba', neighbours='adjacent')),
    'opencv-rgb': ('ours (OpenCV, rgb)', dict(backend='opencv', color_space='rgb')),
    'opencv-hsv': ('ours (OpenCV, hsv)', dict(backend='opencv', color_space='hsv')),
}
PHOTOS = ('astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png', 'coins.png',
          'motorcycle_left.png', 'rocket.jpg')


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--img-sizes',
        type=int,
        nargs='+',
        default=[256, 384, 480],
        help='toy-scene sides in px, one image set per size (default: %(default)s)')
    parser.add_argument(
        '--num-images', type=int, default=16, help='toy scenes per size (default: 16)')
    parser.add_argument('--seed', type=int, default=0, help='toy-scene seed (default: 0)')
    parser.add_argument(
        '--methods',
        nargs='+',
        default=list(METHODS),
        choices=list(METHODS),
        help='our methods to report (default: all; the tool uses numba)')
    parser.add_argument(
        '--no-jit-timing', action='store_true', help='skip the JIT compile/load subprocesses')
    parser.add_argument(
        '--reference-path',
        help='folder holding the selectivesearch package and scikit-image (pip --target); '
        'without it only our tool is measured')
    parser.add_argument(
        '--reference-variant',
        choices=['soco', 'alpacadb'],
        default='soco',
        help='soco: texture histograms over (0, 255) as in SoCo; alpacadb: the PyPI code as is')
    parser.add_argument('--no-photos', action='store_true', help='skip the scikit-image photos')
    parser.add_argument('--work-dir', help='where to write the toy scenes (default: a temp dir)')
    parser.add_argument('--out-json', help='also write the results as json')
    return parser.parse_args(argv)


def machine_info() -> dict:
    """CPU model, core count and library versions."""
    model = 'unknown'
    if osp.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    return dict(
        cpu=model,
        nproc=os.cpu_count(),
        python=platform.python_version(),
        numpy=np.__version__,
        opencv=cv2.__version__)


def load_reference(path: str, variant: str):
    """Import the reference generator from ``path`` (appended, so our numpy stays first)."""
    if not osp.isdir(path):
        raise SystemExit(f'--reference-path {path} is not a directory')
    sys.path.append(path)
    warnings.filterwarnings('ignore')
    import skimage
    from selectivesearch import selectivesearch as ref
    if variant == 'soco':

        def texture_hist(pixels):
            """SoCo's fix: 10 bins per channel over (0, 255) instead of (0, 1)."""
            hists = [np.histogram(pixels[:, c], 10, (0.0, 255.0))[0] for c in range(3)]
            return np.concatenate(hists) / len(pixels)

        ref._calc_texture_hist = texture_hist
    return ref, skimage.__version__, osp.join(osp.dirname(skimage.__file__), 'data')


def run_reference(ref, path: str):
    """The official per-image step: PIL decode, selective search, pickle label map + regions."""
    from PIL import Image
    img = np.array(Image.open(path).convert('RGB'))
    img_lbl, regions = ref.selective_search(img, scale=300, sigma=0.9, min_size=100)[:2]
    pickle.dump(dict(label=img_lbl[:, :, 3], regions=regions), io.BytesIO())
    boxes = np.array([r['rect'] for r in regions], dtype=np.int64).reshape(-1, 4)
    return (img.shape[1], img.shape[0]), boxes


def run_ours(path: str, params: dict):
    """Our per-image step (the tool's worker function)."""
    from mmvisrep.proposals.runner import compute_proposals
    size, boxes = compute_proposals(path, params)
    return tuple(size), np.asarray(boxes, dtype=np.int64).reshape(-1, 4)


def jit_seconds() -> dict:
    """One-time numba cost per process: cold compile into an empty cache, then a cached load."""
    code = ('import time; t = time.perf_counter(); '
            'from mmvisrep.proposals.selective_search import warmup_numba; '
            'print(warmup_numba())')
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for name in ('compile', 'cached_load'):
            res = subprocess.run([sys.executable, '-c', code],
                                 env=env,
                                 capture_output=True,
                                 text=True,
                                 check=True)
            out[name] = float(res.stdout.strip().splitlines()[-1])
    return out


def recall(gt_by_image, boxes_by_image, thr=0.5) -> float:
    """Fraction of GT boxes whose best IoU with the image's proposals is >= ``thr``."""
    hit = total = 0
    for key, gt in gt_by_image.items():
        total += len(gt)
        boxes = boxes_by_image.get(key)
        if not len(gt) or boxes is None or not len(boxes):
            continue
        iou = mask_utils.iou(
            np.asarray(gt, dtype=np.float64), boxes.astype(np.float64), [0] * len(boxes))
        hit += int((np.asarray(iou).max(axis=1) >= thr).sum())
    return hit / max(total, 1)


def measure(fn, paths):
    """Run ``fn`` on every path after one untimed warm-up; (CPU seconds per image, outputs).

    CPU time of this single-threaded process is the cost per core, and unlike wall time it does
    not grow when other processes share the machine.
    """
    fn(paths[0])
    outputs, seconds = {}, 0.0
    for path in paths:
        tic = time.process_time()
        outputs[path] = fn(path)
        seconds += time.process_time() - tic
    return seconds / len(paths), outputs


def summarise(name, sec, outputs, keys, gt, reference=None):
    """One table row: speed, boxes, recall of raw and filtered boxes; with ``reference`` (the
    official outputs) also the number of images whose box lists are identical."""
    from mmvisrep.proposals import filter_boxes
    raw = {keys[p]: b for p, (_, b) in outputs.items()}
    flt = {keys[p]: filter_boxes(b, size, FILTER)[0] for p, (size, b) in outputs.items()}
    row = dict(
        method=name,
        sec_per_img=sec,
        img_per_s_per_core=1.0 / sec,
        raw_boxes=float(np.mean([len(b) for b in raw.values()])),
        filtered_boxes=float(np.mean([len(b) for b in flt.values()])))
    if reference is not None:
        row['identical'] = sum(
            np.array_equal(outputs[p][1], reference[p][1]) for p in outputs if p in reference)
    if gt is not None:
        row.update(recall_raw=recall(gt, raw), recall_filtered=recall(gt, flt))
    return row


def toy_set(root: str, size: int, num: int, seed: int):
    """Generate toy scenes; (paths, key per path, GT xywh boxes per key)."""
    from mmvisrep.datasets.toy_scenes import generate_toy_scenes
    out = generate_toy_scenes(osp.join(root, f'toy{size}'), num, 1, img_size=size, seed=seed)
    coco = json.load(open(osp.join(out, 'annotations', 'instances_train2017.json')))
    gt = {im['id']: [] for im in coco['images']}
    for ann in coco['annotations']:
        if not ann.get('iscrowd', 0):
            gt[ann['image_id']].append(ann['bbox'])
    paths = [osp.join(out, 'train2017', im['file_name']) for im in coco['images']]
    keys = {p: im['id'] for p, im in zip(paths, coco['images'])}
    return paths, keys, gt


def print_table(title, rows, with_recall):
    """Markdown table of ``rows``; speed-up relative to the reference row when there is one."""
    ref = next((r for r in rows if r['method'].startswith('official')), None)
    head = ('| method | img/s per core | CPU s/img | speed-up | boxes/img raw '
            '| boxes/img filtered |')
    line = '|---|---|---|---|---|---|'
    if with_recall:
        head += ' recall@0.5 raw | recall@0.5 filtered |'
        line += '---|---|'
    head += ' identical to official |'
    line += '---|'
    print(f'\n{title}\n\n{head}\n{line}')
    for r in rows:
        speed = f'{ref["sec_per_img"] / r["sec_per_img"]:.1f}x' if ref else '-'
        text = (f'| {r["method"]} | {r["img_per_s_per_core"]:.2f} | {r["sec_per_img"]:.4f} | '
                f'{speed} | {r["raw_boxes"]:.0f} | {r["filtered_boxes"]:.1f} |')
        if with_recall:
            text += f' {r["recall_raw"]:.3f} | {r["recall_filtered"]:.3f} |'
        text += f' {r["identical"]}/{r["images"]} |' if 'identical' in r else ' - |'
        print(text)


def run_set(title, paths, keys, gt, ref, methods):
    """Rows of one image set: the official generator (if available), then our methods."""
    from mmvisrep.proposals.runner import make_params
    rows, reference = [], None
    if ref is not None:
        sec, reference = measure(lambda p: run_reference(ref, p), paths)
        rows.append(summarise('official (pure Python, skimage)', sec, reference, keys, gt))
    for method in methods:
        name, kwargs = METHODS[method]
        params = make_params(**kwargs)
        sec, out = measure(lambda p, params=params: run_ours(p, params), paths)
        rows.append(
            summarise(name, sec, out, keys, gt, reference if method.startswith('numba') else None))
    for row in rows:
        row['images'] = len(paths)
    print_table(title, rows, gt is not None)
    return dict(name=title, rows=rows)


def main(argv=None):
    args = parse_args(argv)
    cv2.setNumThreads(1)
    info = machine_info()
    ref = photo_dir = None
    if args.reference_path:
        ref, info['scikit_image'], photo_dir = load_reference(args.reference_path,
                                                              args.reference_variant)
    import numba
    info['numba'] = numba.__version__
    print(f'Machine: {info}')
    results = dict(machine=info, filter=FILTER, reference_variant=args.reference_variant, sets=[])
    if not args.no_jit_timing and any(m.startswith('numba') for m in args.methods):
        results['numba_jit_seconds'] = jit_seconds()
        print(f'numba one-time cost per process: {results["numba_jit_seconds"]}')
    work = args.work_dir or tempfile.mkdtemp(prefix='proposals_benchmark_')
    for size in args.img_sizes:
        paths, keys, gt = toy_set(work, size, args.num_images, args.seed)
        title = f'Toy scenes {size}x{size}, {len(paths)} images, {sum(map(len, gt.values()))} GT'
        results['sets'].append(run_set(title, paths, keys, gt, ref, args.methods))
    if ref is not None and not args.no_photos:
        paths = [osp.join(photo_dir, n) for n in PHOTOS if osp.exists(osp.join(photo_dir, n))]
        keys = {p: osp.basename(p) for p in paths}
        title = f'scikit-image photos ({", ".join(keys.values())}), no GT'
        results['sets'].append(run_set(title, paths, keys, None, ref, args.methods))
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(results, f, indent=1)
        print(f'\nWrote {args.out_json}')


if __name__ == '__main__':
    main()
