"""Run ORL's three stages for one config set, skipping the stages that are finished.

Stage 1 trains image-level BYOL; stage 2 retrieves the kNN images (``tools/data/orl_knn.py``),
computes selective-search proposals (``tools/data/selective_search.py --preset orl``) and mines
RoI pairs (``tools/data/orl_correspondence.py``) into the correspondence json that the stage-3
config reads; stage 3 trains ORL. Every step resumes when interrupted, and a finished step is
skipped (stages 1 and 3 leave a ``DONE`` marker in their work dir, stage-2 steps are done when
their output json exists)::

    python tools/orl_pipeline.py configs/orl/stage1/byol_resnet50_8xb64-coslr-800e_coco.py \
        configs/orl/stage3/orl_resnet50_8xb64-coslr-800e_coco.py --gpus 8 --ss-workers 16
"""
import argparse
import os
import os.path as osp
import shlex
import subprocess
import sys
import time

from mmengine.config import Config, DictAction

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('stage1_config', help='stage-1 (BYOL) config')
    parser.add_argument('stage3_config', help='stage-3 (ORL) config')
    parser.add_argument(
        '--work-dir',
        default=None,
        help='root of stage1/ and stage3/ (default: work_dirs/orl/'
        '<stage-3 config name>)')
    parser.add_argument(
        '--ann-file',
        action='append',
        default=None,
        help='COCO json(s) listing the stage-2 images, in order (repeat for COCO+; default: '
        'DATA_ROOT/annotations/instances_train2017.json)')
    parser.add_argument(
        '--meta-dir',
        default=None,
        help='stage-2 outputs (default: the folder of the stage-3 '
        "config's correspondence json)")
    parser.add_argument('--prefix', default='train2017', help='stage-2 file prefix')
    parser.add_argument('--k', type=int, default=10, help='kNN images per image (default 10)')
    parser.add_argument('--gpus', type=int, default=1, help='processes per stage (torchrun)')
    parser.add_argument('--ss-workers', type=int, default=1, help='selective-search processes')
    parser.add_argument(
        '--ss-dir',
        default=None,
        help='selective-search proposals (default: META_DIR/orl_selective_search); they do not '
        'depend on stage 1, so runs over the same images (e.g. other seeds) can share them')
    parser.add_argument(
        '--knn-args', default='', help='extra options of orl_knn.py extract (quoted)')
    parser.add_argument(
        '--ss-args', default='', help='extra options of selective_search.py generate (quoted)')
    parser.add_argument(
        '--corr-args', default='', help='extra options of orl_correspondence.py generate (quoted)')
    parser.add_argument(
        '--stage1-options', nargs='*', default=[], help='--cfg-options of stage 1 (k=v ...)')
    parser.add_argument(
        '--stage3-options', nargs='*', default=[], help='--cfg-options of stage 3 (k=v ...)')
    parser.add_argument('--python', default=sys.executable, help='interpreter of the stages')
    return parser.parse_args(argv)


