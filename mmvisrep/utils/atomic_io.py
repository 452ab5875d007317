"""Atomic file writes shared by the offline tools (proposals, ORL stage 2, SVM caches).

Every write goes to a temporary sibling of the target followed by ``os.replace``, so a killed run
leaves either the previous file or the new one, never a truncated one. Files get the usual
permissions (0666 minus the umask), not ``mkstemp``'s private 0600.
"""
import contextlib
import json
import os
import os.path as osp
import tempfile
from typing import Iterable, Tuple

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'w'):
    """Write to a temporary sibling of ``path``, ``os.replace``d onto ``path`` on success.

    On any error (or a kill) the temporary file is removed or left aside, never ``path`` itself.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f'atomic_open writes whole files: mode must be "w" or "wb", got {mode!r}')
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=osp.basename(path) + '.', suffix='.tmp', dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as f:
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

    For files far larger than what fits in memory as Python lists.
    """
    with atomic_open(path) as f:
        f.write('{')
        for i, (key, value) in enumerate(items):
            f.write(('' if i == 0 else ',') + json.dumps(key) + ':' +
                    json.dumps(value, separators=(',', ':')))
        f.write('}')
    return path


def atomic_save_npy(array: np.ndarray, path: str) -> str:
    """``np.save`` to ``path`` atomically."""
    with atomic_open(path, 'wb') as f:
        np.save(f, np.ascontiguousarray(array))
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
