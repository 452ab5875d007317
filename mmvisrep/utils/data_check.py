"""Fail early, naming the config key, when a dataset's data_root is missing."""
import os.path as osp

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _dataset_cfgs(dataset_cfg, key):
    """Yield (config key, dataset cfg) for a dataset and any datasets it wraps."""
    if not isinstance(dataset_cfg, dict):
        return
    yield key, dataset_cfg
    if isinstance(dataset_cfg.get('dataset'), dict):
        yield from _dataset_cfgs(dataset_cfg['dataset'], f'{key}.dataset')
    for i, sub in enumerate(dataset_cfg.get('datasets', None) or []):
        yield from _dataset_cfgs(sub, f'{key}.datasets.{i}')


def check_data_roots(cfg, config_path: str = 'config') -> None:
    """Raise ``FileNotFoundError`` for the first dataset whose ``data_root`` does not exist."""
    for loader in LOADERS:
        loader_cfg = cfg.get(loader, None)
        if not isinstance(loader_cfg, dict):
            continue
        for key, dataset in _dataset_cfgs(loader_cfg.get('dataset'), f'{loader}.dataset'):
            root = dataset.get('data_root', None)
            if root and not osp.isdir(root):
                raise FileNotFoundError(
                    f'{config_path}: {key}.data_root "{root}" does not exist. Point it at '
                    f'your data with --cfg-options {key}.data_root=PATH, or generate toy '
                    f'scenes there: python tools/data/make_toy_scenes.py {root} '
                    '--num-train 400 --num-val 100 --img-size 128 --seed 0')
