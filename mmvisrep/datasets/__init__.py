from . import transforms  # noqa: F401
from .orl_dataset import ORLDataset
from .proposal_dataset import SoCoProposalDataset
from .toy_stuff_dataset import ToySceneStuffDataset

__all__ = ['ORLDataset', 'SoCoProposalDataset', 'ToySceneStuffDataset']
