from . import transforms  # noqa: F401
from .proposal_dataset import SoCoProposalDataset
from .toy_stuff_dataset import ToySceneStuffDataset

__all__ = ['SoCoProposalDataset', 'ToySceneStuffDataset']
