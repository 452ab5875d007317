"""Tests of the toy-scene generator, its on-disk formats and ToySceneStuffDataset."""
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmvisrep.datasets.toy_scenes import (COCOSTUFF_STUFF_NAMES, STUFF_CLASSES, STUFF_NAMES,
                                          THING_NAMES, cocostuff_label_id, generate_toy_scenes,
                                          stuffthingmap_values)
from mmvisrep.datasets.toy_scenes.text import TRACE_BAND

REPO = Path(__file__).resolve().parents[2]
NUM = dict(train=12, val=6)  # tests/conftest.py TOY_SCENES_ARGS
SIZE = 128
COLOUR_WORDS = ('red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'cyan')
NUMBER_WORDS = ('no', 'one', 'two', 'three', 'four', 'five', 'six')
SINGULAR = {'crosses': 'cross', **{n + 's': n for n in THING_NAMES if n != 'cross'}}


class LocalizedNarrative(NamedTuple):
    """The record type of the official Localized Narratives loader (7 fields, no more)."""

    dataset_id: str
    image_id: str
    annotator_id: int
    caption: str
    timed_caption: list
    traces: list
    voice_recording: str


def _digests(root: Path):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def _stuff_map(root, split, image_id):
    path = root / 'stuffthingmaps' / f'{split}2017' / f'{image_id:012d}.png'
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert label is not None, path
    return label


def _load(root, name):
    with open(root / 'annotations' / name) as f:
        return json.load(f)


def test_cocostuff_ids_match_the_official_label_list():
    assert len(COCOSTUFF_STUFF_NAMES) == 91
    assert cocostuff_label_id('banner') == 92 and cocostuff_label_id('wood') == 182
    expected = {
        'grass': 124,
        'sky-other': 157,
        'sand': 154,
        'sea': 155,
        'wall-brick': 171,
        'snow': 159,
        'dirt': 111,
        'floor-wood': 118
    }
    assert {s['name']: s['cocostuff_id'] for s in STUFF_CLASSES} == expected
    with pytest.raises(KeyError, match='not a COCO-Stuff stuff class'):
        cocostuff_label_id('lava')
    assert len(THING_NAMES) >= 8 and len(set(THING_NAMES)) == len(THING_NAMES)


def test_layout_and_file_names(toy_scenes):
    ids = dict(train=list(range(1, 13)), val=list(range(13, 19)))
    for split in ('train', 'val'):
        jpgs = sorted(p.name for p in (toy_scenes / f'{split}2017').iterdir())
        pngs = sorted(p.name for p in (toy_scenes / 'stuffthingmaps' / f'{split}2017').iterdir())
        assert jpgs == [f'{i:012d}.jpg' for i in ids[split]]
        assert pngs == [f'{i:012d}.png' for i in ids[split]]
        img = cv2.imread(str(toy_scenes / f'{split}2017' / jpgs[0]))
        assert img.shape == (SIZE, SIZE, 3)
    names = sorted(p.name for p in (toy_scenes / 'annotations').iterdir())
    assert names == [
        'captions_train2017.json', 'captions_val2017.json',
        'coco_train_localized_narratives.jsonl', 'coco_val_localized_narratives.jsonl',
        'instances_train2017.json', 'instances_val2017.json'
    ]
    assert not list(toy_scenes.rglob('*.tmp'))


def test_deterministic_for_a_seed(toy_scenes, tmp_path):
    again = generate_toy_scenes(tmp_path / 'again', 12, 6, 128, 0)
    assert _digests(again) == _digests(toy_scenes)
    # An image depends on (seed, split, index) only, not on how many images are generated.
    short = generate_toy_scenes(tmp_path / 'short', 3, 1, 128, 0)
    for i in (1, 2, 3):
        name = f'train2017/{i:012d}.jpg'
        assert (short / name).read_bytes() == (toy_scenes / name).read_bytes()
    other = generate_toy_scenes(tmp_path / 'other', 3, 1, 128, 1)
    for i in (1, 2, 3):
        name = f'train2017/{i:012d}.jpg'
        assert (other / name).read_bytes() != (toy_scenes / name).read_bytes()
        png = f'stuffthingmaps/train2017/{i:012d}.png'
        assert (other / png).read_bytes() != (toy_scenes / png).read_bytes()


@pytest.mark.parametrize('split', ['train', 'val'])
def test_instances_polygons_match_stuffthingmaps(toy_scenes, split):
    raw = _load(toy_scenes, f'instances_{split}2017.json')
    assert set(raw) == {'info', 'licenses', 'images', 'annotations', 'categories'}
    coco = COCO(str(toy_scenes / 'annotations' / f'instances_{split}2017.json'))
    assert len(coco.getImgIds()) == NUM[split]
    assert [(c['id'], c['name'])
            for c in raw['categories']] == list(enumerate(THING_NAMES, start=1))
    assert all(c['supercategory'] for c in raw['categories'])
    assert len(raw['annotations']) >= NUM[split]
    assert len({a['id'] for a in raw['annotations']}) == len(raw['annotations'])
    ious = []
    for img in raw['images']:
        assert img['file_name'] == f"{img['id']:012d}.jpg"
        assert (img['height'], img['width']) == (SIZE, SIZE)
        label = _stuff_map(toy_scenes, split, img['id'])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img['id']]))
        assert 1 <= len(anns) <= 6
        union = defaultdict(lambda: np.zeros((SIZE, SIZE), bool))
        area = defaultdict(float)
        for ann in anns:
            assert ann['iscrowd'] == 0 and isinstance(ann['segmentation'], list)
            assert all(len(p) >= 6 and len(p) % 2 == 0 for p in ann['segmentation'])
            mask = coco.annToMask(ann).astype(bool)
            # area is the visible area, and the polygons rasterise to that many pixels
            assert mask.sum() == pytest.approx(ann['area'], rel=0.01)
            ys, xs = np.nonzero(mask)
            x, y, w, h = ann['bbox']
            assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
            union[ann['category_id']] |= mask
            area[ann['category_id']] += ann['area']
        for cat_id, mask in union.items():
            ref = label == cat_id - 1
            ious.append((mask & ref).sum() / (mask | ref).sum())
            assert ref.sum() == area[cat_id]  # areas consistent with the map, pixel for pixel
        # thing values in the map belong to annotated categories only
        things = {int(v) for v in np.unique(label) if v < 91}
        assert things == {c - 1 for c in union}
    assert min(ious) > 0.99 and np.mean(ious) > 0.999


