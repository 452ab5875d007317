"""Files of the proposal tool: atomic JSON writes, shard and chunk paths, listing of image sources.

The atomic writers live in ``mmvisrep.utils.atomic_io`` and are re-exported here.
"""
import os
import os.path as osp
import re
from typing import List, Optional, Tuple

from mmvisrep.utils.atomic_io import atomic_open  # noqa: F401
from mmvisrep.utils.atomic_io import atomic_write_json  # noqa: F401
from mmvisrep.utils.atomic_io import atomic_write_json_items  # noqa: F401
from mmvisrep.utils.atomic_io import atomic_write_text  # noqa: F401
from mmvisrep.utils.atomic_io import load_json  # noqa: F401

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')
SHARD_DIR = 'shards'
_SHARD_RE = re.compile(r'^shard-(\d{5})-of-(\d{5})\.json$')


def shard_path(out_dir: str, index: int, num_shards: int) -> str:
    """Final file of shard ``index`` of ``num_shards``."""
    return osp.join(out_dir, SHARD_DIR, f'shard-{index:05d}-of-{num_shards:05d}.json')


def chunk_dir(out_dir: str, index: int, num_shards: int) -> str:
    """Folder of the in-progress chunk files of a shard (removed once the shard is complete)."""
    return shard_path(out_dir, index, num_shards)[:-len('.json')] + '.chunks'


def chunk_path(out_dir: str, index: int, num_shards: int, chunk: int) -> str:
    """File of chunk ``chunk`` of a shard."""
    return osp.join(chunk_dir(out_dir, index, num_shards), f'chunk-{chunk:06d}.json')


def find_shards(out_dir: str) -> List[Tuple[int, int, str]]:
    """``(index, num_shards, path)`` of every finished shard file under ``out_dir``."""
    root = osp.join(out_dir, SHARD_DIR)
    if not osp.isdir(root):
        return []
    found = []
    for name in sorted(os.listdir(root)):
        match = _SHARD_RE.match(name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), osp.join(root, name)))
    return found


def image_key(path: str) -> str:
    """Key of an image in SoCo's json: its basename without extension."""
    return osp.splitext(osp.basename(path))[0]


def _check_unique(pairs: List[Tuple[str, str]],
                  source: str,
                  sort: bool = True) -> List[Tuple[str, str]]:
    """Refuse two images with the same key; ``(key, path)`` pairs sorted by key, or in their
    given order with ``sort=False``."""
    ordered = sorted(pairs)
    for (k1, p1), (k2, p2) in zip(ordered, ordered[1:]):
        if k1 == k2:
            raise ValueError(f'{source}: images {p1} and {p2} share the key {k1!r} (basename '
                             'without extension); proposal files need unique basenames')
    if not pairs:
        raise ValueError(f'{source}: no images found')
    return ordered if sort else list(pairs)


def list_image_dir(img_dir: str, extensions=IMG_EXTENSIONS) -> List[Tuple[str, str]]:
    """``(key, path)`` of every image file below ``img_dir`` (recursive), sorted by key."""
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image directory not found: {img_dir}')
    pairs = []
    for root, dirs, files in os.walk(img_dir, followlinks=True):
        dirs.sort()
        for name in files:
            if name.lower().endswith(extensions):
                pairs.append((image_key(name), osp.join(root, name)))
    return _check_unique(pairs, f'image directory {img_dir}')


def list_coco(ann_file: str,
              img_dir: Optional[str] = None,
              sort: bool = True) -> List[Tuple[str, str]]:
    """``(key, path)`` of the ``images`` of a COCO json (``file_name`` relative to ``img_dir``),
    sorted by key or, with ``sort=False``, in the json's order."""
    data = load_json(ann_file, 'COCO annotation file')
    images = data.get('images') if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise ValueError(f'COCO annotation file {ann_file} has no "images" list')
    pairs = []
    for i, record in enumerate(images):
        name = record.get('file_name') if isinstance(record, dict) else None
        if not isinstance(name, str) or not name:
            raise ValueError(f'COCO annotation file {ann_file}: images[{i}] has no file_name '
                             f'(record {record!r})')
        path = name if img_dir is None else osp.join(img_dir, name)
        pairs.append((image_key(name), path))
    return _check_unique(pairs, f'COCO annotation file {ann_file}', sort)


def _list_line_path(line: str) -> str:
    """Path of one file-list line: ``path``, ``path<TAB>label`` or ``path label`` (int label)."""
    if '\t' in line:
        return line.split('\t', 1)[0].strip()
    parts = line.rsplit(None, 1)
    if len(parts) == 2 and re.fullmatch(r'-?\d+', parts[1]):
        return parts[0]
    return line


def list_file_list(file_list: str,
                   img_dir: Optional[str] = None,
                   sort: bool = True) -> List[Tuple[str, str]]:
    """``(key, path)`` of a text list: one image per line, optionally followed by a label.

    Covers SoCo's ``train_map.txt`` (``path<TAB>label``) and mmpretrain's ``path label`` lists.
    Paths are relative to ``img_dir`` when given. Sorted by key, or in file order with
    ``sort=False``.
    """
    if not osp.isfile(file_list):
        raise FileNotFoundError(f'image file list not found: {file_list}')
    pairs = []
    with open(file_list) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            path = _list_line_path(line)
            pairs.append((image_key(path), path if img_dir is None else osp.join(img_dir, path)))
    return _check_unique(pairs, f'image file list {file_list}', sort)


def list_images(img_dir: Optional[str] = None,
                ann_file: Optional[str] = None,
                file_list: Optional[str] = None,
                sort: bool = True) -> List[Tuple[str, str]]:
    """Images of one of the three sources, as ``(key, path)`` sorted by key; ``sort=False``
    keeps the order of a COCO json or file list (an image folder is always sorted)."""
    if ann_file is not None and file_list is not None:
        raise ValueError('give either an annotation file or a file list, not both')
    if img_dir is not None and not osp.isdir(img_dir):
        raise FileNotFoundError(f'image directory not found: {img_dir}')
    if ann_file is not None:
        return list_coco(ann_file, img_dir, sort)
    if file_list is not None:
        return list_file_list(file_list, img_dir, sort)
    if img_dir is None:
        raise ValueError('no image source: give an image directory, a COCO annotation file '
                         'or a file list')
    return list_image_dir(img_dir)
