from . import transforms  # noqa: F401
from .image_text import CocoCaptionsDataset, ImageTextFileDataset, ImageTextShardDataset
from .localized_narratives import LocalizedNarrativesDataset
from .orl_dataset import ORLDataset
from .proposal_dataset import SoCoProposalDataset
from .toy_stuff_dataset import ToySceneStuffDataset

__all__ = ['ORLDataset', 'SoCoProposalDataset', 'ToySceneStuffDataset']
__all__ += ['LocalizedNarrativesDataset']
__all__ += ['CocoCaptionsDataset', 'ImageTextFileDataset', 'ImageTextShardDataset']
