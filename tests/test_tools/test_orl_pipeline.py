"""tools/orl_pipeline.py runs ORL's three toy stages end to end, then the VOC07-style SVM.

Toy scenes of 64 px (48 train / 24 val: every class needs train positives for the SVM), one
epoch per training stage, 3 kNN images.
A second run of the pipeline skips every stage.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from mmvisrep.datasets.toy_scenes import generate_toy_scenes

REPO = Path(__file__).resolve().parents[2]
STAGE1 = 'configs/orl/stage1/byol_resnet18_1xb32-toy-coslr-10e_toyscenes.py'
STAGE3 = 'configs/orl/stage3/orl_resnet18_1xb32-toy-coslr-10e_toyscenes.py'
SVM = 'configs/benchmarks/svm/toy/resnet18_1xb32-svm-toy_toyscenes.py'


def _run(cmd):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', NUMBA_NUM_THREADS='1')
    result = subprocess.run([sys.executable, *cmd],
                            cwd=REPO,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=1200)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return log


def test_orl_pipeline_three_stages_then_svm(tmp_path):
    root = generate_toy_scenes(tmp_path / 'toy', num_train=48, num_val=24, img_size=64, seed=1)
    work = tmp_path / 'work'
    loader = [
        'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1'
    ]
    cmd = [
        'tools/orl_pipeline.py', STAGE1, STAGE3, '--work-dir',
        str(work), '--k', '3', '--knn-args=--resize 40 --crop-size 32 --workers 0 --no-progress',
        '--ss-args=--no-progress',
        '--corr-args=--min-size 8 --topn 8 --crop-size 32 --workers 0 --no-progress',
        '--stage1-options', f'train_dataloader.dataset.data_root={root}/', *loader,
        '--stage3-options', f'train_dataloader.dataset.data_root={root}/',
        'train_dataloader.dataset.topk_knn=3', *loader
    ]
    log = _run(cmd)
    meta = root / 'meta'
    knn = json.loads((meta / 'train2017_3nn_instance.json').read_text())
    assert len(knn['pseudo_annotations']['knn_image_id']) == 48
    corr = json.loads((meta / 'train2017_10nn_instance_correspondence.json').read_text())
    pairs = corr['pseudo_annotations']['knn_bbox_pair']
    assert len(pairs) == 48 and all(len(per_image) == 3 for per_image in pairs)
    assert all(len(p) == 8 for per_image in pairs for per_nn in per_image for p in per_nn)
    ckpt = (work / 'stage3' / 'DONE').read_text().strip()
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    assert {'head.predictor.mlp.0.weight', 'intra_head.predictor.mlp.0.weight',
            'inter_head.predictor.mlp.0.weight'} <= set(state) or \
        any(k.startswith('intra_head.') for k in state)
    assert 'ORL pipeline finished' in log

    # a second run skips every stage
    again = _run(cmd)
    assert again.count('skip:') == 5, again[-2000:]

    # the stage-3 backbone through the VOC07-style SVM on the toy scenes' dominant classes
    svm_log = _run([
        'tools/benchmarks/voc07_svm.py', SVM, ckpt, '--work-dir',
        str(tmp_path / 'svm'), '--mode', 'both', '--k', '1', '--runs', '2', '--no-progress',
        '--cfg-options', f'train_dataloader.dataset.data_root={root}/',
        f'test_dataloader.dataset.data_root={root}/'
    ])
    results = list((tmp_path / 'svm').rglob('*.json'))
    assert results, svm_log[-2000:]
    assert 'mAP' in svm_log
