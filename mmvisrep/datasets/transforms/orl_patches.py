"""ORL stage-3 RoI pairs (spec 2.5) as mmpretrain transforms: neighbour loading, the intra-RoI
box augmentation, the inter-RoI pair choice and the 96 x 96 patch crops.

Boxes are ``[x, y, w, h]`` in original-image pixels, the official layout of
``train2017_10nn_instance_correspondence.json``; areas and IoU are continuous (``w * h``), as
in the official ``datasets/orl.py``. Random draws use ``rng`` (numpy's global state by default,
which mmengine seeds per dataloader worker); tests pass a ``np.random.RandomState``.
"""
import math
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmpretrain.registry import TRANSFORMS


def _rng(rng):
    """The random source: ``rng`` if given, else numpy's global state (seeded by mmengine)."""
    return np.random if rng is None else rng


def box_iou_xywh(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """IoU of two ``[x, y, w, h]`` boxes with continuous areas (``w * h``), 0 if degenerate."""
    ax, ay, aw, ah = (float(v) for v in box_a[:4])
    bx, by, bw, bh = (float(v) for v in box_b[:4])
    iw = max(min(ax + aw, bx + bw) - max(ax, bx), 0.)
    ih = max(min(ay + ah, by + bh) - max(ay, by), 0.)
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.


def augment_box(box: Sequence[float],
                img_w: int,
                img_h: int,
                shift: Tuple[float, float] = (-0.5, 0.5),
                scale: Tuple[float, float] = (0.5, 2.),
                ratio: Tuple[float, float] = (0.5, 2.),
                iou_thr: Optional[float] = 0.5,
                attempt_num: int = 200,
                rng=None) -> Tuple[np.ndarray, bool]:
    """ORL's ``aug_bbox``: a jittered copy of ``box`` for the second intra-RoI view.

    Each attempt draws an area ``U(scale) x`` the box area, an aspect ratio log-uniform in
    ``ratio`` and a centre moved by ``U(shift) x (w, h)``; sizes and corners are rounded to
    integers. The first box that lies fully inside the ``img_w x img_h`` image and has
    IoU > ``iou_thr`` with ``box`` (any IoU if None) is returned with True; after
    ``attempt_num`` failures ``box`` itself is returned with False, as the official code does.
    """
    rng = _rng(rng)
    x, y, w, h = (float(v) for v in box[:4])
    cx, cy, area = x + 0.5 * w, y + 0.5 * h, w * h
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(attempt_num):
        aug_area = rng.uniform(*scale) * area
        aug_ratio = math.exp(rng.uniform(*log_ratio))
        aug_w = int(round(math.sqrt(aug_area * aug_ratio)))
        aug_h = int(round(math.sqrt(aug_area / aug_ratio)))
        aug_cx = cx + rng.uniform(*shift) * w
        aug_cy = cy + rng.uniform(*shift) * h
        aug_x, aug_y = int(round(aug_cx - 0.5 * aug_w)), int(round(aug_cy - 0.5 * aug_h))
        if aug_w < 1 or aug_h < 1:
            continue
        if aug_x >= 0 and aug_y >= 0 and aug_x + aug_w <= img_w and aug_y + aug_h <= img_h:
            aug = np.array([aug_x, aug_y, aug_w, aug_h], dtype=np.float32)
            if iou_thr is None or box_iou_xywh(aug, box) > iou_thr:
                return aug, True
    return np.asarray(box[:4], dtype=np.float32), False


def _whole_image(img: np.ndarray) -> np.ndarray:
    """The ``[0, 0, w, h]`` box of an HWC image."""
    return np.array([0, 0, img.shape[1], img.shape[0]], dtype=np.float32)


@TRANSFORMS.register_module()
class LoadORLNeighbour(LoadImageFromFile):
    """Load the kNN image chosen by :class:`ORLDataset` (``knn_img_path``) into ``knn_img``.

    mmcv's ``LoadImageFromFile`` with other keys (same decoding arguments); adds
    ``knn_img_shape``. A missing file raises ``FileNotFoundError`` naming it.
    """

    def transform(self, results: dict) -> dict:
        path = results['knn_img_path']
        try:
            loaded = super().transform(dict(img_path=path))
        except FileNotFoundError as e:
            raise FileNotFoundError(f'LoadORLNeighbour: kNN image {path} of '
                                    f'{results.get("img_path")} not found') from e
        results['knn_img'] = loaded['img']
        results['knn_img_shape'] = loaded['img_shape']
        return results


@TRANSFORMS.register_module()
class ORLSampleRoIPairs(BaseTransform):
    """Choose ORL's intra-RoI pair (``ibox1``, ``ibox2``) and inter-RoI pair (``kbox1``,
    ``kbox2``) of one sample (official ``ORLDataset.__getitem__``).

    ``ibox1`` is a random box of ``intra_boxes`` (the image's filtered selective-search boxes)
    and ``ibox2 = augment_box(ibox1)``; (``kbox1``, ``kbox2``) is a random row of
    ``knn_box_pairs`` (``[xq, yq, wq, hq, xk, yk, wk, hk]``: ``kbox1`` in ``img``, ``kbox2`` in
    ``knn_img``). Fallbacks, each named in ``orl_fallbacks``: no intra box -> ``ibox1`` is the
    whole image (``'no_intra_box'``); no augmented box accepted -> ``ibox2 = ibox1``
    (``'ibox2_not_augmented'``, official behaviour); no pair -> the whole query and neighbour
    images (``'no_inter_pair'``). The dataset counts and logs the static cases once.

    Required keys: ``img``, ``knn_img``, ``intra_boxes`` (N, 4), ``knn_box_pairs`` (P, 8).
    Added keys: ``ibox1``, ``ibox2``, ``kbox1``, ``kbox2`` (float32 ``[x, y, w, h]``),
    ``orl_fallbacks`` (list of str).

    Args:
        shift, scale, ratio, iou_thr, attempt_num: :func:`augment_box` parameters
            (official: (-0.5, 0.5), (0.5, 2), (0.5, 2), 0.5, 200).
    """

    def __init__(self,
                 shift: Tuple[float, float] = (-0.5, 0.5),
                 scale: Tuple[float, float] = (0.5, 2.),
                 ratio: Tuple[float, float] = (0.5, 2.),
                 iou_thr: Optional[float] = 0.5,
                 attempt_num: int = 200) -> None:
        if not (0 < ratio[0] <= ratio[1] and 0 <= scale[0] <= scale[1]):
            raise ValueError(f'ORLSampleRoIPairs: bad scale {scale} or ratio {ratio}')
        self.shift = tuple(shift)
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.iou_thr = iou_thr
        self.attempt_num = attempt_num

    def transform(self, results: dict, rng=None) -> dict:
        rng = _rng(rng)
        img, knn_img = results['img'], results['knn_img']
        img_h, img_w = img.shape[:2]
        fallbacks: List[str] = []
        intra = np.asarray(results.get('intra_boxes', np.zeros((0, 4))), np.float32)
        if len(intra):
            ibox1 = intra[rng.randint(len(intra))].copy()
        else:
            ibox1 = _whole_image(img)
            fallbacks.append('no_intra_box')
        ibox2, accepted = augment_box(ibox1, img_w, img_h, self.shift, self.scale, self.ratio,
                                      self.iou_thr, self.attempt_num, rng)
        if not accepted:
            fallbacks.append('ibox2_not_augmented')
        pairs = np.asarray(results.get('knn_box_pairs', np.zeros((0, 8))), np.float32)
        if len(pairs):
            pair = pairs[rng.randint(len(pairs))]
            kbox1, kbox2 = pair[:4].copy(), pair[4:8].copy()
        else:
            kbox1, kbox2 = _whole_image(img), _whole_image(knn_img)
            fallbacks.append('no_inter_pair')
        results.update(ibox1=ibox1, ibox2=ibox2, kbox1=kbox1, kbox2=kbox2, orl_fallbacks=fallbacks)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(shift={self.shift}, scale={self.scale}, '
                f'ratio={self.ratio}, iou_thr={self.iou_thr}, attempt_num={self.attempt_num})')


def crop_patch(img: np.ndarray,
               box: Sequence[float],
               size: int,
               interpolation: str = 'bilinear',
               backend: str = 'pillow') -> np.ndarray:
    """Crop ``[x, y, w, h]`` from an HWC image and resize it to ``size x size``.

    Corners are rounded as PIL's ``crop`` (torchvision ``resized_crop`` in the official code)
    does, then clipped into the image (at least one pixel), so a box reaching past the border
    is not zero-padded. The pillow bilinear backend is the official PIL resize.
    """
    img_h, img_w = img.shape[:2]
    x, y, w, h = (float(v) for v in box[:4])
    x1 = min(max(int(round(x)), 0), img_w - 1)
    y1 = min(max(int(round(y)), 0), img_h - 1)
    x2 = max(min(int(round(x + w)), img_w), x1 + 1)
    y2 = max(min(int(round(y + h)), img_h), y1 + 1)
    patch = img[y1:y2, x1:x2]
    return mmcv.imresize(patch, (size, size), interpolation=interpolation, backend=backend)


@TRANSFORMS.register_module()
class ORLCropPatch(BaseTransform):
    """Replace ``img`` by the ``box_key`` box of ``img_key`` resized to ``size x size``.

    The first step of each patch view inside ``MultiView`` (official ``TF.resized_crop``,
    96 px, bilinear): ``ipatch1`` / ``ipatch2`` / ``kpatch1`` crop ``ibox1`` / ``ibox2`` /
    ``kbox1`` from ``img``, ``kpatch2`` crops ``kbox2`` from ``knn_img``.

    Args:
        box_key (str): Key of the ``[x, y, w, h]`` box.
        img_key (str): Key of the source image. Defaults to 'img'.
        size (int): Output side. Defaults to 96.
        interpolation (str): mmcv interpolation. Defaults to 'bilinear'.
        backend (str): mmcv resize backend. Defaults to 'pillow' (the official PIL resize).
    """

    def __init__(self,
                 box_key: str,
                 img_key: str = 'img',
                 size: int = 96,
                 interpolation: str = 'bilinear',
                 backend: str = 'pillow') -> None:
        self.box_key = box_key
        self.img_key = img_key
        self.size = int(size)
        self.interpolation = interpolation
        self.backend = backend

    def transform(self, results: dict) -> dict:
        patch = crop_patch(results[self.img_key], results[self.box_key], self.size,
                           self.interpolation, self.backend)
        results['img'] = patch
        results['img_shape'] = patch.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(box_key={self.box_key!r}, img_key={self.img_key!r}, '
                f'size={self.size}, interpolation={self.interpolation!r}, '
                f'backend={self.backend!r})')
