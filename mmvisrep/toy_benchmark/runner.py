"""The toy benchmark driver: data, pretraining of every method per seed, every probe, the report.

Each unit of work is a step with a marker (:class:`StepCache`): a rerun skips what finished and
resumes what was interrupted. Every tool runs as a subprocess of this interpreter with the
benchmark's data root in ``TOYBENCH_DATA_ROOT`` (the benchmark configs read it), its output
teed into ``WORK_DIR/logs/<step>.log``.
"""
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from .cache import StepCache
from .methods import METHODS, Method, with_configs

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROBE_CONFIG = 'configs/toy_benchmark/benchmarks/probes/object-probe_resnet18-w32_toybench.py'
#: the object probe of each backbone family (the ViT sees each object as its own crop)
OBJECT_PROBE_CONFIGS = {
    'resnet': PROBE_CONFIG,
    'vit': 'configs/toy_benchmark/benchmarks/probes/object-crop-probe_vit-tiny-p16_toybench.py',
}
SEG_CONFIG = 'configs/toy_benchmark/benchmarks/segmentation/' \
    'upernet_vit-tiny-p16_1xb8-600i_toybench-labelled200.py'
DET_CONFIG = 'configs/toy_benchmark/benchmarks/detection/' \
    'mask-rcnn_resnet18-w32_fpn_1xb8-12e_toybench-labelled200.py'
DETECTOR_CONFIG = 'configs/toy_benchmark/benchmarks/detection/' \
    'faster-rcnn_resnet18-w32_fpn_1xb8-12e_toybench-labelled200.py'
#: probe ids -> (backbone family, what is measured)
PROBES = {
    'obj-linear@resnet': ('resnet', 'linear'),
    'obj-knn@resnet': ('resnet', 'knn'),
    'maskrcnn-bbox-ap@resnet': ('resnet', 'det'),
    'obj-linear@vit': ('vit', 'linear'),
    'obj-knn@vit': ('vit', 'knn'),
    'upernet-miou@vit': ('vit', 'seg'),
    # the same UperNet runs, mean IoU over the 8 thing shapes only (GroupedIoUMetric)
    'upernet-things-miou@vit': ('vit', 'seg-things'),
}
#: the data set every benchmark config reads (scene style of docs/toy_benchmark.md)
DATA_SPEC = dict(
    num_train=6000,
    num_val=500,
    img_size=128,
    textures='random',
    max_objects=3,
    radius_range=(0.12, 0.25),
    seed=0)
NUM_LABELLED = 200
#: ORL stage 2 at the benchmark's scale: embeddings of 64 px centre crops (the 224/256 ratio of
#: the official knn step), RoI pairs between crops of 64 px whose proposals are >= 20 px
ORL_KNN_ARGS = '--resize 73 --crop-size 64 --no-progress'
ORL_CORR_ARGS = '--crop-size 64 --min-size 20 --topn 32 --no-progress'
LABELLED_ANN = 'annotations/instances_train2017_labelled200.json'
LABELLED_SEG_LIST = 'meta/seg_train_labelled200.txt'


class StepError(RuntimeError):
    """A tool of the benchmark failed; the message names its log."""