def test_occlusion_and_small_objects_are_resolved(toy_scenes):
    """Visible masks of one image never overlap; some objects are partly hidden."""
    coco = COCO(str(toy_scenes / 'annotations' / 'instances_train2017.json'))
    occluded = 0
    for img_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id]))
        masks = np.stack([coco.annToMask(a) for a in anns]).astype(int)
        assert masks.sum(0).max() == 1
        occluded += sum(len(a['segmentation']) > 1 for a in anns)
        assert min(a['area'] for a in anns) >= 0.0015 * SIZE * SIZE
    assert occluded > 0  # at least one object is split into pieces by an occluder


def test_mmdet_coco_dataset_loads_instances(toy_scenes):
    import mmdet.utils
    from mmdet.registry import DATASETS
    mmdet.utils.register_all_modules(init_default_scope=False)
    raw = _load(toy_scenes, 'instances_train2017.json')
    dataset = DATASETS.build(
        dict(
            type='CocoDataset',
            _scope_='mmdet',
            data_root=str(toy_scenes),
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            metainfo=dict(classes=THING_NAMES),
            test_mode=False,
            filter_cfg=None,
            pipeline=[]))
    assert len(dataset) == 12
    num_instances = sum(len(dataset[i]['instances']) for i in range(len(dataset)))
    assert num_instances == len(raw['annotations'])
    first = dataset[0]
    assert Path(first['img_path']) == toy_scenes / 'train2017' / '000000000001.jpg'
    anns = [a for a in raw['annotations'] if a['image_id'] == first['img_id']]
    for inst, ann in zip(first['instances'], anns):
        x, y, w, h = ann['bbox']
        assert inst['bbox'] == [x, y, x + w, y + h]
        assert inst['bbox_label'] == ann['category_id'] - 1
        assert inst['mask'] == ann['segmentation']


