"""Versions of everything mmvisrep runs on, for bug reports and `make env-info`."""
from importlib import metadata

from mmengine.utils import get_git_hash
from mmengine.utils.dl_utils import collect_env as collect_base_env

STACK = ('torch', 'torchvision', 'numpy', 'scipy', 'mmengine', 'mmcv', 'mmdet', 'mmpretrain',
         'mmsegmentation', 'transformers', 'pycocotools', 'opencv-contrib-python-headless', 'ftfy',
         'regex')


def collect_env() -> dict:
    """mmengine's environment report plus every package of the mmvisrep stack."""
    import mmvisrep

    env = collect_base_env()
    for name in STACK:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = 'not installed'
    try:
        import mmcv.ops  # noqa: F401
        env['mmcv ops'] = 'compiled'
    except ImportError as err:
        env['mmcv ops'] = f'missing ({err})'
    try:
        import cv2
        env['cv2.ximgproc'] = 'yes' if hasattr(cv2, 'ximgproc') else 'no'
    except ImportError:
        env['cv2.ximgproc'] = 'no'
    env['mmvisrep'] = f'{mmvisrep.__version__}+{get_git_hash(digits=7)}'
    return env
