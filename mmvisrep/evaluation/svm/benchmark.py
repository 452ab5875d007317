"""The VOC07 SVM benchmark end to end: config + checkpoint -> cached features -> SVMs -> mAP.

Used by ``tools/benchmarks/voc07_svm.py``; see ``docs/svm_voc07.md``. A config provides
``model`` (backbone), ``data_preprocessor``, ``train_dataloader`` / ``test_dataloader`` (the
images the SVMs are trained / tested on, test-time pipeline, no shuffling), ``svm_extract``
(pooling of the last backbone output and the feature name) and ``svm`` (protocol settings,
defaults in ``svm.DEFAULT_SVM_CFG``).
"""
import copy
import datetime
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch

from .features import (build_extractor, build_pool, cache_paths, checkpoint_fingerprint,
                       extract_features, load_cached, save_cached, spec_key)
from .labels import label_matrix
from .svm import run_full, run_low_shot, svm_settings

MODES = ('full', 'low-shot', 'both')
SPLITS = (('train', 'train_dataloader'), ('test', 'test_dataloader'))
GLOBAL_POOL = dict(type='AdaptiveAvgPool2d', output_size=1)


def _plain(obj):
    """Config values as plain JSON-able Python (ConfigDict -> dict, tuples -> lists)."""
    if hasattr(obj, 'to_dict'):
        obj = obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def extract_config(cfg, global_pool: bool = False) -> dict:
    """``svm_extract`` of the config: ``pool`` (dict or None) and ``feature_name``."""
    spec = _plain(cfg.get('svm_extract') or {})
    unknown = set(spec) - {'pool', 'feature_name'}
    if unknown:
        raise ValueError(f'unknown svm_extract keys {sorted(unknown)}; known: pool, feature_name')
    pool = spec.get('pool', GLOBAL_POOL)
    name = spec.get('feature_name', 'feat')
    if global_pool:
        pool, name = dict(GLOBAL_POOL), name + '-gap'
    return dict(pool=pool, feature_name=name)


def load_or_extract_features(cfg,
                             checkpoint: Optional[str],
                             work_dir: str,
                             prefix: str = 'auto',
                             use_target: bool = False,
                             device: Optional[str] = None,
                             global_pool: bool = False,
                             force: bool = False,
                             progress: bool = True,
                             logger=None) -> dict:
    """Features, labels and class names of both splits, extracted once and cached.

    Returns ``dict(train=(feats, labels), test=(feats, labels), classes=[...], key=..., meta)``.
    """
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    ext = extract_config(cfg, global_pool)
    pool = build_pool(ext['pool'])
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    spec_base = dict(
        checkpoint=checkpoint_fingerprint(checkpoint),
        prefix=prefix,
        use_target=bool(use_target),
        model=_plain(cfg.model),
        data_preprocessor=_plain(cfg.get('data_preprocessor')),
        pool=ext['pool'])
    feature_dir = osp.join(work_dir, 'features')
    model = None
    out = dict(feature_name=ext['feature_name'], keys=[])
    for split, dl_key in SPLITS:
        if cfg.get(dl_key) is None:
            raise ValueError(f'the config has no {dl_key} (the {split} images of the SVMs)')
        dl_cfg = copy.deepcopy(cfg[dl_key])
        spec = dict(spec_base, split=split, dataset=_plain(dl_cfg.get('dataset')))
        key = spec_key(spec)
        paths = cache_paths(feature_dir, split, ext['feature_name'])
        cached = None if force else load_cached(paths, key)
        if cached is not None:
            feats, labels, meta = cached
            if logger:
                logger.info(f'{split}: reusing {feats.shape[0]} x {feats.shape[1]} features from '
                            f'{paths["features"]}')
        else:
            dataloader = Runner.build_dataloader(dl_cfg, seed=None)
            dataset = dataloader.dataset
            source = f'{dl_key}.dataset ({type(dataset).__name__})'
            labels = label_matrix(dataset, source)
            if model is None:
                model, weights = build_extractor(cfg, checkpoint, prefix, use_target)
                model.to(device)
                pool = pool.to(device) if pool is not None else None
                if logger:
                    logger.info(f'backbone {cfg.model.backbone.get("type")} from {weights}, '
                                f'pool {ext["pool"]}, device {device}')
            feats = extract_features(model, dataloader, pool, f'{split} features', progress)
            meta = dict(
                key=key,
                spec=spec,
                shape=list(feats.shape),
                classes=list(dataset.metainfo['classes']),
                num_images=len(dataset),
                created=datetime.datetime.now().isoformat(timespec='seconds'))
            save_cached(paths, feats, labels, meta)
            if logger:
                logger.info(f'{split}: {feats.shape[0]} x {feats.shape[1]} features -> '
                            f'{paths["features"]}')
        out[split] = (feats, labels)
        out.setdefault('classes', meta['classes'])
        if meta['classes'] != out['classes']:
            raise ValueError(f'train and test datasets have different classes: '
                             f'{out["classes"]} vs {meta["classes"]}')
        out['keys'].append(key)
    out['key'] = '-'.join(out['keys'])
    return out


