"""Files of the proposal tool: atomic JSON writes, shard and chunk paths, listing of image sources.

All writes go to a temporary file in the target directory followed by ``os.replace``, so a killed
run leaves either the previous file or the new one, never a truncated one.
"""
import contextlib
import json
import os
import os.path as osp
import re
import tempfile
from typing import Iterable, List, Optional, Tuple

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')
SHARD_DIR = 'shards'
_SHARD_RE = re.compile(r'^shard-(\d{5})-of-(\d{5})\.json$')


@contextlib.contextmanager
def atomic_open(path: str):
    """Write to a temporary sibling of ``path``, ``os.replace``d onto ``path`` on success.

    On any error (or a kill) the temporary file is removed or left aside, never ``path`` itself.
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=osp.basename(path) + '.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'w') as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(text: str, path: str) -> str:
    """Write ``text`` to ``path`` through a temporary sibling file and ``os.replace``."""
    with atomic_open(path) as f:
        f.write(text)
    return path


def atomic_write_json(obj, path: str) -> str:
    """JSON-dump ``obj`` to ``path`` atomically (compact separators, as the official files)."""
    return atomic_write_text(json.dumps(obj, separators=(',', ':')), path)


def atomic_write_json_items(items: Iterable[Tuple[str, object]], path: str) -> str:
    """Stream ``(key, value)`` pairs into one JSON object at ``path`` atomically.

    Used for the raw proposal file, which can be far larger than what fits in memory as Python
    lists when every shard is loaded at once.
    """
    with atomic_open(path) as f:
        f.write('{')
        for i, (key, value) in enumerate(items):
            f.write(('' if i == 0 else ',') + json.dumps(key) + ':' +
                    json.dumps(value, separators=(',', ':')))
        f.write('}')
    return path


def load_json(path: str, what: str = 'file'):
    """Load a JSON file; a missing or corrupt one raises an error naming it."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{what} {path} is not valid JSON: {err}') from err


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


def _check_unique(pairs: List[Tuple[str, str]], source: str) -> List[Tuple[str, str]]:
    """Sort ``(key, path)`` pairs by key and refuse two images with the same key."""
    pairs = sorted(pairs)
    for (k1, p1), (k2, p2) in zip(pairs, pairs[1:]):
        if k1 == k2:
            raise ValueError(f'{source}: images {p1} and {p2} share the key {k1!r} (basename '
                             'without extension); SoCo proposal files need unique basenames')
    if not pairs:
        raise ValueError(f'{source}: no images found')
    return pairs


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


def list_coco(ann_file: str, img_dir: Optional[str] = None) -> List[Tuple[str, str]]:
    """``(key, path)`` of the ``images`` of a COCO json (``file_name`` relative to ``img_dir``)."""
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
    return _check_unique(pairs, f'COCO annotation file {ann_file}')


def _list_line_path(line: str) -> str:
    """Path of one file-list line: ``path``, ``path<TAB>label`` or ``path label`` (int label)."""
    if '\t' in line:
        return line.split('\t', 1)[0].strip()
    parts = line.rsplit(None, 1)
    if len(parts) == 2 and re.fullmatch(r'-?\d+', parts[1]):
        return parts[0]
    return line


def list_file_list(file_list: str, img_dir: Optional[str] = None) -> List[Tuple[str, str]]:
    """``(key, path)`` of a text list: one image per line, optionally followed by a label.

    Covers SoCo's ``train_map.txt`` (``path<TAB>label``) and mmpretrain's ``path label`` lists.
    Paths are relative to ``img_dir`` when given.
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
    return _check_unique(pairs, f'image file list {file_list}')


def list_images(img_dir: Optional[str] = None,
                ann_file: Optional[str] = None,
                file_list: Optional[str] = None) -> List[Tuple[str, str]]:
    """Images of one of the three sources, as ``(key, path)`` sorted by key."""
    if ann_file is not None and file_list is not None:
        raise ValueError('give either an annotation file or a file list, not both')
    if img_dir is not None and not osp.isdir(img_dir):
        raise FileNotFoundError(f'image directory not found: {img_dir}')
    if ann_file is not None:
        return list_coco(ann_file, img_dir)
    if file_list is not None:
        return list_file_list(file_list, img_dir)
    if img_dir is None:
        raise ValueError('no image source: give an image directory, a COCO annotation file '
                         'or a file list')
    return list_image_dir(img_dir)