@pytest.mark.parametrize('split', ['train', 'val'])
def test_captions(toy_scenes, split):
    caps = _load(toy_scenes, f'captions_{split}2017.json')
    inst = _load(toy_scenes, f'instances_{split}2017.json')
    assert caps['images'] == inst['images']
    coco = COCO(str(toy_scenes / 'annotations' / f'captions_{split}2017.json'))
    assert len(coco.getAnnIds()) == 5 * NUM[split]
    label_of = {}
    checked = 0
    for img in inst['images']:
        texts = [a['caption'] for a in coco.loadAnns(coco.getAnnIds(imgIds=[img['id']]))]
        assert len(texts) == 5 and len(set(texts)) == 5
        assert all(t[0].isupper() and t.endswith('.') for t in texts)
        anns = [a for a in inst['annotations'] if a['image_id'] == img['id']]
        names = [THING_NAMES[a['category_id'] - 1] for a in anns]
        # the first caption lists every object with its colour
        objects_part = texts[0].lower()
        for stuff in STUFF_CLASSES:  # 'under a blue sky' is not an object
            objects_part = objects_part.replace(stuff['phrase'], '')
        listed = []
        for num, _, word in re.findall(
                rf"\b(an?|two|three|four|five|six) ({'|'.join(COLOUR_WORDS)}) (\w+)",
                objects_part):
            count = 1 if num in ('a', 'an') else NUMBER_WORDS.index(num)
            listed += [SINGULAR.get(word, word)] * count
        assert sorted(listed) == sorted(names)
        assert any(s['phrase'] in texts[0] for s in STUFF_CLASSES)
        # relations agree with the centroids, checked where both classes occur once
        label_of[img['id']] = _stuff_map(toy_scenes, split, img['id'])
        for text in texts:
            m = re.match(
                r'An? \w+ (\w+) (to the left of|to the right of|above|below) an? \w+ '
                r'(\w+)', text)
            if not m or names.count(m.group(1)) != 1 or names.count(m.group(3)) != 1:
                continue
            ys_a, xs_a = np.nonzero(label_of[img['id']] == THING_NAMES.index(m.group(1)))
            ys_b, xs_b = np.nonzero(label_of[img['id']] == THING_NAMES.index(m.group(3)))
            dx, dy = xs_b.mean() - xs_a.mean(), ys_b.mean() - ys_a.mean()
            expected = (('to the left of' if dx > 0 else 'to the right of')
                        if abs(dx) >= abs(dy) else ('above' if dy > 0 else 'below'))
            assert m.group(2) == expected, text
            checked += 1
    assert checked > 0


@pytest.mark.parametrize('split', ['train', 'val'])
def test_localized_narratives(toy_scenes, split):
    inst = _load(toy_scenes, f'instances_{split}2017.json')
    boxes = defaultdict(list)
    for a in inst['annotations']:
        boxes[(a['image_id'], THING_NAMES[a['category_id'] - 1])].append(a['bbox'])
    path = toy_scenes / 'annotations' / f'coco_{split}_localized_narratives.jsonl'
    lines = path.read_text().splitlines()
    assert len(lines) == NUM[split]
    outside, mentions = 0, 0
    for line in lines:
        record = json.loads(line)
        assert list(record) == list(LocalizedNarrative._fields)
        ln = LocalizedNarrative(**record)
        assert ln.dataset_id == f'mscoco_{split}2017'
        assert ln.image_id.isdigit() and int(ln.image_id) in {i['id'] for i in inst['images']}
        assert isinstance(ln.annotator_id, int)
        assert ln.voice_recording == (f'coco_{split}/coco_{split}_{ln.image_id}_'
                                      f'{ln.annotator_id}.ogg')
        assert ln.caption == ' '.join(u['utterance'] for u in ln.timed_caption)
        starts = [u['start_time'] for u in ln.timed_caption]
        ends = [u['end_time'] for u in ln.timed_caption]
        assert all(s < e for s, e in zip(starts, ends))
        assert all(e <= s for e, s in zip(ends[:-1], starts[1:]))
        assert len(ln.traces) >= 2  # the pointer leaves the image at least once
        points = [p for seg in ln.traces for p in seg]
        assert all(set(p) == {'x', 'y', 't'} for p in points)
        t = np.array([p['t'] for p in points])
        xy = np.array([[p['x'], p['y']] for p in points])
        assert np.all(np.diff(t) > 0)
        assert np.all(xy >= -TRACE_BAND) and np.all(xy <= 1 + TRACE_BAND)
        outside += int(np.any((xy < 0) | (xy > 1)))
        image_id = int(ln.image_id)
        for u in ln.timed_caption:
            named = [n for n in THING_NAMES if re.search(rf'\b{n}\b', u['utterance'])]
            if not named:
                continue
            mentions += 1
            sel = (t >= u['start_time']) & (t <= u['end_time'])
            assert sel.sum() >= 2, u
            # every point spoken over the object lies on (the box of) an object of that class
            px = xy[sel] * SIZE
            margin = 0.05 * SIZE
            near = np.zeros(len(px), bool)
            for x, y, w, h in boxes[(image_id, named[0])]:
                near |= ((px[:, 0] >= x - margin) & (px[:, 0] <= x + w + margin)
                         & (px[:, 1] >= y - margin) & (px[:, 1] <= y + h + margin))
            assert near.all(), (ln.image_id, u)
        # every annotated object is mentioned
        n_objects = sum(a['image_id'] == image_id for a in inst['annotations'])
        assert sum(
            any(re.search(rf'\b{n}\b', u['utterance']) for n in THING_NAMES)
            for u in ln.timed_caption) == n_objects
    assert outside == NUM[split]  # some points outside [0, 1] in every narrative
    assert mentions >= NUM[split]


