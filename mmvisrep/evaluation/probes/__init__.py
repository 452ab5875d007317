"""Frozen-feature object probes (linear, kNN) and their pixel-statistics reference."""
from .benchmark import PIXEL_STATS, probe_features, run_object_probes
from .classifiers import knn_probe, linear_probe
from .objects import (ImageObjects, crop_objects, extract_object_features, load_coco_objects,
                      roi_pool_levels)
from .pixel_stats import box_colour_features, extract_pixel_features

__all__ = [
    'PIXEL_STATS', 'probe_features', 'run_object_probes', 'knn_probe', 'linear_probe',
    'ImageObjects', 'crop_objects', 'extract_object_features', 'load_coco_objects',
    'roi_pool_levels', 'box_colour_features', 'extract_pixel_features'
]
