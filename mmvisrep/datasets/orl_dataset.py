"""ORL stage-3 samples: images, their RoIs and kNN RoI pairs from the correspondence json
(spec 2.4 (d), 2.5; official ``datasets/data_sources/coco_orl_json.py``).

The json is the official ``train2017_10nn_instance_correspondence.json`` layout, written by
stage 2 (``tools/data/orl_correspondence.py``)::

    {"info": {"knn_image_num": 10, ...},
     "images": {"file_name": [...], "id": [...]},
     "pseudo_annotations": {
         "image_id": [...],
         "bbox": [[[x, y, w, h], ...] per image],              # <= 100 filtered SS boxes
         "knn_image_id": [[10 positional indices into images] per image],
         "knn_bbox_pair": [[[[xq, yq, wq, hq, xk, yk, wk, hk], ...] per neighbour] per image]}}
"""
from collections import Counter
from typing import List

import numpy as np
from mmengine.fileio import exists, join_path, load
from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS


def _as_boxes(raw, width: int, what: str) -> np.ndarray:
    """A list of ``width``-vectors as a float32 (N, width) array; ValueError naming ``what``."""
    if not isinstance(raw, (list, tuple)):
        raise ValueError(f'{what}: expected a list of {width}-vectors, got {type(raw).__name__}')
    if len(raw) == 0:
        return np.zeros((0, width), np.float32)
    try:
        arr = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f'{what}: boxes must be lists of {width} numbers: {e}') from e
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f'{what}: expected {width}-vectors, got an array of shape {arr.shape}')
    return arr


