"""Finished-step markers of the toy benchmark: a step that finished is never run again.

Each step leaves ``WORK_DIR/done/<step>.json`` (written atomically, last) holding what it
produced and how long it took. A step killed before its marker is written runs again; the steps
themselves resume (``tools/train.py --resume`` restarts from the last epoch checkpoint, the
offline tools skip finished chunks), so a kill costs at most the epoch or chunk in progress.
"""
import glob
import json
import os.path as osp
import re
import time
from typing import Callable, Dict, List, Optional

from mmvisrep.utils.atomic_io import atomic_write_text

_NAME = re.compile(r'^[A-Za-z0-9_.\-/]+$')


class StepCache:
    """Markers of finished steps under ``work_dir/done/``."""

    def __init__(self, work_dir: str, log: Callable[[str], None] = print):
        self.root = osp.join(work_dir, 'done')
        self.log = log

    def marker(self, step: str) -> str:
        if not _NAME.match(step) or '..' in step:
            raise ValueError(f'bad step name {step!r}')
        return osp.join(self.root, step + '.json')

    def get(self, step: str) -> Optional[Dict]:
        """The payload of a finished step, else None (a damaged marker counts as unfinished)."""
        path = self.marker(step)
        if not osp.isfile(path):
            return None
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            self.log(f'[toy_benchmark] marker {path} is unreadable: running {step} again')
            return None

    def probed_seeds(self) -> List[int]:
        """The seeds that have at least one finished probe step (``probe/.../seed<N>/...``)."""
        found = set()
        for path in glob.glob(osp.join(self.root, 'probe', '*', '*', 'seed*')):
            match = re.fullmatch(r'seed(\d+)', osp.basename(path))
            if match:
                found.add(int(match.group(1)))
        return sorted(found)

    def run(self, step: str, fn: Callable[[], Optional[Dict]]) -> Dict:
        """Return the cached payload of ``step``, or run ``fn`` and cache what it returns."""
        cached = self.get(step)
        if cached is not None:
            self.log(f'[toy_benchmark] skip {step} (finished in {cached["seconds"]:.0f} s)')
            return cached
        self.log(f'[toy_benchmark] run {step}')
        start = time.time()
        payload = dict(fn() or {})
        payload['seconds'] = round(time.time() - start, 1)
        payload['finished'] = time.strftime('%Y-%m-%d %H:%M:%S')
        atomic_write_text(json.dumps(payload, indent=1, sort_keys=True), self.marker(step))
        return payload
