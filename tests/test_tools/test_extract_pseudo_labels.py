"""tools/data/extract_pseudo_labels.py: the 10..100 label rule, the file format, and a sharded,
resumable run of a (random-weight) toy Mask R-CNN over toy scenes with a broken image."""
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from mmvisrep.datasets.pseudo_labels import (load_pseudo_labels, pad_labels, read_pseudo_labels,
                                             select_labels, write_pseudo_labels)

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'configs/benchmarks/mmdetection/toy/mask-rcnn_r18_fpn_1xb4-toy_toyscenes.py')
CLASSES = ['circle', 'square', 'triangle', 'star', 'ring', 'cross', 'hexagon', 'ellipse']


def _tool():
    spec = importlib.util.spec_from_file_location('extract_pseudo_labels',
                                                  REPO / 'tools/data/extract_pseudo_labels.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_select_labels_rule():
    scores = [0.1, 0.9, 0.3, 0.05, 0.3, 0.25]
    # three above 0.26, min 2 -> the three, by descending score, ties by index
    assert select_labels(scores, 0.26, 2, 10).tolist() == [1, 2, 4]
    # one above 0.5, min 3 -> the top 3 regardless of the threshold
    assert select_labels(scores, 0.5, 3, 10).tolist() == [1, 2, 4]
    # everything above 0.0, capped at 4
    assert select_labels(scores, 0.0, 2, 4).tolist() == [1, 2, 4, 5]
    # fewer detections than min: all of them
    assert select_labels(scores[:2], 0.95, 10, 100).tolist() == [1, 0]
    assert select_labels([], 0.2, 10, 100).tolist() == []
    with pytest.raises(ValueError, match='min_labels <= max_labels'):
        select_labels(scores, 0.2, 5, 4)


def test_pad_labels():
    labels, num = pad_labels([3, 1, 1], 5)
    assert labels.dtype == np.int64 and labels.tolist() == [3, 1, 1, -1, -1] and num == 3
    labels, num = pad_labels([3, 1, 1], 2)
    assert labels.tolist() == [3, 1] and num == 2


def test_file_format_errors(tmp_path):
    path = str(tmp_path / 'pl.json')
    info = dict(
        classes=['a', 'b'],
        score_thr=0.2,
        min_labels=1,
        max_labels=3,
        failed=[dict(key='bad.jpg', error='cannot decode')])
    images = {'x.jpg': dict(labels=[1, 0], scores=[0.9, 0.1], boxes=[[0, 0, 1, 1]] * 2)}
    write_pseudo_labels(path, info, images)
    assert read_pseudo_labels(path)['images'] == images
    assert load_pseudo_labels(path, ['x.jpg']) == {'x.jpg': [1, 0]}
    with pytest.raises(KeyError, match=r"'y.jpg' has no pseudo-labels in .*pl.json"):
        load_pseudo_labels(path, ['x.jpg', 'y.jpg'])
    with pytest.raises(KeyError, match='failed during extraction: cannot decode'):
        load_pseudo_labels(path, ['bad.jpg'])
    bad = {'x.jpg': dict(labels=[2], scores=[0.9], boxes=[[0, 0, 1, 1]])}
    with pytest.raises(ValueError, match=r"image 'x.jpg' has label 2 outside \[0, 2\)"):
        write_pseudo_labels(path, info, bad)
    bad = {'x.jpg': dict(labels=[1], scores=[0.9, 0.1], boxes=[[0, 0, 1, 1]])}
    with pytest.raises(ValueError, match="'x.jpg' has 1 labels, 2 scores"):
        write_pseudo_labels(path, info, bad)


@pytest.fixture(scope='module')
def random_detector(tmp_path_factory):
    """The toy Mask R-CNN with random weights (scores ~1/9: the min rule has to fill up)."""
    import torch
    from mmdet.apis import init_detector
    from mmengine.config import Config
    torch.manual_seed(0)
    model = init_detector(Config.fromfile(CONFIG), None, device='cpu')
    path = str(tmp_path_factory.mktemp('detector') / 'det.pth')
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=CLASSES))), path)
    return path


