"""Procedurally generated toy scenes in the official COCO / COCO-Stuff / Localized Narratives
on-disk formats, for CPU-sized end-to-end runs of the real dataset configs."""
from .classes import (COCOSTUFF_STUFF_NAMES, SEG_PALETTE, STUFF_CLASSES, STUFF_NAMES,
                      THING_CLASSES, THING_NAMES, UNLABELED, cocostuff_label_id, seg_class_names,
                      stuffthingmap_values)
from .generate import generate_toy_scenes, image_file_name

__all__ = [
    'generate_toy_scenes', 'image_file_name', 'THING_CLASSES', 'THING_NAMES', 'STUFF_CLASSES',
    'STUFF_NAMES', 'COCOSTUFF_STUFF_NAMES', 'SEG_PALETTE', 'UNLABELED', 'cocostuff_label_id',
    'seg_class_names', 'stuffthingmap_values'
]