def test_stuffthingmaps_values(toy_scenes):
    allowed = set(range(182)) | {255}
    toy = set(stuffthingmap_values()) | {255}
    seen = set()
    for path in sorted((toy_scenes / 'stuffthingmaps').rglob('*.png')):
        label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert label.dtype == np.uint8 and label.shape == (SIZE, SIZE)
        values = {int(v) for v in np.unique(label)}
        assert values <= allowed and values <= toy
        assert (label == 255).mean() < 0.2
        seen |= values
    assert len(seen & {s['cocostuff_id'] - 1 for s in STUFF_CLASSES}) >= 4


def test_meta_lists_and_mmpretrain_custom_dataset(toy_scenes):
    from mmpretrain.registry import DATASETS
    assert (toy_scenes / 'meta' / 'classes.txt').read_text().split('\n')[:-1] == list(THING_NAMES)
    for split in ('train', 'val'):
        inst = _load(toy_scenes, f'instances_{split}2017.json')
        totals = defaultdict(lambda: np.zeros(len(THING_NAMES)))
        for a in inst['annotations']:
            totals[a['image_id']][a['category_id'] - 1] += a['area']
        lines = (toy_scenes / 'meta' / f'{split}.txt').read_text().splitlines()
        assert len(lines) == NUM[split]
        for line, img in zip(lines, inst['images']):
            rel, label = line.rsplit(' ', 1)
            assert rel == f"{split}2017/{img['file_name']}" and (toy_scenes / rel).is_file()
            assert int(label) == int(np.argmax(totals[img['id']]))
    dataset = DATASETS.build(
        dict(
            type='CustomDataset',
            _scope_='mmpretrain',
            data_root=str(toy_scenes),
            ann_file='meta/train.txt',
            data_prefix='',
            classes=str(toy_scenes / 'meta' / 'classes.txt'),
            pipeline=[]))
    assert len(dataset) == 12 and dataset.CLASSES == THING_NAMES
    info = dataset.get_data_info(0)
    assert Path(info['img_path']) == toy_scenes / 'train2017' / '000000000001.jpg'
    assert info['gt_label'] == int(lines_first_label(toy_scenes))


def lines_first_label(root):
    return (root / 'meta' / 'train.txt').read_text().splitlines()[0].rsplit(' ', 1)[1]


