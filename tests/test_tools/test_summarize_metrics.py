"""summarize_metrics reads the last validation metrics across resumed run folders."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tools' / 'analysis_tools'))
from summarize_metrics import last_metrics  # noqa: E402


def _write_run(work_dir, stamp, records):
    path = work_dir / stamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_last_metrics_spans_resumed_runs(tmp_path):
    _write_run(tmp_path, '20260101_000000', [
        dict(loss=1.0, step=1),
        dict(**{'coco/bbox_mAP': 0.1}, step=1),
    ])
    # the resumed run validates again: its value wins; training lines are ignored
    _write_run(tmp_path, '20260101_010000', [
        dict(loss=0.5, step=2),
        dict(**{'coco/bbox_mAP': 0.3}, step=2),
    ])
    metrics = last_metrics(str(tmp_path))
    assert metrics['coco/bbox_mAP'] == pytest.approx(0.3)
    assert 'loss' not in metrics


def test_cli_table_and_errors(tmp_path):
    _write_run(tmp_path / 'a', '20260101_000000', [dict(**{'mIoU': 41.5}, step=3)])
    script = REPO / 'tools/analysis_tools/summarize_metrics.py'
    out = subprocess.run(
        [sys.executable, str(script), f'ours={tmp_path / "a"}', '--keys', 'mIoU'],
        capture_output=True,
        text=True,
        check=True).stdout
    assert out.splitlines()[1].split() == ['ours', '41.5000']
    missing = subprocess.run(
        [sys.executable,
         str(script), str(tmp_path / 'a'), '--keys', 'coco/bbox_mAP'],
        capture_output=True,
        text=True)
    assert missing.returncode != 0 and "['coco/bbox_mAP'] were not logged" in missing.stderr
    empty = subprocess.run(
        [sys.executable, str(script), str(tmp_path), '--keys', 'mIoU'],
        capture_output=True,
        text=True)
    assert empty.returncode != 0 and 'no */vis_data/scalars.json' in empty.stderr
