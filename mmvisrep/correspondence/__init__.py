"""ORL Stage 2: kNN image retrieval and RoI-pair (correspondence) mining, as offline tools.

Nothing here registers into a registry; the command lines are ``tools/data/orl_knn.py`` and
``tools/data/orl_correspondence.py`` (see docs/orl_stage2.md).
"""
from .boxes import BoxFilter, filter_boxes, greedy_dedup
from .crops import crop_resize, resize_center_crop
from .layouts import (ImageList, KnnFile, knn_json, load_knn_json, load_proposals,
                      read_coco_images, write_correspondence_json)
from .model import Stage1Encoder, load_encoder
from .retrieval import knn_search, num_pairs, top_pairs

__all__ = [
    'BoxFilter', 'ImageList', 'KnnFile', 'Stage1Encoder', 'crop_resize', 'filter_boxes',
    'greedy_dedup', 'knn_json', 'knn_search', 'load_encoder', 'load_knn_json', 'load_proposals',
    'num_pairs', 'read_coco_images', 'resize_center_crop', 'top_pairs', 'write_correspondence_json'
]