def test_toy_stuff_dataset_maps_values(toy_scenes):
    from mmseg.registry import DATASETS

    import mmvisrep  # noqa: F401  (registers ToySceneStuffDataset)
    dataset = DATASETS.build(
        dict(
            type='ToySceneStuffDataset',
            _scope_='mmseg',
            data_root=str(toy_scenes),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations')]))
    classes = THING_NAMES + STUFF_NAMES
    assert dataset.metainfo['classes'] == classes and len(dataset.metainfo['palette']) == 16
    assert len(dataset) == 12
    lut = np.full(256, 255, np.uint8)
    for i, raw in enumerate(stuffthingmap_values()):
        lut[raw] = i
    assert lut[123] == classes.index('grass') == 8 and lut[156] == classes.index('sky-other')
    for idx in range(len(dataset)):
        results = dataset[idx]
        image_id = int(Path(results['img_path']).stem)
        raw = _stuff_map(toy_scenes, 'train', image_id)
        assert results['img'].shape == (SIZE, SIZE, 3)
        np.testing.assert_array_equal(results['gt_seg_map'], lut[raw])
        assert set(np.unique(results['gt_seg_map'])) <= set(range(16)) | {255}
    # a value of real COCO-Stuff that the toy does not use (person = 0 is circle here; 20 is
    # 'cow') maps to 255
    assert dataset.label_map[20] == 255 and dataset.label_map[123] == 8

    val = DATASETS.build(
        dict(
            type='ToySceneStuffDataset',
            _scope_='mmseg',
            data_root=str(toy_scenes),
            data_prefix=dict(img_path='val2017', seg_map_path='stuffthingmaps/val2017'),
            metainfo=dict(classes=('circle', 'grass')),
            pipeline=[dict(type='LoadAnnotations')]))
    assert len(val) == 6 and val.metainfo['palette'] == [[220, 20, 60], [60, 150, 50]]
    assert val.label_map[0] == 0 and val.label_map[123] == 1 and val.label_map[156] == 255
    for idx in range(len(val)):
        results = val[idx]
        raw = _stuff_map(toy_scenes, 'val', int(Path(results['img_path']).stem))
        expected = np.full_like(raw, 255)
        expected[raw == 0] = 0
        expected[raw == 123] = 1
        np.testing.assert_array_equal(results['gt_seg_map'], expected)


def test_invalid_arguments(tmp_path):
    for kwargs, err, msg in [
        (dict(num_train=0), ValueError, r'num_train must be in \[1'),
        (dict(num_val=0), ValueError, r'num_val must be in \[1'),
        (dict(img_size=32), ValueError, r'img_size must be in \[64'),
        (dict(img_size=96.0), TypeError, 'img_size must be an integer'),
        (dict(seed=-1), ValueError, 'seed must be in'),
    ]:
        args = dict(num_train=1, num_val=1, img_size=64, seed=0)
        args.update(kwargs)
        with pytest.raises(err, match=msg):
            generate_toy_scenes(tmp_path / 'bad', **args)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match=f'{out} is not empty'):
        generate_toy_scenes(out, 1, 1, 64, 0)
    (out / 'train2017').mkdir()
    (out / 'train2017' / 'stale.jpg').write_bytes(b'x')
    generate_toy_scenes(out, 1, 1, 64, 0, overwrite=True)
    assert (out / 'notes.txt').read_text() == 'keep me'
    assert sorted(p.name for p in (out / 'train2017').iterdir()) == ['000000000001.jpg']
    (tmp_path / 'file').write_text('')
    with pytest.raises(NotADirectoryError, match='not a directory'):
        generate_toy_scenes(tmp_path / 'file', 1, 1, 64, 0)


def test_cli(tmp_path, capsys):
    script = REPO / 'tools' / 'data' / 'make_toy_scenes.py'
    # once through a real subprocess: the error path of a bad argument
    proc = subprocess.run(
        [sys.executable,
         str(script),
         str(tmp_path / 'bad'), '--num-train', '0', '--no-progress'],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300)
    assert proc.returncode == 2
    assert 'num_train must be in [1,' in proc.stderr
    assert not (tmp_path / 'bad').exists()
    # the success path in-process
    spec = importlib.util.spec_from_file_location('make_toy_scenes', script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([
        str(tmp_path / 'ok'), '--num-train', '2', '--num-val', '1', '--img-size', '64', '--seed',
        '3', '--no-progress'
    ])
    assert 'Wrote 2 train + 1 val toy scenes of 64px (seed 3)' in capsys.readouterr().out
    assert len(list((tmp_path / 'ok' / 'val2017').iterdir())) == 1
    with pytest.raises(SystemExit):
        module.main([str(tmp_path / 'ok'), '--num-train', '2', '--num-val', '1'])


def test_scene_style_options(tmp_path):
    """--max-objects / --radius-range bound the shapes; the style is recorded in the header;
    textures='random' draws a shape's pattern independently of its class."""
    from mmvisrep.datasets.toy_scenes.render import render_scene
    root = generate_toy_scenes(
        tmp_path / 'style',
        30,
        2,
        128,
        0,
        textures='random',
        max_objects=2,
        radius_range=(0.2, 0.25),
        progress=False)
    inst = _load(root, 'instances_train2017.json')
    per_image = defaultdict(int)
    for ann in inst['annotations']:
        per_image[ann['image_id']] += 1
    assert max(per_image.values()) <= 2
    # visible boxes are bounded by the largest drawable shape (radius 0.25 x area factor <= 1.6)
    assert max(max(a['bbox'][2:]) for a in inst['annotations']) <= 2 * 0.25 * 1.6 * 128 + 2
    assert 'textures=random, max_objects=2, radius_range=(0.2, 0.25)' in inst['info'][
        'description']
    # the default style leaves the header as it was
    assert 'textures' not in _load(
        generate_toy_scenes(tmp_path / 'd', 1, 1, 64, 0, progress=False),
        'instances_val2017.json')['info']['description']
    # the texture mode changes the pixels drawn from the same random stream
    a = render_scene(np.random.default_rng(3), 96, textures='class')
    b = render_scene(np.random.default_rng(3), 96, textures='random')
    assert not np.array_equal(a.image, b.image)
    for kwargs, msg in [(dict(textures='plaid'), 'textures must be one of'),
                        (dict(max_objects=0), 'max_objects must be in'),
                        (dict(radius_range=(0.3, 0.2)), 'radius_range must satisfy')]:
        with pytest.raises(ValueError, match=msg):
            generate_toy_scenes(tmp_path / 'bad', 1, 1, 64, 0, progress=False, **kwargs)