@DATASETS.register_module()
class ORLDataset(BaseDataset):
    """Images of the correspondence json with their intra RoIs and top-k kNN RoI pairs.

    Each item has ``img_path``, ``img_id``, ``intra_boxes`` float32 (N, 4) ``[x, y, w, h]``,
    ``knn_ids`` int64 (topk,) positional indices and ``knn_box_pairs`` (a list over the topk
    neighbours of float32 (P, 8) arrays). :meth:`prepare_data` draws one of the ``topk_knn``
    neighbours uniformly (official ``get_sample``) and passes ``knn_img_path`` and that
    neighbour's ``knn_box_pairs`` (P, 8) to the pipeline (``LoadImageFromFile``,
    ``LoadORLNeighbour``, ``ORLSampleRoIPairs``, ``MultiView`` of six views, ``PackInputs``).

    Bad input:

    * a missing json, missing keys, lists of different lengths, a kNN index out of range, fewer
      than ``topk_knn`` neighbours or malformed boxes -> ``FileNotFoundError`` /
      ``ValueError`` naming the file and the record;
    * boxes with ``w < 1`` or ``h < 1`` or not finite -> dropped (counted);
    * an image with no box -> its whole image is the intra RoI (counted);
    * a neighbour with no RoI pair -> another of the topk neighbours that has pairs is drawn;
      if none has, the whole query and neighbour images form the inter pair (counted);
    * a missing image file -> ``FileNotFoundError`` naming the record when it is loaded.

    The counts are logged once after loading and kept in ``orl_stats``.

    Args:
        ann_file (str): The correspondence json (relative to ``data_root`` unless absolute).
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
        data_prefix (str | dict): Folder that the json's ``file_name`` are relative to.
        topk_knn (int): Neighbours to draw from (official ``topk_knn_image=10``).
        **kwargs: Other arguments of mmpretrain's ``BaseDataset`` (``pipeline``...).
    """

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix='',
                 topk_knn: int = 10,
                 **kwargs) -> None:
        if not ann_file:
            raise ValueError('ORLDataset: ann_file (the correspondence json) is required')
        if int(topk_knn) < 1:
            raise ValueError(f'ORLDataset: topk_knn must be >= 1, got {topk_knn}')
        self.topk_knn = int(topk_knn)
        self.orl_stats: Counter = Counter()
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, **kwargs)

    # ------------------------------------------------------------------ loading
    def _load_json(self) -> dict:
        """The json, with clear errors for a missing file or missing keys."""
        path = self.ann_file
        if not exists(path):
            raise FileNotFoundError(f'ORLDataset: correspondence file {path} not found (run '
                                    'tools/data/orl_correspondence.py, stage 2)')
        try:
            data = load(path, file_format='json')
        except ValueError as e:
            raise ValueError(f'ORLDataset: {path} is not valid json: {e}') from e
        if not isinstance(data, dict):
            raise ValueError(f'ORLDataset: {path} must hold a dict, got {type(data).__name__}')
        required = dict(
            images=('file_name', ), pseudo_annotations=('bbox', 'knn_image_id', 'knn_bbox_pair'))
        for key, sub in required.items():
            if not isinstance(data.get(key), dict):
                raise ValueError(f'ORLDataset: {path} has no {key!r} dict (official '
                                 'train2017_10nn_instance_correspondence.json layout)')
            for name in sub:
                if not isinstance(data[key].get(name), list):
                    raise ValueError(f'ORLDataset: {path} has no list {key}.{name}')
        return data

    def load_data_list(self) -> List[dict]:
        """One record per image; fallbacks are counted and logged once."""
        path = self.ann_file
        data = self._load_json()
        names = data['images']['file_name']
        ids = data['images'].get('id') or list(range(len(names)))
        ann = data['pseudo_annotations']
        num = len(names)
        lengths = {'images.id': len(ids)}
        for key in ('bbox', 'knn_image_id', 'knn_bbox_pair'):
            lengths[f'pseudo_annotations.{key}'] = len(ann[key])
        if 'image_id' in ann:
            lengths['pseudo_annotations.image_id'] = len(ann['image_id'])
        bad = {k: v for k, v in lengths.items() if v != num}
        if bad:
            raise ValueError(f'ORLDataset: {path}: images.file_name has {num} entries but '
                             f'{bad}; the lists must be aligned')
        knn_num = (data.get('info') or {}).get('knn_image_num')
        if knn_num is not None and self.topk_knn > int(knn_num):
            raise ValueError(f'ORLDataset: topk_knn={self.topk_knn} exceeds '
                             f'info.knn_image_num={knn_num} of {path}')

        stats = self.orl_stats
        stats.clear()
        data_list = []
        for i, name in enumerate(names):
            rec = f'ORLDataset: {path} record {i} ({name})'
            if 'image_id' in ann and ann['image_id'][i] != ids[i]:
                raise ValueError(f'{rec}: pseudo_annotations.image_id {ann["image_id"][i]} != '
                                 f'images.id {ids[i]}; records must be in the same order')
            boxes = _as_boxes(ann['bbox'][i], 4, f'{rec} bbox')
            good = np.isfinite(boxes).all(1) & (boxes[:, 2] >= 1) & (boxes[:, 3] >= 1)
            stats['degenerate intra boxes dropped'] += int((~good).sum())
            boxes = boxes[good]
            if len(boxes) == 0:
                stats['images without intra boxes (whole image used)'] += 1

            knn = ann['knn_image_id'][i]
            pairs_raw = ann['knn_bbox_pair'][i]
            if not isinstance(knn, list) or len(knn) < self.topk_knn:
                raise ValueError(f'{rec}: needs >= topk_knn={self.topk_knn} kNN image ids, got '
                                 f'{knn!r:.80}')
            if not isinstance(pairs_raw, list) or len(pairs_raw) < self.topk_knn:
                raise ValueError(f'{rec}: knn_bbox_pair needs a list of pairs for each of the '
                                 f'topk_knn={self.topk_knn} neighbours')
            knn_ids = np.asarray(knn[:self.topk_knn])
            if knn_ids.dtype.kind not in 'iu' or knn_ids.min() < 0 or knn_ids.max() >= num:
                raise ValueError(f'{rec}: knn_image_id {knn[:self.topk_knn]} must be positional '
                                 f'indices in [0, {num})')
            knn_pairs = []
            for j in range(self.topk_knn):
                pairs = _as_boxes(pairs_raw[j], 8, f'{rec} knn_bbox_pair[{j}]')
                sizes = pairs[:, [2, 3, 6, 7]]
                ok = np.isfinite(pairs).all(1) & (sizes >= 1).all(1)
                stats['degenerate RoI pairs dropped'] += int((~ok).sum())
                pairs = pairs[ok]
                if len(pairs) == 0:
                    stats['neighbours without RoI pairs (redrawn)'] += 1
                knn_pairs.append(pairs)
            if not any(len(p) for p in knn_pairs):
                stats['images without any RoI pair (whole images used)'] += 1
            stats['intra boxes'] += len(boxes)
            stats['RoI pairs'] += sum(len(p) for p in knn_pairs)
            data_list.append(
                dict(
                    img_path=self._join(name),
                    img_id=ids[i],
                    intra_boxes=boxes,
                    knn_ids=knn_ids.astype(np.int64),
                    knn_box_pairs=knn_pairs))
        stats['images'] = len(data_list)
        # every image's path by json position (kNN ids index the full list, even when the
        # dataset is subset with `indices`); a numpy string array pickles compactly
        self._json_img_paths = np.array([d['img_path'] for d in data_list])
        quiet = ('images', 'intra boxes', 'RoI pairs')
        fallbacks = {k: v for k, v in stats.items() if v and k not in quiet}
        msg = (f'ORLDataset: {stats["images"]} images, {stats["intra boxes"]} intra boxes, '
               f'{stats["RoI pairs"]} RoI pairs (top-{self.topk_knn} neighbours) from {path}')
        if fallbacks:
            msg += '; ' + ', '.join(f'{k}: {v}' for k, v in fallbacks.items())
        print_log(msg, logger='current', level=30 if fallbacks else 20)
        return data_list

    def _join(self, name: str) -> str:
        """``file_name`` joined with the image folder (any mmengine file backend)."""
        prefix = self.img_prefix
        return join_path(prefix, name) if prefix else name

    # ------------------------------------------------------------------ sampling
    def _choose_neighbour(self, info: dict, rng=None) -> int:
        """Rank of a uniformly drawn neighbour; among those with RoI pairs if the draw has none
        (all ranks when no neighbour has pairs)."""
        rng = np.random if rng is None else rng
        rank = int(rng.randint(self.topk_knn))
        if len(info['knn_box_pairs'][rank]) == 0:
            with_pairs = [j for j, p in enumerate(info['knn_box_pairs']) if len(p)]
            if with_pairs:
                rank = with_pairs[int(rng.randint(len(with_pairs)))]
        return rank

    def prepare_data(self, idx: int):
        """Draw the kNN image and run the pipeline; missing files raise an error naming them."""
        info = self.get_data_info(idx)
        rank = self._choose_neighbour(info)
        knn_idx = int(info['knn_ids'][rank])
        results = dict(
            img_path=info['img_path'],
            img_id=info['img_id'],
            sample_idx=info.get('sample_idx', idx),
            intra_boxes=info['intra_boxes'],
            knn_rank=rank,
            knn_idx=knn_idx,
            knn_img_path=str(self._json_img_paths[knn_idx]),
            knn_box_pairs=info['knn_box_pairs'][rank])
        try:
            return self.pipeline(results)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'ORLDataset: record {idx} ({info["img_path"]}, kNN '
                                    f'{results["knn_img_path"]}) of {self.ann_file}: {e}') from e

    def extra_repr(self) -> List[str]:
        """Correspondence file and counts in the dataset's repr."""
        return [
            f'Annotation file: \t{self.ann_file}',
            f'Prefix of images: \t{self.img_prefix}',
            f'Top-k neighbours: \t{self.topk_knn}',
            f'ORL stats: \t{dict(self.orl_stats)}',
        ]
