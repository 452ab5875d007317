"""Data preparation helpers of the toy benchmark."""
import json
import os.path as osp
from typing import Dict, Optional

from mmvisrep.utils.atomic_io import atomic_write_text


def write_coco_subset(src: str, dst: str, num_images: int, seg_list: Optional[str] = None) -> Dict:
    """Write the first ``num_images`` images (by id) of a COCO instances file, with their
    annotations and all categories, to ``dst`` (the labelled set of a low-label protocol), and
    their file stems to ``seg_list`` (the split file of the same images' segmentation maps)."""
    with open(src) as f:
        coco = json.load(f)
    images = sorted(coco['images'], key=lambda im: im['id'])
    if num_images > len(images):
        raise ValueError(f'{src} has {len(images)} images, fewer than the {num_images} asked for')
    keep = images[:num_images]
    ids = {im['id'] for im in keep}
    subset = dict(
        coco, images=keep, annotations=[a for a in coco['annotations'] if a['image_id'] in ids])
    atomic_write_text(json.dumps(subset, separators=(',', ':')), dst)
    if seg_list:
        stems = [osp.splitext(osp.basename(im['file_name']))[0] for im in keep]
        atomic_write_text(''.join(s + '\n' for s in stems), seg_list)
    return dict(
        file=osp.abspath(dst), num_images=len(keep), num_objects=len(subset['annotations']))
