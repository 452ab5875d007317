"""Object probes of a frozen backbone from a config: extract the RoIAlign features of the
labelled training objects and of the test objects once, then run the linear and kNN probes.

Config keys (see configs/toy_benchmark/benchmarks/probes/)::

    model = dict(type='ImageClassifier', backbone=dict(...))   # returns the maps to pool
    data_preprocessor = dict(type='ClsDataPreprocessor', mean=..., std=..., to_rgb=True)
    object_probe = dict(
        data_root='data/toy_benchmark/',
        train=dict(ann_file='annotations/...json', img_prefix='train2017/', num_images=200),
        test=dict(ann_file='annotations/instances_val2017.json', img_prefix='val2017/'),
        roi_size=2, batch_size=64,
        crop=dict(size=128, margin=1.3),   # optional: each object as its own crop
        linear=dict(cs=(0.01, 0.1, 1.0, 10.0), folds=3),
        knn=dict(k=20, temperature=0.07),
        pixel_stats=dict(bins=4))
"""
import os.path as osp
import time
from typing import Dict, Optional

import numpy as np

from .classifiers import knn_probe, linear_probe
from .objects import extract_object_features, load_coco_objects
from .pixel_stats import extract_pixel_features

#: the checkpoint argument that evaluates the colour-histogram reference instead of a network
PIXEL_STATS = 'pixel-stats'


def load_probe_records(probe_cfg: dict):
    """``(train_records, test_records)`` of the config's labelled and test splits."""
    root = probe_cfg.get('data_root', '')
    splits = []
    for name in ('train', 'test'):
        split = probe_cfg[name]
        splits.append(
            load_coco_objects(
                osp.join(root, split['ann_file']),
                osp.join(root, split['img_prefix']),
                num_images=split.get('num_images')))
    return tuple(splits)


def probe_features(cfg, checkpoint: Optional[str], seed: int = 0, progress: bool = True):
    """``{'train': (x, y), 'test': (x, y)}`` for a checkpoint, ``'random'`` or ``PIXEL_STATS``."""
    probe_cfg = cfg.object_probe
    train_recs, test_recs = load_probe_records(probe_cfg)
    if checkpoint == PIXEL_STATS:
        bins = probe_cfg.get('pixel_stats', {}).get('bins', 4)
        return dict(
            train=extract_pixel_features(train_recs, bins),
            test=extract_pixel_features(test_recs, bins)), 'pixel statistics'
    import torch

    from mmvisrep.evaluation.svm.features import build_extractor
    torch.manual_seed(seed)
    model, source = build_extractor(cfg, checkpoint, seed=seed)
    kwargs = dict(
        batch_size=probe_cfg.get('batch_size', 64),
        roi_size=probe_cfg.get('roi_size', 2),
        keep_bins=probe_cfg.get('keep_bins', False),
        crop=probe_cfg.get('crop'),
        progress=progress)
    return dict(
        train=extract_object_features(model, train_recs, desc='train objects', **kwargs),
        test=extract_object_features(model, test_recs, desc='test objects', **kwargs)), source


def run_object_probes(cfg,
                      checkpoint: Optional[str],
                      seed: int = 0,
                      progress: bool = True) -> Dict:
    """Linear and kNN accuracy (percent) on the test objects, with what produced them."""
    start = time.time()
    feats, source = probe_features(cfg, checkpoint, seed, progress)
    (train_x, train_y), (test_x, test_y) = feats['train'], feats['test']
    probe_cfg = cfg.object_probe
    results = dict(
        source=source,
        feature_dim=int(train_x.shape[1]),
        num_train_objects=int(len(train_y)),
        num_test_objects=int(len(test_y)),
        linear=linear_probe(train_x, train_y, test_x, test_y, **probe_cfg.get('linear', {})),
        knn=knn_probe(train_x, train_y, test_x, test_y, **probe_cfg.get('knn', {})),
        chance=100.0 * float(np.bincount(test_y).max() / len(test_y)))
    results['seconds'] = round(time.time() - start, 1)
    return results
