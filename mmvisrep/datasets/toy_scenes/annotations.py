"""Scene -> COCO instance annotations (visible-part polygons) and COCO-Stuff stuffthingmaps.

Occlusion is resolved by drawing order: an object's visible mask is its mask minus the masks of
every object drawn after it. Fragments and objects too small to annotate are dropped and their
pixels become ``UNLABELED`` in the stuffthingmap, so instances and maps always agree.
"""
from dataclasses import dataclass, field
from typing import List

import cv2
import numpy as np

from .classes import STUFF_CLASSES, THING_CLASSES, UNLABELED
from .render import Scene

# An object is annotated only if its visible area is at least this fraction of the image...
MIN_VISIBLE_FRACTION = 0.0015
# ...and each connected piece of its visible mask must have at least this many pixels
# (or this fraction of the image, whichever is larger).
MIN_FRAGMENT_PIXELS = 4
MIN_FRAGMENT_FRACTION = 0.0003


@dataclass
class VisibleObject:
    """An annotated object: category, colour, visible mask and its COCO geometry."""

    index: int  # position in Scene.objects (drawing order)
    category_id: int
    colour: str
    mask: np.ndarray = field(repr=False)  # bool (H, W): annotated visible pixels
    full_area: int  # pixels of the whole shape before occlusion
    bbox: List[float]  # [x, y, w, h], pixel-edge convention
    area: int
    polygons: List[List[float]]
    centroid: tuple  # (x, y) in pixels

    @property
    def name(self):
        return THING_CLASSES[self.category_id - 1]['name']


def _splice_hole(outer, hole):
    """Join a hole into its outer ring with a zero-width bridge (even-odd fill keeps it open)."""
    d = ((outer[:, None, :] - hole[None, :, :])**2).sum(-1)
    i, j = np.unravel_index(np.argmin(d), d.shape)
    hole = np.roll(hole, -j, axis=0)
    return np.concatenate([outer[:i + 1], hole, hole[:1], outer[i:]], 0)


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """Trace a binary mask into COCO polygons (flat [x1, y1, x2, y2, ...] lists).

    One polygon per connected piece. The mask is traced at twice its resolution, so vertices
    lie a quarter pixel inside the pixel edges and pycocotools rasterises the polygons back to
    exactly the same pixels; holes are bridged into their outer ring with a zero-width cut, which
    the even-odd fill of pycocotools leaves open.
    """
    up = np.kron(mask.astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    rings = [cv2.approxPolyDP(c, 0.5, True)[:, 0, :].astype(np.float64) for c in contours]
    polygons = []
    for i, ring in enumerate(rings):
        if hierarchy[i][3] != -1 or len(ring) < 3:  # holes are joined to their parent
            continue
        child = hierarchy[i][2]
        while child != -1:
            if len(rings[child]) >= 3:
                ring = _splice_hole(ring, rings[child])
            child = hierarchy[child][0]
        polygons.append([round(float(v), 2) for v in ((ring + 0.5) / 2).reshape(-1)])
    return polygons


def _clean_mask(mask, min_fragment):
    """Drop connected pieces smaller than ``min_fragment`` pixels or too thin to trace."""
    num, comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(num, bool)
    for k in range(1, num):
        x, y, w, h, area = stats[k]
        keep[k] = area >= min_fragment and w >= 2 and h >= 2
    return keep[comp]


def visible_objects(scene: Scene) -> List[VisibleObject]:
    """Resolve occlusion and return the objects that are large enough to annotate."""
    size = scene.image.shape[0]
    order = np.full(scene.image.shape[:2], -1, np.int32)
    for i, obj in enumerate(scene.objects):
        order[obj.mask] = i
    min_fragment = max(MIN_FRAGMENT_PIXELS, int(round(MIN_FRAGMENT_FRACTION * size * size)))
    min_area = MIN_VISIBLE_FRACTION * size * size
    result = []
    for i, obj in enumerate(scene.objects):
        mask = _clean_mask(order == i, min_fragment)
        area = int(mask.sum())
        if area < min_area:
            continue
        polygons = mask_to_polygons(mask)
        if not polygons:
            continue
        ys, xs = np.nonzero(mask)
        x0, y0 = int(xs.min()), int(ys.min())
        bbox = [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)]
        centroid = (float(xs.mean() + 0.5), float(ys.mean() + 0.5))
        result.append(
            VisibleObject(i, obj.label + 1, obj.colour, mask, int(obj.mask.sum()), bbox, area,
                          polygons, centroid))
    return result


def stuffthing_map(scene: Scene, objects: List[VisibleObject]) -> np.ndarray:
    """COCO-Stuff label map (uint8, value = label id - 1, ``UNLABELED`` = 255)."""
    ids = np.array([s['cocostuff_id'] - 1 for s in STUFF_CLASSES], np.uint8)
    label = ids[np.asarray(scene.stuff)][scene.stuff_index]
    label[scene.boundary] = UNLABELED
    # Every drawn shape first becomes unlabeled, then annotated visible parts get their class:
    # what remains unlabeled are dropped objects and dropped fragments.
    for obj in scene.objects:
        label[obj.mask] = UNLABELED
    for obj in objects:
        label[obj.mask] = obj.category_id - 1
    return label


def instance_annotations(objects: List[VisibleObject], image_id: int, first_ann_id: int):
    """COCO ``annotations`` records of one image (ids start at ``first_ann_id``)."""
    return [
        dict(
            id=first_ann_id + k,
            image_id=image_id,
            category_id=obj.category_id,
            segmentation=obj.polygons,
            area=float(obj.area),
            bbox=obj.bbox,
            iscrowd=0) for k, obj in enumerate(objects)
    ]


def dominant_label(objects: List[VisibleObject]) -> int:
    """0-based thing class with the largest total visible area (ties: the lower index)."""
    totals = np.zeros(len(THING_CLASSES), np.int64)
    for obj in objects:
        totals[obj.category_id - 1] += obj.area
    return int(np.argmax(totals))
