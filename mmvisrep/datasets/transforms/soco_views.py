"""SoCo's multi-view construction with proposal boxes (spec 1.3), as one mmpretrain transform.

``SoCoViews`` turns one loaded image and its selective-search proposals into SoCo's views and
the boxes/ids the model pools and matches. It follows the official datasets
(``contrast/data/dataset.py``: ``ImageAsymBboxAwareMultiJitter1[Cutout]`` for ``fpn``,
``ImageAsymBboxAwareMulti3ResizeExtraJitter1`` for ``fpn_star``, ``ImageAsymBboxCutout`` for
``c4``) without their two cutout bugs (pre-flip boxes, float ``randint``).
"""
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS

from . import box_ops

# mmpretrain's mean in the BGR order of images loaded by ``LoadImageFromFile``.
BGR_MEAN = (103.53, 116.28, 123.675)


def _build_pipeline(cfgs: Optional[Sequence]) -> Compose:
    """A Compose of transforms built in the mmpretrain scope (others need a ``scope.`` prefix)."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return Compose([TRANSFORMS.build(c) if isinstance(c, dict) else c for c in cfgs or []])


@TRANSFORMS.register_module()
class SoCoViews(BaseTransform):
    """Build SoCo's views, boxes and level-assigned ids from ``img`` + ``proposals``.

    Views: V1 = the whole image squashed to ``view_sizes[0]`` (aspect not kept); V2 (and V3 in
    the FPN variants) = independent torchvision-style random resized crops
    (``crop_scale``, ``crop_ratio``, 10 attempts then the centre-crop fallback, mmpretrain's
    ``RandomResizedCrop.rand_crop_params``); in ``fpn_star`` V4 = the V2 crop resized to
    ``view_sizes[3]``, with V2's boxes. View pairs are (V1, V{p+2}).

    Boxes, per pair and independently: the proposals intersecting the pair's overlap are the
    candidates, ``select_k`` of them are drawn without replacement; up to ``max_tries`` draws of
    all crops are made until every pair has at least ``least_common`` boxes (it starts at
    ``max(padding_k // 2, 1)`` and halves after each failure; the last draw is kept). V1's copy
    of the boxes is jittered (``jitter_prob``, ``jitter_ratio``; not in ``c4``); each view's
    copy is clipped into its crop (no survivor -> the whole view with id 1) and padded to
    ``padding_k`` with duplicates of boxes whose ids both views share. In the FPN variants each
    box gets a pyramid level from its size in view pixels (``aware_range``). Each view is
    flipped with ``flip_prob`` independently (V1's boxes of all pairs flip together), then gets
    its colour pipeline (``colour_pipelines[i]``, the last one repeats for later views), then,
    if ``cutout_prob > 0``, each of its boxes (not V1's) gets a cutout square with that
    probability.

    Cutout fill: the official code zeroes pixels after normalisation, i.e. paints the dataset
    mean. Here views are still raw (normalisation happens in the data preprocessor), so the
    square is painted with ``cutout_fill`` (the mean in the pipeline's channel order). In
    uint8 views it is rounded to (104, 116, 124) BGR, which normalises to within 0.009 of zero;
    with ``cutout_float=True`` the views that may get cutout are turned into float32 and the
    fill is the exact mean, which normalises to exactly 0 as in the official code.

    Added keys: ``img`` (list of HWC views), ``soco_boxes`` float32 (num_pairs, 2, K, 4) --
    ``[p, 0]`` V1's boxes for pair p, ``[p, 1]`` the other view's, normalised xyxy in that view
    after its flip; ``soco_ids`` int64 (num_pairs, 2, P * K) -- slot ``l * K + k`` holds box k's
    id if it is assigned level l, else ``-(view number)`` (``c4``: P = 1, the plain ids);
    ``flip`` (per-view flags) and ``soco_tries`` (number of crop draws).

    Args:
        variant (str): ``'fpn'`` (V1, V2, V3), ``'fpn_star'`` (V1..V4) or ``'c4'`` (V1, V2).
        view_sizes (Sequence[int], optional): Square view sizes. Defaults to (224, 224, 112),
            (224, 224, 192, 112) and (224, 224) for the three variants.
        crop_scale (tuple): RRC area range for V2/V3. Defaults to (0.5, 1.); ``c4`` uses 0.6.
        crop_ratio (tuple): RRC aspect-ratio range. Defaults to (3/4, 4/3).
        select_k (int): Proposals drawn per pair. Defaults to 4.
        padding_k (int): Boxes per view after padding (K). Defaults to 4.
        max_tries (int): Crop draws before giving up on ``least_common``. Defaults to 5.
        jitter_prob (float, optional): Per-box jitter probability of V1's boxes. Defaults to
            0.5, and to 0 for ``c4``.
        jitter_ratio (float): Jitter range. Defaults to 0.1.
        aware_range (Sequence[int]): Upper size bound of each level (P2..P5).
            Defaults to (48, 96, 192, 224).
        flip_prob (float): Horizontal flip probability per view. Defaults to 0.5.
        cutout_prob (float): Per-box cutout probability on V2.. (0 disables). Defaults to 0.
        cutout_ratio (tuple): Range of the square's area over the box's. Defaults to (0.1, 0.3).
        cutout_fill (Sequence[float]): Fill colour, pipeline channel order. Defaults to the
            ImageNet mean in BGR.
        cutout_float (bool): Exact mean fill in float32 views (see above). Defaults to False.
        colour_pipelines (list[list[dict]], optional): mmpretrain transforms per view.
        interpolation (str): Resize interpolation. Defaults to 'bilinear' (official).
        backend (str): Resize backend. Defaults to 'pillow' (the official PIL resize,
            antialiased when shrinking).
    """

    VARIANTS = ('fpn', 'fpn_star', 'c4')
    DEFAULT_SIZES = dict(fpn=(224, 224, 112), fpn_star=(224, 224, 192, 112), c4=(224, 224))
    LOG_AT = (1, 10, 100, 1000, 10000, 100000)

    def __init__(self,
                 variant: str = 'fpn',
                 view_sizes: Optional[Sequence[int]] = None,
                 crop_scale: Tuple[float, float] = (0.5, 1.),
                 crop_ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 select_k: int = 4,
                 padding_k: int = 4,
                 max_tries: int = 5,
                 jitter_prob: Optional[float] = None,
                 jitter_ratio: float = 0.1,
                 aware_range: Sequence[int] = (48, 96, 192, 224),
                 flip_prob: float = 0.5,
                 cutout_prob: float = 0.,
                 cutout_ratio: Tuple[float, float] = (0.1, 0.3),
                 cutout_fill: Sequence[float] = BGR_MEAN,
                 cutout_float: bool = False,
                 colour_pipelines: Optional[List[List[dict]]] = None,
                 interpolation: str = 'bilinear',
                 backend: str = 'pillow') -> None:
        if variant not in self.VARIANTS:
            raise ValueError(f'SoCoViews: variant must be one of {self.VARIANTS}, got {variant!r}')
        self.variant = variant
        self.view_sizes = tuple(int(s) for s in (view_sizes or self.DEFAULT_SIZES[variant]))
        if len(self.view_sizes) != len(self.DEFAULT_SIZES[variant]):
            raise ValueError(f'SoCoViews: variant {variant!r} has '
                             f'{len(self.DEFAULT_SIZES[variant])} views, got view_sizes '
                             f'{self.view_sizes}')
        if not 1 <= select_k <= padding_k:
            raise ValueError(f'SoCoViews: need 1 <= select_k <= padding_k so that every view '
                             f'has K = padding_k boxes, got {select_k}, {padding_k}')
        if max_tries < 1:
            raise ValueError(f'SoCoViews: max_tries must be >= 1, got {max_tries}')
        self.select_k, self.padding_k, self.max_tries = select_k, padding_k, max_tries
        self.jitter_prob = (0. if variant == 'c4' else 0.5) if jitter_prob is None else jitter_prob
        self.jitter_ratio = jitter_ratio
        self.with_levels = variant != 'c4'
        self.aware_range = tuple(aware_range)
        self.flip_prob = flip_prob
        self.cutout_prob, self.cutout_ratio = cutout_prob, tuple(cutout_ratio)
        self.cutout_fill = np.asarray(cutout_fill, dtype=np.float32)
        self.cutout_float = cutout_float
        self.interpolation, self.backend = interpolation, backend
        # Randomly cropped views and the (V1, V) pairs; fpn_star's V4 (index 3) reuses V2's crop.
        self.crop_views = (1, ) if variant == 'c4' else (1, 2)
        self.pair_views = tuple(range(1, len(self.view_sizes)))
        self._rrc = {}
        for v in self.crop_views:
            self._rrc[v] = RandomResizedCrop(
                scale=self.view_sizes[v],
                crop_ratio_range=tuple(crop_scale),
                aspect_ratio_range=tuple(crop_ratio),
                interpolation=interpolation,
                backend=backend)
        self.colour_pipelines = [_build_pipeline(p) for p in (colour_pipelines or [[]])]
        self.counts: Counter = Counter()  # worker-local fallback / skip counters

    # ------------------------------------------------------------------ bookkeeping
    def _note(self, kind: str, results: dict, detail: str = '') -> None:
        """Count a fallback/skip and log it at the 1st, 10th, 100th... occurrence."""
        self.counts[kind] += 1
        n = self.counts[kind]
        if n in self.LOG_AT:
            print_log(
                f'SoCoViews: {kind} (x{n} in this worker), latest: '
                f'{results.get("img_path", "<no img_path>")} {detail}'.rstrip(),
                logger='current',
                level=30)

    def _proposals(self, results: dict, height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
        """The sample's proposals clipped into the image; the whole image if none is usable."""
        if 'proposals' not in results:
            raise KeyError('SoCoViews needs results["proposals"] (e.g. from SoCoProposalDataset)'
                           f' for {results.get("img_path", "<no img_path>")}')
        boxes = np.asarray(results['proposals'], dtype=np.float64).reshape(-1, 4)
        ids = results.get('proposal_ids')
        if ids is None:
            ids = np.arange(1, len(boxes) + 1, dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(boxes):
            raise ValueError(f'SoCoViews: {len(boxes)} proposals but {len(ids)} proposal_ids '
                             f'for {results.get("img_path")}')
        boxes, keep, changed = box_ops.clip_to_image(boxes, height, width)
        if (~keep).any():
            self._note('proposals outside the image dropped', results, f'({(~keep).sum()})')
        if changed.any():
            self._note('proposals clipped to the image', results, f'({changed.sum()})')
        boxes, ids = boxes[keep], ids[keep]
        if len(boxes) == 0:
            self._note('no usable proposal, whole image used', results)
            boxes = np.array([[0, 0, width - 1, height - 1]], dtype=np.float64)
            ids = np.array([1], dtype=np.int64)
        return boxes, ids

    # ------------------------------------------------------------------ sampling
    def _sample_crop(self, view: int, img: np.ndarray) -> box_ops.Crop:
        """One RRC draw for a randomly cropped view: ``(top, left, height, width)``."""
        top, left, h, w = self._rrc[view].rand_crop_params(img)
        return int(top), int(left), int(h), int(w)

    def _draw(self, img: np.ndarray, boxes: np.ndarray) -> Tuple[Dict, Dict, int, bool]:
        """Crops + per-pair proposal selections with SoCo's retry rule.

        Returns crops {view: crop}, selections {view: indices into boxes}, the number of draws
        and whether the last draw met ``least_common``.
        """
        height, width = img.shape[:2]
        whole = (0, 0, height, width)
        least_common = max(self.padding_k // 2, 1)
        for tries in range(1, self.max_tries + 1):
            crops = {0: whole}
            selected = {}
            for v in self.crop_views:
                crops[v] = self._sample_crop(v, img)
                overlap = box_ops.crop_overlap(whole, crops[v])
                candidates = np.flatnonzero(box_ops.intersecting(boxes, overlap))
                selected[v] = candidates[box_ops.select_random(len(candidates), self.select_k)]
            ok = all(len(s) >= least_common for s in selected.values())
            if ok:
                break
            least_common = max(least_common // 2, 1)
        return crops, selected, tries, ok

    def _pair_boxes(self, results: dict, boxes: np.ndarray, ids: np.ndarray, crops: Dict,
                    selected: np.ndarray, view: int):
        """V1's and view ``view``'s clipped, padded pixel boxes (+ ids) for one pair."""
        chosen, chosen_ids = boxes[selected], ids[selected]
        v1_src = (
            box_ops.jitter_boxes(chosen, self.jitter_prob, self.jitter_ratio)
            if self.jitter_prob > 0 else chosen)
        b1, i1 = box_ops.clip_to_crop(v1_src, chosen_ids, crops[0])
        bv, iv = box_ops.clip_to_crop(chosen, chosen_ids, crops[view])
        shared = box_ops.common_ids(i1, iv)
        if len(shared) == 0:
            self._note(f'pair (V1, V{view + 1}) shares no box, padded with own boxes', results)
        b1, i1 = box_ops.pad_with_common(b1, i1, shared, self.padding_k)
        bv, iv = box_ops.pad_with_common(bv, iv, shared, self.padding_k)
        return b1, i1, bv, iv

    def _level_ids(self, px_boxes: np.ndarray, ids: np.ndarray, crop: box_ops.Crop,
                   view: int) -> np.ndarray:
        """Level-assigned ids of one view's boxes (plain ids for ``c4``)."""
        if not self.with_levels:
            return ids.astype(np.int64)
        size = self.view_sizes[view]
        view_px = box_ops.rescale_to_view(px_boxes, crop[2:], (size, size))
        return box_ops.assign_levels(view_px, ids, self.aware_range, -(view + 1))

    # ------------------------------------------------------------------ images
    def _resize(self, img: np.ndarray, size: int) -> np.ndarray:
        """Resize to a square view with the configured interpolation and backend."""
        return mmcv.imresize(
            img, (size, size), interpolation=self.interpolation, backend=self.backend)

    def _cutout(self, view_img: np.ndarray, norm_boxes: np.ndarray) -> np.ndarray:
        """Paint a mean-colour square into each box with probability ``cutout_prob``."""
        height, width = view_img.shape[:2]
        fill = self.cutout_fill
        if view_img.ndim != 3 or view_img.shape[2] != len(fill):  # e.g. a 1-channel grayscale
            fill = fill.mean(keepdims=True) if view_img.ndim == 3 else fill.mean()
        if self.cutout_float:
            view_img = view_img.astype(np.float32)
        else:
            fill = np.clip(np.round(fill), 0, 255).astype(view_img.dtype)
        scale = np.array([width, height, width, height], dtype=np.float64)
        for box in norm_boxes:
            if np.random.rand() < self.cutout_prob:
                y1, y2, x1, x2 = box_ops.cutout_square(box * scale, self.cutout_ratio, height,
                                                       width)
                view_img[y1:y2 + 1, x1:x2 + 1] = fill
        return view_img

    def transform(self, results: dict) -> dict:
        """Build the views, boxes and ids of one sample."""
        img = results['img']
        height, width = img.shape[:2]
        boxes, ids = self._proposals(results, height, width)
        crops, selected, tries, ok = self._draw(img, boxes)
        if not ok:
            self._note(f'least_common not met after {tries} crop draws, last draw kept', results)
        if self.variant == 'fpn_star':
            crops[3] = crops[1]

        num_pairs, k = len(self.pair_views), self.padding_k
        num_slots = (len(self.aware_range) if self.with_levels else 1) * k
        soco_boxes = np.zeros((num_pairs, 2, k, 4), dtype=np.float64)
        soco_ids = np.zeros((num_pairs, 2, num_slots), dtype=np.int64)
        pixel_pairs = {}
        for p, v in enumerate(self.pair_views):
            if v == 3:  # fpn_star: (V1, V4) copies the (V1, V2) boxes
                pixel_pairs[v] = pixel_pairs[1]
            else:
                pixel_pairs[v] = self._pair_boxes(results, boxes, ids, crops, selected[v], v)
            b1, i1, bv, iv = pixel_pairs[v]
            soco_boxes[p, 0] = box_ops.normalise(b1, crops[0][2:])
            soco_boxes[p, 1] = box_ops.normalise(bv, crops[v][2:])
            soco_ids[p, 0] = self._level_ids(b1, i1, crops[0], 0)
            soco_ids[p, 1] = self._level_ids(bv, iv, crops[v], v)

        # Views (V4 is resized from the un-flipped V2), then independent flips.
        views = [self._resize(img, self.view_sizes[0])]
        for v in self.pair_views:
            if v == 3:
                views.append(self._resize(views[1], self.view_sizes[3]))
            else:
                top, left, h, w = crops[v]
                views.append(self._resize(img[top:top + h, left:left + w], self.view_sizes[v]))
        flips = [bool(np.random.rand() < self.flip_prob) for _ in views]
        for i, flip in enumerate(flips):
            if not flip:
                continue
            views[i] = mmcv.imflip(views[i], direction='horizontal')
            if i == 0:
                soco_boxes[:, 0] = box_ops.hflip_normalised(soco_boxes[:, 0])
            else:
                p = self.pair_views.index(i)
                soco_boxes[p, 1] = box_ops.hflip_normalised(soco_boxes[p, 1])

        for i in range(len(views)):
            colour = self.colour_pipelines[min(i, len(self.colour_pipelines) - 1)]
            views[i] = colour(dict(img=views[i]))['img']
            if i > 0 and (self.cutout_prob > 0 or self.cutout_float):
                views[i] = self._cutout(views[i], soco_boxes[self.pair_views.index(i), 1])

        results['img'] = views
        results['soco_boxes'] = soco_boxes.astype(np.float32)
        results['soco_ids'] = soco_ids
        results['flip'] = flips
        results['soco_tries'] = tries
        return results

    def __repr__(self) -> str:
        """Short description with the geometry parameters."""
        return (f'{self.__class__.__name__}(variant={self.variant!r}, '
                f'view_sizes={self.view_sizes}, select_k={self.select_k}, '
                f'padding_k={self.padding_k}, max_tries={self.max_tries}, '
                f'jitter_prob={self.jitter_prob}, jitter_ratio={self.jitter_ratio}, '
                f'aware_range={self.aware_range if self.with_levels else None}, '
                f'flip_prob={self.flip_prob}, cutout_prob={self.cutout_prob}, '
                f'cutout_ratio={self.cutout_ratio}, cutout_float={self.cutout_float}, '
                f'num_colour_pipelines={len(self.colour_pipelines)})')
