from . import transforms  # noqa: F401
from .toy_stuff_dataset import ToySceneStuffDataset

__all__ = ['ToySceneStuffDataset']