def format_full(res: dict) -> str:
    """Per-class AP and mAP (in %) as a text table."""
    width = max(len(c) for c in res['classes'] + ['mAP'])
    lines = [f'{"class":<{width}}  {"AP":>6}  {"cost":>10}  {"#pos":>5}']
    for name, ap, cost, npos in zip(res['classes'], res['ap'], res['cost'], res['num_train_pos']):
        ap_text = '   n/a' if ap is None else f'{100 * ap:6.2f}'
        cost_text = '-' if cost is None else f'{cost:.4g}'
        lines.append(f'{name:<{width}}  {ap_text}  {cost_text:>10}  {npos:>5}')
    lines.append(f'{"mAP":<{width}}  {100 * res["mAP"]:6.2f}')
    return '\n'.join(lines)


def format_low_shot(res: dict) -> str:
    """Low-shot mAP (in %) per k: mean / min / max / std over runs at the chosen cost."""
    lines = [f'{"k":>4}  {"mAP":>6}  {"min":>6}  {"max":>6}  {"std":>5}  {"cost":>10}']
    for row in res['table']:
        lines.append(f'{row["k"]:>4}  {100 * row["mAP"]:6.2f}  {100 * row["min"]:6.2f}  '
                     f'{100 * row["max"]:6.2f}  {100 * row["std"]:5.2f}  {row["cost"]:>10.4g}')
    return '\n'.join(lines)


def run_svm_benchmark(cfg,
                      checkpoint: Optional[str],
                      work_dir: str,
                      mode: str = 'both',
                      prefix: str = 'auto',
                      use_target: bool = False,
                      device: Optional[str] = None,
                      n_jobs: int = 1,
                      global_pool: bool = False,
                      force_extract: bool = False,
                      ks: Optional[Sequence[int]] = None,
                      runs: Optional[int] = None,
                      progress: bool = True,
                      logger=None) -> dict:
    """Run the benchmark and write ``<work_dir>/<feature>_svm_results.json``; return the results.

    ``mode`` is ``'full'``, ``'low-shot'`` or ``'both'``; ``ks`` / ``runs`` override the
    config's ``svm.low_shot``. Per-class (full) and per-(run, k) (low-shot) results are cached in
    ``<work_dir>/svm_cache/`` so that an interrupted run resumes.
    """
    from mmvisrep.utils.atomic_io import atomic_write_json

    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    svm_cfg = _plain(cfg.get('svm') or {})
    low_shot = dict(svm_cfg.get('low_shot') or {})
    if ks is not None:
        low_shot['k'] = list(ks)
    if runs is not None:
        low_shot['runs'] = int(runs)
    svm_cfg['low_shot'] = low_shot
    settings = svm_settings(svm_cfg)

    data = load_or_extract_features(cfg, checkpoint, work_dir, prefix, use_target, device,
                                    global_pool, force_extract, progress, logger)
    (x_train, t_train), (x_test, t_test) = data['train'], data['test']
    classes, name = data['classes'], data['feature_name']
    cache = osp.join(work_dir, 'svm_cache', name)
    results = dict(
        checkpoint=checkpoint,
        feature=name,
        dims=int(x_train.shape[1]),
        num_train=int(x_train.shape[0]),
        num_test=int(x_test.shape[0]),
        classes=list(classes),
        time=datetime.datetime.now().isoformat(timespec='seconds'))
    inputs = (x_train, t_train, x_test, t_test, classes, settings)
    common = dict(n_jobs=n_jobs, features_key=data['key'], progress=progress, logger=logger)
    if mode in ('full', 'both'):
        results['full'] = run_full(*inputs, cache_dir=osp.join(cache, 'full'), **common)
        if logger:
            logger.info(f'VOC07 SVM (full, {name}, {results["dims"]}-d):\n'
                        f'{format_full(results["full"])}')
    if mode in ('low-shot', 'both'):
        results['low_shot'] = run_low_shot(
            *inputs, cache_dir=osp.join(cache, 'low_shot'), **common)
        if logger:
            logger.info(f'VOC07 low-shot SVM ({name}, {settings["low_shot"]["runs"]} runs):\n'
                        f'{format_low_shot(results["low_shot"])}')
    out_file = osp.join(work_dir, f'{name}_svm_results.json')
    atomic_write_json(_nan_to_none(results), out_file)
    results['out_file'] = out_file
    if logger:
        logger.info(f'results -> {out_file}')
    return results


def _nan_to_none(obj):
    """JSON has no NaN: write ``null`` for undefined APs / mAPs."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj
