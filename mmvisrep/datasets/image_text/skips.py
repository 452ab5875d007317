"""Skipped-sample accounting shared by the image-text datasets: nothing is dropped silently.

Every skip is counted per reason in the process that sees it (a dataloader worker has its own
counts); the first ``max_reported`` skips of each reason are logged one by one with where they
come from, later ones as running totals at every tenfold and every ``every`` skips.
"""
import logging
from collections import Counter
from typing import Callable, Optional

from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log

UNREADABLE_IMAGE = 'unreadable image'
EMPTY_CAPTION = 'empty caption'
MISSING_PAIR = 'missing pair'
MALFORMED_RECORD = 'malformed record'
MALFORMED_CAPTION = 'malformed caption'
UNREADABLE_SHARD = 'unreadable shard'
PIPELINE_NONE = 'dropped by the pipeline'


class SkipCounter:
    """Counts and logs skipped samples per reason (see the module docstring).

    Args:
        owner (str): Name put at the start of every log line.
        max_reported (int): Skips of one reason logged one by one. Defaults to 20.
        every (int): After that, log the running total every this many skips (and at
            every power of ten). Defaults to 1000.
    """

    def __init__(self, owner: str, max_reported: int = 20, every: int = 1000):
        self.owner = owner
        self.max_reported = int(max_reported)
        self.every = max(int(every), 1)
        self.counts: Counter = Counter()

    def add(self, reason: str, where: str = '', detail: str = '') -> None:
        """Count one skipped sample and log it (or the running total)."""
        self.counts[reason] += 1
        num = self.counts[reason]
        if num <= self.max_reported:
            more = (f' (only totals are logged from now on, every {self.every} and at each '
                    'power of ten)' if num == self.max_reported else '')
            text = f'{self.owner}: skipped a sample ({reason}) at {where or "?"}'
            print_log(
                text + (f': {detail}' if detail else '') + more,
                logger='current',
                level=logging.WARNING)
        elif num % self.every == 0 or _is_power_of_ten(num):
            print_log(
                f'{self.owner}: {num} samples skipped so far in this process ({reason})',
                logger='current',
                level=logging.WARNING)

    def total(self) -> int:
        return int(sum(self.counts.values()))

    def summary(self, counts: Optional[Counter] = None) -> str:
        """``'2 unreadable image, 1 empty caption'`` (``'none'`` when nothing was skipped)."""
        counts = self.counts if counts is None else counts
        items = [f'{n} {reason}' for reason, n in sorted(counts.items()) if n]
        return ', '.join(items) if items else 'none'


def _is_power_of_ten(num: int) -> bool:
    while num >= 10 and num % 10 == 0:
        num //= 10
    return num == 1


def run_pipeline_skipping_unreadable(transforms, results: dict, counter: SkipCounter,
                                     where: str) -> Optional[dict]:
    """Apply ``transforms`` in order; an image loader that raises or returns None -> None.

    Only the image-loading transforms (mmcv ``LoadImageFromFile`` and subclasses) are
    guarded: their failure is an unreadable or missing image, counted under
    ``UNREADABLE_IMAGE`` with ``where`` and the error. Errors of any other transform propagate.
    A transform returning None (mmengine's "skip this sample") is counted too.
    """
    for transform in transforms:
        if isinstance(transform, LoadImageFromFile):
            try:
                out = transform(results)
            except Exception as e:  # noqa: B902 -- any decoder/file error means unreadable
                counter.add(UNREADABLE_IMAGE, where,
                            f'{results.get("img_path")}: {type(e).__name__}: {e}')
                return None
            if out is None:
                counter.add(UNREADABLE_IMAGE, where, f'{results.get("img_path")}: no image')
                return None
        else:
            out = transform(results)
            if out is None:
                counter.add(PIPELINE_NONE, where, f'{type(transform).__name__} returned None')
                return None
        results = out
    return results


class SkipUnreadableMixin:
    """``prepare_data`` for map-style ``BaseDataset`` subclasses: an unreadable image is
    counted and logged, and the sample is replaced by mmengine's refetch of another index; in
    ``test_mode`` it raises instead, naming the sample (evaluation must not lose samples).

    The class needs ``self.skips`` (a ``SkipCounter``) and ``self.sample_source(idx)``.
    """

    sample_source: Callable[[int], str]

    def prepare_data(self, idx: int):
        info = self.get_data_info(idx)
        where = info.get('ann_source') or self.sample_source(idx)
        out = run_pipeline_skipping_unreadable(self.pipeline.transforms, info, self.skips, where)
        if out is None and self.test_mode:
            raise ValueError(f'{type(self).__name__}: sample {idx} ({where}, image '
                             f'{info.get("img_path")}) could not be loaded in test mode; see the '
                             'warning logged just before')
        return out