class ToyBenchmark:
    """Runs the benchmark under ``work_dir`` with data in ``data_root``."""

    def __init__(self,
                 work_dir: str,
                 data_root: str,
                 seeds: Sequence[int] = (0, 1, 2),
                 methods: Optional[Sequence[Method]] = None,
                 probes: Optional[Sequence[str]] = None,
                 python: str = sys.executable,
                 data_spec: Optional[Dict] = None,
                 configs: Optional[Dict[str, str]] = None,
                 log=print):
        self.work_dir = osp.abspath(work_dir)
        self.data_root = osp.abspath(data_root).rstrip('/') + '/'
        self.seeds = list(seeds)
        self.configs = dict(configs or {})
        self.methods = with_configs(methods or METHODS, self.configs)
        self.probes = list(probes or PROBES)
        unknown = sorted(set(self.probes) - set(PROBES))
        if unknown:
            raise ValueError(f'unknown probes {unknown}; choose from {", ".join(PROBES)}')
        self.python = python
        self.data_spec = dict(DATA_SPEC, **(data_spec or {}))
        self.log = log
        self.cache = StepCache(self.work_dir, log)
        self.env = dict(os.environ, TOYBENCH_DATA_ROOT=self.data_root, PYTHONUNBUFFERED='1')
        self.env['PYTHONPATH'] = os.pathsep.join(
            p for p in (REPO, os.environ.get('PYTHONPATH')) if p)

    # ------------------------------------------------------------------ helpers
    def call(self, step: str, cmd: List[str]) -> None:
        """Run ``cmd`` (cwd = repo root), its output appended to ``logs/<step>.log``."""
        log_path = osp.join(self.work_dir, 'logs', step + '.log')
        os.makedirs(osp.dirname(log_path), exist_ok=True)
        cmd = [str(c) for c in cmd]
        with open(log_path, 'a') as log:
            log.write(f'\n$ {" ".join(shlex.quote(c) for c in cmd)}\n')
            log.flush()
            result = subprocess.run(
                cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        if result.returncode:
            raise StepError(f'{step}: {cmd[1] if len(cmd) > 1 else cmd[0]} failed with exit '
                            f'code {result.returncode}; see {log_path}')

    def run_dir(self, kind: str, method: str, seed: int) -> str:
        return osp.join(self.work_dir, kind, method, f'seed{seed}')

    def train(self, step: str, config: str, work_dir: str, seed: int,
              options: Sequence[str] = ()) -> Dict:
        """``tools/train.py CONFIG --resume`` with the seed; returns the final checkpoint."""
        cmd = [
            self.python, 'tools/train.py', config, '--work-dir', work_dir, '--resume',
            '--cfg-options', f'randomness.seed={seed}', *options
        ]
        self.call(step, cmd)
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            return dict(checkpoint=f.read().strip(), work_dir=work_dir)

    # ------------------------------------------------------------------ data
    def prepare_data(self) -> None:
        """Scenes, the labelled subset, and what the selected methods need."""
        from mmvisrep.datasets.toy_scenes import generate_toy_scenes
        from .data import write_coco_subset

        spec = self.data_spec

        def scenes():
            if osp.isdir(self.data_root) and os.listdir(self.data_root):
                generate_toy_scenes(self.data_root, overwrite=True, progress=True, **spec)
            else:
                generate_toy_scenes(self.data_root, progress=True, **spec)
            return dict(spec, data_root=self.data_root)

        self.cache.run('data/scenes', scenes)
        self.cache.run(
            'data/labelled', lambda: write_coco_subset(
                osp.join(self.data_root, 'annotations/instances_train2017.json'),
                osp.join(self.data_root, LABELLED_ANN),
                NUM_LABELLED,
                seg_list=osp.join(self.data_root, LABELLED_SEG_LIST)))
        needs = {n for m in self.methods for n in m.needs}
        if 'proposals' in needs:
            self.cache.run('data/proposals', self._proposals)
        if 'captions' in needs:
            self.cache.run('data/captions', self._caption_list)
        if 'pseudo_labels' in needs:
            self.cache.run('data/pseudo_labels', self._pseudo_labels)

    def _proposals(self):
        self.call('data/proposals', [
            self.python, 'tools/data/selective_search.py', 'generate', '--img-dir',
            self.data_root + 'train2017', '--out-dir', self.data_root + 'proposals', '--prefix',
            'train2017', '--workers', '2', '--no-progress'
        ])
        return dict(file=self.data_root + 'proposals/train2017_ratio3size0308post.json')

    def _caption_list(self):
        out = self.data_root + 'meta/svl_captions_train2017.jsonl'
        self.call('data/captions', [
            self.python, 'tools/data/svl_caption_lists.py', 'coco-captions',
            self.data_root + 'annotations/captions_train2017.json', '--out', out
        ])
        return dict(file=out)

    def _pseudo_labels(self):
        det = self.train('data/pseudo_label_detector', DETECTOR_CONFIG,
                         osp.join(self.work_dir, 'data', 'pseudo_label_detector'), 0)
        out = self.data_root + 'pseudo_labels/train2017.json'
        self.call('data/pseudo_labels', [
            self.python, 'tools/data/extract_pseudo_labels.py', 'extract', DETECTOR_CONFIG,
            det['checkpoint'], '--img-dir', self.data_root + 'train2017', '--ann-file',
            self.data_root + 'annotations/instances_train2017.json', '--out', out
        ])
        return dict(file=out, detector=det['checkpoint'])

    # ------------------------------------------------------------------ pretraining
    def pretrain(self, method: Method, seed: int) -> Optional[Dict]:
        """The method's final checkpoint for ``seed`` (None for random init). A run cached
        under this work dir with another config is refused: its step name would hide it."""
        if method.is_random:
            return None
        step = f'pretrain/{method.name}/seed{seed}'
        if method.stage3_config:
            run = lambda: self._orl(method, seed)  # noqa: E731
        else:
            run = lambda: self.train(  # noqa: E731
                step, method.config, self.run_dir('pretrain', method.name, seed), seed)
        done = self.cache.run(step, lambda: dict(run(), config=method.config))
        if done.get('config', method.config) != method.config:
            raise StepError(f'{step}: {self.work_dir} holds this run with the config '
                            f'{done["config"]}, not {method.config}; use another --work-dir')
        return done

    def _orl(self, method: Method, seed: int) -> Dict:
        """ORL stages 1-3 through tools/orl_pipeline.py, stage 1 = this seed's BYOL run; the
        selective-search proposals do not depend on the seed and are computed once for all."""
        byol = next(m for m in METHODS if m.name == 'byol')
        stage1 = self.pretrain(with_configs([byol], self.configs)[0], seed)
        work = self.run_dir('pretrain', method.name, seed)
        os.makedirs(osp.join(work, 'stage1'), exist_ok=True)
        with open(osp.join(work, 'stage1', 'DONE'), 'w') as f:
            f.write(stage1['checkpoint'] + '\n')
        meta = osp.join(work, 'meta')
        corr = osp.join(meta, 'train2017_10nn_instance_correspondence.json')
        self.call(f'pretrain/{method.name}/seed{seed}', [
            self.python, 'tools/orl_pipeline.py', method.config, method.stage3_config,
            '--work-dir', work, '--meta-dir', meta, '--ss-workers', '2', '--ss-dir',
            osp.join(self.work_dir, 'data', 'orl_selective_search'), '--stage3-options',
            f'randomness.seed={seed}', f'train_dataloader.dataset.ann_file={corr}', '--knn-args',
            ORL_KNN_ARGS, '--corr-args', ORL_CORR_ARGS
        ])
        with open(osp.join(work, 'stage3', 'last_checkpoint')) as f:
            return dict(
                checkpoint=f.read().strip(),
                work_dir=osp.join(work, 'stage3'),
                stage1=stage1['checkpoint'])

    # ------------------------------------------------------------------ probes
    def object_probe(self, method: Method, seed: int, ckpt: Optional[str]) -> Dict:
        step = f'probe/{method.backbone}/{method.name}/seed{seed}/objects'

        def run():
            out = osp.join(
                self.run_dir('probes', f'{method.backbone}-{method.name}', seed),
                'object_probe.json')
            self.call(step, [
                self.python, 'tools/benchmarks/object_probe.py',
                OBJECT_PROBE_CONFIGS[method.backbone], ckpt or 'random', '--seed', seed, '--out',
                out, '--no-progress'
            ])
            with open(out) as f:
                res = json.load(f)
            return dict(linear=res['linear']['accuracy'], knn=res['knn']['accuracy'], file=out)

        return self.cache.run(step, run)

    def _finetune(self, step: str, config: str, work: str, seed: int, ckpt: Optional[str],
                  export: Sequence[str], random_option: str, load_option: str) -> Dict:
        """Train a fine-tuning probe ``config`` from random init (``random_option``) or from
        ``ckpt`` exported by ``extract_weights.py ... <export>`` (``load_option`` + file);
        returns the last validation metrics."""
        options = [random_option]
        if ckpt:
            exported = osp.join(work, 'backbone_export.pth')
            if not osp.isfile(exported):
                self.call(step, [
                    self.python, 'tools/model_converters/extract_weights.py', ckpt, exported,
                    *export
                ])
            options = [load_option + exported]
        self.train(step, config, work, seed, options)
        return _last_metrics(work)

    def detection_probe(self, method: Method, seed: int, ckpt: Optional[str]) -> Dict:
        """The low-label toy Mask R-CNN from the method's backbone (box and mask AP, %)."""
        step = f'probe/resnet/{method.name}/seed{seed}/maskrcnn'

        def run():
            work = self.run_dir('probes', f'maskrcnn-{method.name}', seed)
            metrics = self._finetune(step, DET_CONFIG, work, seed, ckpt,
                                     ['--target', 'mmdet', '--no-auto'], 'load_from=None',
                                     'load_from=')
            return dict(
                bbox_ap=100.0 * metrics['coco/bbox_mAP'],
                segm_ap=100.0 * metrics['coco/segm_mAP'],
                work_dir=work)

        return self.cache.run(step, run)

    def segmentation_probe(self, method: Method, seed: int, ckpt: Optional[str]) -> Dict:
        """The low-label UperNet from the method's ViT (mIoU and pixel accuracy, %)."""
        step = f'probe/vit/{method.name}/seed{seed}/upernet'

        def run():
            work = self.run_dir('probes', f'upernet-{method.name}', seed)
            metrics = self._finetune(step, SEG_CONFIG, work, seed, ckpt,
                                     ['--target', 'mmseg-mae', '--seg-config', SEG_CONFIG],
                                     'model.backbone.init_cfg=None',
                                     'model.backbone.init_cfg.checkpoint=')
            return dict(
                miou=metrics['mIoU'],
                miou_things=metrics['mIoU_things'],
                miou_stuff=metrics['mIoU_stuff'],
                aacc=metrics['aAcc'],
                work_dir=work)

        return self.cache.run(step, run)

    def probe_values(self, method: Method, seed: int) -> Dict[str, float]:
        """Pretrain (cached) and run every selected probe of the method's backbone."""
        pre = self.pretrain(method, seed)
        ckpt = pre['checkpoint'] if pre else None
        values = {}
        wanted = [p for p in self.probes if PROBES[p][0] == method.backbone]
        if any(PROBES[p][1] in ('linear', 'knn') for p in wanted):
            obj = self.object_probe(method, seed, ckpt)
            for p in wanted:
                if PROBES[p][1] in ('linear', 'knn'):
                    values[p] = obj[PROBES[p][1]]
        if any(PROBES[p][1] == 'det' for p in wanted):
            values['maskrcnn-bbox-ap@resnet'] = self.detection_probe(method, seed, ckpt)['bbox_ap']
        if any(PROBES[p][1].startswith('seg') for p in wanted):
            seg = self.segmentation_probe(method, seed, ckpt)
            values.update(_seg_values(seg, wanted))
        return values

    def pixel_reference(self) -> Dict[str, float]:
        step = 'probe/pixel-stats'

        def run():
            out = osp.join(self.work_dir, 'probes', 'pixel-stats', 'object_probe.json')
            self.call(step, [
                self.python, 'tools/benchmarks/object_probe.py', PROBE_CONFIG, 'pixel-stats',
                '--out', out, '--no-progress'
            ])
            with open(out) as f:
                res = json.load(f)
            return dict(linear=res['linear']['accuracy'], knn=res['knn']['accuracy'])

        res = self.cache.run(step, run)
        return {
            p: res[kind]
            for p, (_, kind) in PROBES.items() if kind in ('linear', 'knn') and p in self.probes
        }

    # ------------------------------------------------------------------ all
    def collect(self) -> Dict:
        """The results of finished steps only (nothing runs): for rewriting the report."""
        per_seed: Dict[str, Dict[str, Dict[int, float]]] = {}
        for seed in self.seeds:
            for method in self.methods:
                base = f'probe/{method.backbone}/{method.name}/seed{seed}'
                found = {}
                obj = self.cache.get(base + '/objects')
                if obj:
                    found[f'obj-linear@{method.backbone}'] = obj['linear']
                    found[f'obj-knn@{method.backbone}'] = obj['knn']
                det = self.cache.get(base + '/maskrcnn')
                if det:
                    found['maskrcnn-bbox-ap@resnet'] = det['bbox_ap']
                seg = self.cache.get(base + '/upernet')
                if seg:
                    found.update(_seg_values(seg, PROBES))
                for probe, value in found.items():
                    if probe in self.probes:
                        per_seed.setdefault(probe, {}).setdefault(method.name, {})[seed] = value
        pix = self.cache.get('probe/pixel-stats')
        reference = {} if not pix else {
            p: pix[kind]
            for p, (_, kind) in PROBES.items() if kind in ('linear', 'knn') and p in self.probes
        }
        return dict(per_seed=per_seed, reference=reference, num_labelled=NUM_LABELLED)

    def run(self) -> Dict:
        """Everything, seed by seed (so that a partial run already has whole seeds)."""
        start = time.time()
        self.prepare_data()
        reference = self.pixel_reference()
        per_seed: Dict[str, Dict[str, Dict[int, float]]] = {}
        for seed in self.seeds:
            for method in self.methods:
                for probe, value in self.probe_values(method, seed).items():
                    per_seed.setdefault(probe, {}).setdefault(method.name, {})[seed] = value
        self.log(f'[toy_benchmark] all steps done ({time.time() - start:.0f} s this call)')
        return dict(per_seed=per_seed, reference=reference)


def _seg_values(seg: Dict, wanted) -> Dict[str, float]:
    """The UperNet probes of one run's payload that are ``wanted``."""
    values = {'upernet-miou@vit': seg['miou']}
    if 'miou_things' in seg:  # runs of before the grouped metric have the 16-class mIoU only
        values['upernet-things-miou@vit'] = seg['miou_things']
    return {p: v for p, v in values.items() if p in wanted}


def _last_metrics(work_dir: str) -> Dict:
    """The last validation metrics of an mmengine work dir (every run folder, in order)."""
    from .report import iter_scalars
    metrics = {}
    for record in iter_scalars(work_dir):
        if 'loss' not in record:
            metrics.update(record)
    if not metrics:
        raise StepError(f'{work_dir}: no validation metrics logged')
    return metrics
