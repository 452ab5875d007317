"""tools/train.py --resume: resume when the work dir has a checkpoint, else keep load_from."""
import importlib.util
import sys
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]


def _merge(monkeypatch, argv, cfg_dict):
    spec = importlib.util.spec_from_file_location('mmvisrep_train_tool', REPO / 'tools/train.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, 'argv', ['train.py', 'cfg.py', *argv])
    return tool.merge_args(Config(cfg_dict), tool.parse_args())


def test_auto_resume_on_fresh_work_dir_keeps_load_from(monkeypatch, tmp_path):
    cfg = _merge(monkeypatch, ['--work-dir', str(tmp_path / 'new'), '--resume'],
                 dict(load_from='soco_mmdet.pth'))
    assert cfg.resume is False and cfg.load_from == 'soco_mmdet.pth'


def test_auto_resume_picks_the_latest_checkpoint(monkeypatch, tmp_path):
    ckpt = tmp_path / 'epoch_3.pth'
    ckpt.write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(ckpt))
    cfg = _merge(monkeypatch, ['--work-dir', str(tmp_path), '--resume'],
                 dict(load_from='soco_mmdet.pth'))
    assert cfg.resume is True and cfg.load_from == str(ckpt)


def test_explicit_resume_path(monkeypatch, tmp_path):
    cfg = _merge(monkeypatch,
                 ['--work-dir', str(tmp_path), '--resume', 'x/epoch_1.pth'], dict(load_from=None))
    assert cfg.resume is True and cfg.load_from == 'x/epoch_1.pth'