class Pipeline:
    """The stages of one ORL run; each ``run_*`` returns early when its output exists."""

    def __init__(self, args):
        self.args = args
        stage3 = Config.fromfile(args.stage3_config)
        # paths come from the stage-3 config as it will run, overrides included
        stage3.merge_from_dict(_options_dict(args.stage3_options))
        dataset = stage3.train_dataloader.dataset
        self.data_root = dataset.get('data_root', '') or ''
        self.img_dir = osp.join(self.data_root, _prefix_of(dataset.get('data_prefix', '')))
        self.correspondence = osp.join(self.data_root, dataset.ann_file)
        self.meta_dir = args.meta_dir or osp.dirname(self.correspondence)
        self.ann_files = args.ann_file or [
            osp.join(self.data_root, 'annotations', 'instances_train2017.json')
        ]
        name = osp.splitext(osp.basename(args.stage3_config))[0]
        self.work_dir = args.work_dir or osp.join('work_dirs', 'orl', name)
        self.knn_json = osp.join(self.meta_dir, f'{args.prefix}_{args.k}nn_instance.json')
        self.ss_dir = args.ss_dir or osp.join(self.meta_dir, 'orl_selective_search')
        self.proposals = osp.join(self.ss_dir, f'{args.prefix}_selective_search_proposal.json')

    # ----------------------------------------------------------------- helpers
    def _call(self, cmd):
        """Run one step (cwd = repo root); stop the pipeline with its exit code on failure."""
        print('+ ' + ' '.join(shlex.quote(str(c)) for c in cmd), flush=True)
        result = subprocess.run([str(c) for c in cmd], cwd=REPO)
        if result.returncode:
            sys.exit(f'orl_pipeline: step failed with exit code {result.returncode}: '
                     f'{" ".join(str(c) for c in cmd)}')

    def _launch(self, script):
        """``python SCRIPT`` or torchrun over ``--gpus`` processes."""
        if self.args.gpus > 1:
            return [
                self.args.python, '-m', 'torch.distributed.run',
                f'--nproc_per_node={self.args.gpus}', script
            ]
        return [self.args.python, script]

    def _train(self, config, work_dir, options):
        """Train (resuming) unless ``work_dir/DONE`` exists; return the final checkpoint."""
        done = osp.join(work_dir, 'DONE')
        if osp.isfile(done):
            with open(done) as f:
                ckpt = f.read().strip()
            print(f'skip: {config} is finished ({done} -> {ckpt})', flush=True)
            return ckpt
        cmd = self._launch('tools/train.py') + [config, '--work-dir', work_dir, '--resume']
        if self.args.gpus > 1:
            cmd += ['--launcher', 'pytorch']
        if options:
            cmd += ['--cfg-options', *options]
        self._call(cmd)
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        with open(done + '.tmp', 'w') as f:
            f.write(ckpt + '\n')
        os.replace(done + '.tmp', done)
        return ckpt

    # ----------------------------------------------------------------- stages
    def run_stage1(self):
        return self._train(self.args.stage1_config, osp.join(self.work_dir, 'stage1'),
                           self.args.stage1_options)

    def run_knn(self, ckpt):
        if osp.isfile(self.knn_json):
            print(f'skip: kNN file exists ({self.knn_json})', flush=True)
            return
        cmd = self._launch('tools/data/orl_knn.py') + [
            'extract', self.args.stage1_config, ckpt, '--img-dir', self.img_dir, '--out-dir',
            self.meta_dir, '--prefix', self.args.prefix, '--k', self.args.k
        ]
        for ann in self.ann_files:
            cmd += ['--ann-file', ann]
        self._call(cmd + shlex.split(self.args.knn_args))

    def run_selective_search(self):
        if osp.isfile(self.proposals):
            print(f'skip: proposal file exists ({self.proposals})', flush=True)
            return
        if len(self.ann_files) != 1:
            sys.exit('orl_pipeline: selective search takes one --ann-file; for COCO+ compute '
                     'the proposals of trainplus2017 first (docs/orl_stage2.md) and pass '
                     f'them as {self.proposals}')
        cmd = [
            self.args.python, 'tools/data/selective_search.py', 'generate', '--preset', 'orl',
            '--ann-file', self.ann_files[0], '--img-dir', self.img_dir, '--out-dir', self.ss_dir,
            '--prefix', self.args.prefix, '--workers', self.args.ss_workers
        ]
        self._call(cmd + shlex.split(self.args.ss_args))

    def run_correspondence(self, ckpt):
        if osp.isfile(self.correspondence):
            print(f'skip: correspondence file exists ({self.correspondence})', flush=True)
            return
        cmd = self._launch('tools/data/orl_correspondence.py') + [
            'generate', self.args.stage1_config, ckpt, '--knn-json', self.knn_json,
            '--proposal-json', self.proposals, '--img-dir', self.img_dir, '--out-dir',
            osp.join(self.meta_dir, 'orl_stage2'), '--out-file', self.correspondence
        ]
        self._call(cmd + shlex.split(self.args.corr_args))
        if not osp.isfile(self.correspondence):
            # with several shards only the last one to finish merges
            self._call([
                self.args.python, 'tools/data/orl_correspondence.py', 'merge', '--out-dir',
                osp.join(self.meta_dir, 'orl_stage2'), '--out-file', self.correspondence
            ])

    def run_stage3(self):
        return self._train(self.args.stage3_config, osp.join(self.work_dir, 'stage3'),
                           self.args.stage3_options)

    def run(self):
        start = time.time()
        print(f'== ORL stage 1: {self.args.stage1_config}', flush=True)
        ckpt = self.run_stage1()
        print('== ORL stage 2: kNN images, selective search, RoI pairs', flush=True)
        self.run_knn(ckpt)
        self.run_selective_search()
        self.run_correspondence(ckpt)
        print(f'== ORL stage 3: {self.args.stage3_config}', flush=True)
        final = self.run_stage3()
        print(
            f'ORL pipeline finished in {time.time() - start:.0f}s; stage-3 checkpoint: {final}',
            flush=True)
        return final


def _options_dict(options):
    """``['a.b=1', ...]`` -> ``{'a.b': 1, ...}`` with the value parsing of ``--cfg-options``."""
    namespace = argparse.Namespace()
    DictAction(option_strings=[], dest='options')(None, namespace, list(options))
    return namespace.options if options else {}


def _prefix_of(data_prefix):
    """The image folder of an mmengine ``data_prefix`` (a str or ``dict(img_path=...)``)."""
    if isinstance(data_prefix, dict):
        data_prefix = data_prefix.get('img_path', data_prefix.get('img', ''))
    return data_prefix


def main(argv=None):
    Pipeline(parse_args(argv)).run()


if __name__ == '__main__':
    main()
