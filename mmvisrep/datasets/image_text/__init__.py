"""Image-text pair datasets: COCO captions, TSV/JSONL lists (CC3M style), tar shards (web)."""
from .coco_captions import CocoCaptionsDataset
from .epoch_hook import DatasetEpochHook
from .line_files import ImageTextFileDataset
from .skips import SkipCounter
from .tar_shards import ImageTextShardDataset

__all__ = [
    'CocoCaptionsDataset', 'DatasetEpochHook', 'ImageTextFileDataset', 'ImageTextShardDataset',
    'SkipCounter'
]
