"""The official ORL Stage-2 json layouts: reading, checking and writing them.

* kNN file (``train2017_10nn_instance.json``)::

    {"info": {"knn_image_num": K},
     "images": {"file_name": [...], "id": [...]},
     "pseudo_annotations": {"image_id": [...], "knn_image_id": [[K positional indices], ...]}}

* selective-search file (``train2017_selective_search_proposal.json``)::

    {"bbox": [[[x, y, w, h], ...] per image]}   # ordered like the kNN / COCO image list

* correspondence file (``train2017_10nn_instance_correspondence.json``)::

    {"info": {"bbox_min_size", "bbox_max_aspect_ratio", "bbox_max_iou", "intra_bbox_num",
              "knn_image_num", "knn_bbox_pair_ratio"},
     "images": {"file_name": [...], "id": [...]},
     "pseudo_annotations": {"image_id": [...],
                            "bbox": [[[x, y, w, h], <= intra_bbox_num] per image],
                            "knn_image_id": [[K indices] per image],
                            "knn_bbox_pair": [[[[xq, yq, wq, hq, xk, yk, wk, hk], ...] per NN]
                                              per image]}}

Neighbours are positional indices into ``images``, as in the official files.
"""
import json
from dataclasses import dataclass
from typing import Iterable, List, Sequence

from mmvisrep.utils.atomic_io import atomic_open, load_json


@dataclass
class ImageList:
    """File names and ids of the images, in their official (COCO json) order."""
    file_names: List[str]
    ids: list

    def __len__(self):
        return len(self.file_names)


@dataclass
class KnnFile:
    """Content of a kNN json."""
    images: ImageList
    image_ids: list
    knn: List[List[int]]
    k: int
    path: str = ''


def read_coco_images(ann_files: Sequence[str]) -> ImageList:
    """``images`` of one or more COCO jsons, concatenated in order (COCO+ = train + unlabeled).

    A record without ``file_name``/``id`` or a file name listed twice raises an error naming it.
    """
    names, ids, seen = [], [], {}
    for ann_file in ann_files:
        data = load_json(ann_file, 'COCO annotation file')
        images = data.get('images') if isinstance(data, dict) else None
        if not isinstance(images, list):
            raise ValueError(f'COCO annotation file {ann_file} has no "images" list')
        for i, rec in enumerate(images):
            name = rec.get('file_name') if isinstance(rec, dict) else None
            if not isinstance(name, str) or not name or 'id' not in rec:
                raise ValueError(f'COCO annotation file {ann_file}: images[{i}] needs a '
                                 f'file_name and an id (record {rec!r})')
            if name in seen:
                raise ValueError(f'image {name!r} is listed twice ({seen[name]} and '
                                 f'{ann_file} images[{i}])')
            seen[name] = f'{ann_file} images[{i}]'
            names.append(name)
            ids.append(rec['id'])
    if not names:
        raise ValueError(f'no images in {", ".join(ann_files)}')
    return ImageList(names, ids)


def knn_json(images: ImageList, knn: Sequence[Sequence[int]], k: int) -> dict:
    """The official kNN json object."""
    if len(knn) != len(images):
        raise ValueError(f'{len(knn)} neighbour lists for {len(images)} images')
    return dict(
        info=dict(knn_image_num=int(k)),
        images=dict(file_name=list(images.file_names), id=list(images.ids)),
        pseudo_annotations=dict(
            image_id=list(images.ids), knn_image_id=[[int(j) for j in row] for row in knn]))


def load_knn_json(path: str) -> KnnFile:
    """Read and check a kNN json: equal lengths, K neighbours per image, indices in range."""
    data = load_json(path, 'kNN json')
    try:
        names = data['images']['file_name']
        ids = data['images']['id']
        image_ids = data['pseudo_annotations']['image_id']
        knn = data['pseudo_annotations']['knn_image_id']
        k = int(data['info']['knn_image_num'])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f'kNN json {path} lacks the official layout (info.knn_image_num, '
                         'images.file_name/id, pseudo_annotations.image_id/knn_image_id): '
                         f'{err!r}') from None
    n = len(names)
    if not (len(ids) == len(image_ids) == len(knn) == n) or n == 0:
        raise ValueError(f'kNN json {path}: {n} file names, {len(ids)} ids, {len(image_ids)} '
                         f'image_ids and {len(knn)} neighbour lists; they must be equal and > 0')
    for i, row in enumerate(knn):
        if (not isinstance(row, list) or len(row) < k
                or not all(isinstance(j, int) and 0 <= j < n for j in row)):
            raise ValueError(f'kNN json {path}: knn_image_id[{i}] ({names[i]}) must hold at least '
                             f'{k} indices in [0, {n}), got {row!r}')
    return KnnFile(ImageList(list(names), list(ids)), list(image_ids), knn, k, path)


def load_proposals(path: str, num_images: int) -> list:
    """``bbox`` list of an ORL selective-search json; its length must match the image list."""
    data = load_json(path, 'selective-search proposal json')
    boxes = data.get('bbox') if isinstance(data, dict) else None
    if not isinstance(boxes, list):
        raise ValueError(f'proposal json {path} has no "bbox" list (expected {{"bbox": '
                         '[[[x, y, w, h], ...] per image]}})')
    if len(boxes) != num_images:
        raise ValueError(f'proposal json {path} has boxes for {len(boxes)} images, the image '
                         f'list has {num_images}; both must follow the same COCO image order')
    return boxes


def _dump(obj) -> str:
    return json.dumps(obj, separators=(',', ':'))


def write_correspondence_json(path: str, info: dict, images: ImageList, image_ids: list,
                              knn: Sequence[Sequence[int]], bboxes: Iterable,
                              pairs: Iterable) -> str:
    """Stream the official correspondence json to ``path`` (atomically).

    ``bboxes`` and ``pairs`` are iterables over images (each may be a generator reading chunk
    files), so the whole file never has to be held in memory.
    """

    def _array(f, items, what):
        f.write('[')
        count = 0
        for i, item in enumerate(items):
            f.write((',' if i else '') + _dump(item))
            count += 1
        f.write(']')
        if count != len(images):
            raise ValueError(f'{what}: {count} entries for {len(images)} images')

    with atomic_open(path) as f:
        f.write('{"info":' + _dump(info))
        f.write(',"images":' + _dump(dict(file_name=images.file_names, id=images.ids)))
        f.write(',"pseudo_annotations":{"image_id":' + _dump(image_ids) + ',"bbox":')
        _array(f, bboxes, 'bbox')
        f.write(',"knn_image_id":' + _dump([list(r) for r in knn]) + ',"knn_bbox_pair":')
        _array(f, pairs, 'knn_bbox_pair')
        f.write('}}')
    return path
