"""Pieces shared by the resumable, sharded offline tools (proposals, ORL stage 2).

Each tool stamps its files with a ``meta`` dict (inputs and parameters) and resumes only from
files whose stamp matches; each shows a per-image progress bar that starts at the resumed count.
"""
from typing import Optional

from tqdm import tqdm


def meta_mismatch(found: dict, expected: dict) -> Optional[str]:
    """Why a file stamped ``found`` is not from the run ``expected`` describes, else None.

    The reason reads ``key: <found value> there, <expected value> now`` for the first key of
    ``expected`` whose value differs (a missing key counts as None).
    """
    for key, value in expected.items():
        if found.get(key) != value:
            return f'{key}: {found.get(key)!r} there, {value!r} now'
    return None


def progress_bar(total: int, desc: str, progress: bool = True, initial: int = 0) -> tqdm:
    """tqdm bar over ``total`` images, ``initial`` of them already done (resumed)."""
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit='img',
        disable=not progress,
        dynamic_ncols=True)