def test_sharded_resumable_run(toy_scenes, random_detector, tmp_path, capsys):
    tool = _tool()
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    keys = sorted(os.listdir(toy_scenes / 'train2017'))[:8]
    for k in keys:
        os.symlink(toy_scenes / 'train2017' / k, img_dir / k)
    (img_dir / 'broken.jpg').write_bytes(b'not an image')
    keys.insert(3, 'broken.jpg')
    file_list = tmp_path / 'list.txt'
    file_list.write_text(''.join(f'{k} 0\n' for k in keys))
    out = str(tmp_path / 'out' / 'pl.json')
    base = [
        'extract', CONFIG, random_detector, '--img-dir',
        str(img_dir), '--file-list',
        str(file_list), '--out', out, '--chunk-size', '2', '--batch-size', '2', '--device', 'cpu',
        '--no-progress'
    ]

    tool.main(base + ['--shard', '0/2'])
    assert 'Not merging yet' in capsys.readouterr().out and not os.path.exists(out)
    chunk0 = os.path.join(out + '.parts', 'chunk_000000.json')
    mtime = os.path.getmtime(chunk0)
    tool.main(base + ['--shard', '1/2'])
    assert 'Merged 8 images (1 failed)' in capsys.readouterr().out

    data = read_pseudo_labels(out)
    info = data['info']
    assert info['classes'] == CLASSES and info['num_images'] == 9
    assert [f['key'] for f in info['failed']] == ['broken.jpg']
    assert 'broken.jpg' in info['failed'][0]['error']
    assert sorted(data['images']) == sorted(k for k in keys if k != 'broken.jpg')
    for key, rec in data['images'].items():
        labels, scores = rec['labels'], rec['scores']
        assert 10 <= len(labels) <= 100, key
        assert all(0 <= label < len(CLASSES) for label in labels)
        assert scores == sorted(scores, reverse=True)
        # more than 10 only when they all pass 0.2; the min rule otherwise
        assert len(labels) == 10 or min(scores) >= 0.2
        assert all(w >= 0 and h >= 0 for _, _, w, h in rec['boxes'])
    assert any(rec['scores'][-1] < 0.2 for rec in data['images'].values())  # min rule used
    assert load_pseudo_labels(out, keys[:2]) == {k: data['images'][k]['labels'] for k in keys[:2]}
    with pytest.raises(KeyError, match='broken.jpg.*failed during extraction'):
        load_pseudo_labels(out, ['broken.jpg'])

    # resume: a finished shard is skipped, its chunks untouched
    tool.main(base + ['--shard', '0/2', '--no-merge'])
    assert 'already finished' in capsys.readouterr().out
    assert os.path.getmtime(chunk0) == mtime
    # another threshold on the same output is refused, naming the file and the difference
    with pytest.raises(SystemExit) as exc:
        tool.main(base + ['--shard', '0/2', '--score-thr', '0.3'])
    assert exc.value.code == 2
    assert 'score_thr: 0.2 there, 0.3 now' in capsys.readouterr().err

    # max rule: threshold 0 keeps everything the detector returns, capped at 5
    out5 = str(tmp_path / 'out5.json')
    file_list.write_text(''.join(f'{k}\n' for k in keys[:2]))
    args = [out5 if a == out else a for a in base]
    args += ['--score-thr', '0', '--min-labels', '0', '--max-labels', '5']
    tool.main(args)
    with open(out5) as f:
        data5 = json.load(f)
    assert [len(r['labels']) for r in data5['images'].values()] == [5, 5]
    # the same detector, so the top 5 are the first 5 of the 0.2 run (its top 10)
    for key, rec in data5['images'].items():
        assert rec['scores'] == data['images'][key]['scores'][:5]
