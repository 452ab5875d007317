"""SVL pretraining data: COCO-Stuff map loading (LUT = mmseg's), the description-aware flip,
resize/crop alignment of image and map, pseudo-labels, caption truncation and the toy dataset
config delivering SemanticVLP's data contract."""
import importlib.util
import json
from pathlib import Path

import mmseg
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from PIL import Image

import mmvisrep  # noqa: F401  (registers the transforms)
from mmvisrep.datasets.pseudo_labels import write_pseudo_labels
from mmvisrep.datasets.toy_scenes.classes import COCOSTUFF_STUFF_NAMES
from mmvisrep.datasets.transforms.caption_tokenize import TokenizeCaption
from mmvisrep.datasets.transforms.svl import (COCOSTUFF_ABSENT_VALUES, DescriptionAwareFlip,
                                              LoadPseudoLabels, LoadStuffMap, PackStuffMap,
                                              cocostuff_lut, table_cache_path)

REPO = Path(__file__).resolve().parents[2]
VOCAB = str(REPO / 'tests/data/bert_vocab')
TOY_CONFIG = REPO / 'configs/_base_/datasets/toy_scenes_svl.py'


def _mmseg_converter_table():
    path = Path(mmseg.__file__).parent / '.mim/tools/dataset_converters/coco_stuff164k.py'
    if not path.is_file():
        pytest.skip(f'mmseg converter not installed with the package: {path}')
    spec = importlib.util.spec_from_file_location('mmseg_coco_stuff164k', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.clsID_to_trID


def _png(path, array, mode='L'):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8), mode=mode).save(path)
    return str(path)


# ---------------------------------------------------------------------------------------------
# COCO-Stuff maps
# ---------------------------------------------------------------------------------------------
def test_lut_matches_mmseg_converter_and_class_names():
    from mmseg.datasets import COCOStuffDataset
    table = _mmseg_converter_table()
    lut = cocostuff_lut()
    for raw in range(182):
        expected = table.get(raw, 255)  # the converter leaves the 11 absent values out
        assert lut[raw] == expected, raw
    assert sorted(set(range(182)) - set(table)) == list(COCOSTUFF_ABSENT_VALUES)
    assert lut[255] == 255 and sorted(set(lut[:182].tolist()) - {255}) == list(range(171))
    # stuff values 91..181 are the stuff names in mmseg's class list order (classes 80..170)
    classes = COCOStuffDataset.METAINFO['classes']
    assert len(classes) == 171
    for i, name in enumerate(COCOSTUFF_STUFF_NAMES):
        assert classes[lut[91 + i]] == name
    # things: person (0) -> 0, dining table (66) -> 60, toothbrush (89) -> 79
    assert [classes[lut[v]] for v in (0, 2, 16, 66, 89)] == \
        ['person', 'car', 'cat', 'dining table', 'toothbrush']
    with_unlabeled = cocostuff_lut(unlabeled_as_class=True)
    assert with_unlabeled[255] == 171 and (with_unlabeled[:182] == lut[:182]).all()


def test_load_stuff_map_values_paths_and_errors(tmp_path):
    raw = np.array([[0, 11, 12, 181], [90, 91, 255, 66]], np.uint8)
    _png(tmp_path / 'maps/train2017/000000000001.png', raw)
    img = np.zeros((2, 4, 3), np.uint8)
    results = dict(
        img=img, img_shape=(2, 4), img_path=str(tmp_path / 'train2017/000000000001.jpg'))
    out = LoadStuffMap(
        stuff_map_prefix=str(tmp_path / 'maps'), img_prefix=str(tmp_path))(
            dict(results))
    assert out['gt_seg_map'].dtype == np.uint8
    assert out['gt_seg_map'].tolist() == [[0, 255, 11, 170], [255, 80, 255, 60]]
    assert out['seg_fields'] == ['gt_seg_map']
    assert out['stuff_map_path'] == str(tmp_path / 'maps/train2017/000000000001.png')
    # unlabeled as a 172nd class
    out = LoadStuffMap(
        stuff_map_prefix=str(tmp_path / 'maps'), img_prefix=str(tmp_path),
        unlabeled_as_class=True)(
            dict(results))
    assert out['gt_seg_map'][1, 2] == 171
    # basename layout and an explicit path field
    _png(tmp_path / 'flat/000000000001.png', raw)
    out = LoadStuffMap(stuff_map_prefix=str(tmp_path / 'flat'))(dict(results))
    assert out['gt_seg_map'][0, 3] == 170
    out = LoadStuffMap()(dict(results, stuff_map_path=str(tmp_path / 'flat/000000000001.png')))
    assert out['gt_seg_map'][0, 3] == 170
    # an indexed (palette) PNG reads as its indices, not its colours
    pal = Image.fromarray(raw, mode='P')
    pal.putpalette([(7 * i) % 256 for i in range(768)])
    pal.save(tmp_path / 'pal.png')
    out = LoadStuffMap()(dict(results, stuff_map_path=str(tmp_path / 'pal.png')))
    assert out['gt_seg_map'].tolist() == [[0, 255, 11, 170], [255, 80, 255, 60]]

    # out-of-range values: error names the file and the values
    bad = raw.copy()
    bad[0, 0], bad[1, 1] = 200, 182
    bad_path = _png(tmp_path / 'bad/000000000001.png', bad)
    with pytest.raises(
            ValueError, match=r'bad/000000000001\.png has values outside .*\[182, 200\]'):
        LoadStuffMap(stuff_map_prefix=str(tmp_path / 'bad'))(dict(results))
    # an RGB file is not a label map
    Image.fromarray(np.zeros((2, 4, 3), np.uint8)).save(bad_path)
    with pytest.raises(ValueError, match='not a one-channel label PNG'):
        LoadStuffMap(stuff_map_prefix=str(tmp_path / 'bad'))(dict(results))
    # missing map: no silent skip
    with pytest.raises(FileNotFoundError, match=r'nowhere/000000000001\.png'):
        LoadStuffMap(stuff_map_prefix=str(tmp_path / 'nowhere'))(dict(results))
    # a map of another size than the image
    with pytest.raises(ValueError, match='is 4x2 but the image'):
        LoadStuffMap(stuff_map_prefix=str(tmp_path / 'flat'))(dict(results, img_shape=(3, 4)))
    with pytest.raises(ValueError, match='is not inside'):
        LoadStuffMap(
            stuff_map_prefix=str(tmp_path / 'maps'), img_prefix=str(tmp_path / 'x'))(
                dict(results))


def test_pack_stuff_map():
    img = np.zeros((4, 5, 3), np.uint8)
    seg = np.full((4, 5), 7, np.uint8)
    out = PackStuffMap()(dict(img=img, gt_seg_map=seg, seg_fields=['gt_seg_map']))
    assert out['has_stuff_map'] is True and 'gt_seg_map' not in out
    assert out['stuff_map'].dtype == torch.uint8 and out['stuff_map'].shape == (4, 5)
    assert out['seg_fields'] == []
    out = PackStuffMap()(dict(img=img))
    assert out['has_stuff_map'] is False and 'stuff_map' not in out
    with pytest.raises(ValueError, match='differ'):
        PackStuffMap()(dict(img=img, gt_seg_map=seg[:3]))


# ---------------------------------------------------------------------------------------------
# Description-aware flip
# ---------------------------------------------------------------------------------------------
def test_flip_blocked_by_direction_words_and_rate_otherwise():
    flip = DescriptionAwareFlip(prob=0.5)
    for text in ('A dog on the left.', 'Top-right corner', 'a LEFT-HAND glove',
                 'the rightmost cup', 'turning clockwise', 'Right.'):
        assert flip.blocked(text), text
    for text in ('a bright light', 'the leftover pizza', 'a lefty pitcher', 'copyright sign'):
        assert not flip.blocked(text), text

    img = np.zeros((2, 3, 3), np.uint8)
    np.random.seed(0)
    for i in range(300):
        out = flip(dict(img=img, caption=f'shape {i} on the left of the image'))
        assert out['flip'] is False and out['flip_direction'] is None
    assert flip.counts['blocked'] == 300 and flip.counts['flipped'] == 0
    n = 2000
    flipped = sum(flip(dict(img=img, caption='a red circle on grass'))['flip'] for _ in range(n))
    assert flip.counts['flipped'] == flipped and flip.counts['seen'] == 300 + n
    # binomial(2000, 0.5): sd 22; 4.5 sd bounds
    assert 900 < flipped < 1100
    # reproducible with the seed
    np.random.seed(0)
    again = DescriptionAwareFlip(prob=0.5)
    first = [again(dict(img=img, caption='x'))['flip'] for _ in range(50)]
    np.random.seed(0)
    assert [again(dict(img=img, caption='x'))['flip'] for _ in range(50)] == first
    # custom words
    custom = DescriptionAwareFlip(prob=1.0, words=['east', 'west'])
    assert custom(dict(img=img, caption='the west side'))['flip'] is False
    assert custom(dict(img=img, caption='on the left'))['flip'] is True
    with pytest.raises(ValueError, match='lower-case letters'):
        DescriptionAwareFlip(words=['Left'])
    with pytest.raises(KeyError, match='caption'):
        flip(dict(img=img))


def test_flip_moves_image_and_map_together():
    h, w = 4, 6
    seg = np.tile(np.arange(w, dtype=np.uint8), (h, 1))  # label = column
    img = np.stack([seg * 40, seg * 0 + 1, seg + 100], axis=-1).astype(np.uint8)
    out = DescriptionAwareFlip(prob=1.0)(
        dict(img=img.copy(), gt_seg_map=seg.copy(), caption='a circle'))
    assert out['flip'] is True
    assert (out['img'] == img[:, ::-1]).all() and (out['gt_seg_map'] == seg[:, ::-1]).all()
    assert (out['img'][..., 0] == out['gt_seg_map'] * 40).all()  # still aligned
    out = DescriptionAwareFlip(prob=1.0)(
        dict(img=img.copy(), gt_seg_map=seg.copy(), caption='a circle on the right'))
    assert (out['img'] == img).all() and (out['gt_seg_map'] == seg).all()


# ---------------------------------------------------------------------------------------------
# Random resize + crop + pad keep image and map aligned
# ---------------------------------------------------------------------------------------------
PALETTE = np.array([[10, 200, 30], [250, 5, 60], [90, 90, 220], [0, 160, 160], [200, 200, 0]],
                   np.uint8)


def _geometric(crop, interpolation):
    from mmpretrain.registry import TRANSFORMS
    return Compose([
        TRANSFORMS.build(t) for t in [
            dict(type='DescriptionAwareFlip', prob=0.5),
            dict(
                type='RandomResize',
                scale=(crop * 5 // 3, crop),
                ratio_range=(0.8, 1.2),
                keep_ratio=True,
                interpolation=interpolation),
            dict(type='mmseg.RandomCrop', crop_size=crop),
            dict(type='Pad', size=(crop, crop), pad_val=dict(img=0, seg=255)),
            dict(type='PackStuffMap'),
        ]
    ])


@pytest.mark.parametrize('shape', [(48, 80), (30, 26)])
def test_resize_crop_pad_keep_alignment(shape):
    rng = np.random.default_rng(1)
    h, w = shape
    seg = np.zeros((h, w), np.uint8)  # blocks of labels 0..4, the colour encodes the label
    ys, xs = sorted(rng.integers(5, h - 5, 2)), sorted(rng.integers(5, w - 5, 2))
    seg[:ys[0], xs[0]:] = 1
    seg[ys[0]:ys[1], :xs[1]] = 2
    seg[ys[1]:, xs[0]:xs[1]] = 3
    seg[:ys[0] // 2, :xs[0] // 2] = 4
    img = PALETTE[seg]
    crop = 32
    np.random.seed(3)
    pipeline = _geometric(crop, 'nearest')
    num_padded = 0
    for _ in range(20):
        out = pipeline(
            dict(
                img=img.copy(),
                gt_seg_map=seg.copy(),
                seg_fields=['gt_seg_map'],
                img_shape=seg.shape,
                caption='shapes'))
        smap = out['stuff_map'].numpy()
        assert out['img'].shape == (crop, crop, 3) and smap.shape == (crop, crop)
        valid = smap != 255
        # every labelled pixel shows its label's colour; every padded pixel is black
        assert (out['img'][valid] == PALETTE[smap[valid]]).all()
        assert (out['img'][~valid] == 0).all()
        # keep_ratio resize: shorter side = crop x U(0.8, 1.2); padded iff it is below crop
        sw, sh = out['scale_factor']
        assert abs(sw - sh) < 0.05
        short = min(round(h * sh), round(w * sw))
        assert 0.8 * crop - 1 <= short <= 1.2 * crop + 1
        assert bool((~valid).any()) == (short < crop)
        num_padded += short < crop
    assert 0 < num_padded < 20
    # the bilinear image resize of the configs: aligned up to label borders
    np.random.seed(4)
    out = _geometric(crop, 'bilinear')(
        dict(
            img=img.copy(),
            gt_seg_map=seg.copy(),
            seg_fields=['gt_seg_map'],
            img_shape=seg.shape,
            caption='shapes'))
    smap = out['stuff_map'].numpy()
    valid = smap != 255
    close = np.abs(out['img'][valid].astype(int) - PALETTE[smap[valid]]).max(-1) < 8
    assert close.mean() > 0.85


# ---------------------------------------------------------------------------------------------
# Pseudo-labels
# ---------------------------------------------------------------------------------------------
def _write_labels(path, images, failed=()):
    info = dict(
        classes=['circle', 'square', 'triangle'],
        score_thr=0.2,
        min_labels=1,
        max_labels=100,
        failed=[dict(key=k, error='cannot decode') for k in failed])
    recs = {
        k: dict(labels=v, scores=[0.9] * len(v), boxes=[[0, 0, 1, 1]] * len(v))
        for k, v in images.items()
    }
    write_pseudo_labels(str(path), info, recs)
    return str(path)


def test_load_pseudo_labels(tmp_path):
    path = _write_labels(
        tmp_path / 'pl.json', {
            'a/1.jpg': [2, 0, 0],
            '2.jpg': [],
            'b/3.jpg': [1] * 7
        },
        failed=['4.jpg'])
    load = LoadPseudoLabels(path, data_prefix=str(tmp_path / 'imgs'), max_labels=5)
    out = load(dict(img_path=str(tmp_path / 'imgs/a/1.jpg')))
    assert out['pseudo_labels'].dtype == torch.int64
    assert out['pseudo_labels'].tolist() == [2, 0, 0, -1, -1] and out['num_pseudo_labels'] == 3
    out = load(dict(img_path=str(tmp_path / 'imgs/2.jpg')))
    assert out['pseudo_labels'].tolist() == [-1] * 5 and out['num_pseudo_labels'] == 0
    out = load(dict(img_path=str(tmp_path / 'imgs/b/3.jpg')))  # 7 labels, 5 kept
    assert out['pseudo_labels'].tolist() == [1] * 5 and out['num_pseudo_labels'] == 5
    # the compact cache next to the file, reused by a new instance (preload)
    assert Path(table_cache_path(path)).is_file()
    again = LoadPseudoLabels(path, data_prefix=str(tmp_path / 'imgs'), preload=True)
    assert again(dict(img_path=str(tmp_path / 'imgs/a/1.jpg')))['num_pseudo_labels'] == 3
    # missing images: KeyError naming the file and the image (+ the extraction error)
    with pytest.raises(KeyError, match=r"'c/5\.jpg' has no pseudo-labels in .*pl\.json.*rerun"):
        load(dict(img_path=str(tmp_path / 'imgs/c/5.jpg')))
    with pytest.raises(KeyError, match='failed during extraction: cannot decode'):
        load(dict(img_path=str(tmp_path / 'imgs/4.jpg')))
    with pytest.raises(ValueError, match='is not inside'):
        load(dict(img_path=str(tmp_path / 'elsewhere/1.jpg')))
    paths = [str(tmp_path / f'imgs/{k}') for k in ('a/1.jpg', 'x.jpg', '2.jpg', 'x.jpg', 'y.jpg')]
    assert load.check(paths) == paths[1:2] + paths[4:]
    # a stale cache (file rewritten) is rebuilt
    _write_labels(tmp_path / 'pl.json', {'a/1.jpg': [1]})
    fresh = LoadPseudoLabels(path, data_prefix=str(tmp_path / 'imgs'))
    assert fresh(dict(img_path=str(tmp_path / 'imgs/a/1.jpg')))['pseudo_labels'][:2].tolist() \
        == [1, -1]
    with pytest.raises(FileNotFoundError, match='nothere.json'):
        LoadPseudoLabels(str(tmp_path / 'nothere.json'))(dict(img_path='1.jpg'))


def test_long_captions_truncated_and_counted():
    tok = TokenizeCaption(dict(type='AutoTokenizer', name_or_path=VOCAB), max_length=12)
    short = tok(dict(caption='a red circle on grass'))
    assert short['attention_mask'].sum() == 7 and not tok.drops.counts['captions truncated']
    long = ('a large yellow circle on the left of the image on sand by the sea under a blue sky '
            'and a green ellipse')
    out = tok(dict(caption=long))
    assert out['input_ids'].shape == (12, ) and out['attention_mask'].sum() == 12
    assert out['input_ids'][-1] == tok.tokenizer.sep_token_id
    tok(dict(caption=long))
    assert tok.drops.counts['captions truncated'] == 2


# ---------------------------------------------------------------------------------------------
# The toy dataset config end to end
# ---------------------------------------------------------------------------------------------
def _replace(obj, old, new):
    if isinstance(obj, dict):
        return {k: _replace(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_replace(v, old, new) for v in obj)
    if isinstance(obj, str) and obj.startswith(old):
        return new + obj[len(old):]
    return obj


def _caption_tool():
    spec = importlib.util.spec_from_file_location('svl_caption_lists',
                                                  REPO / 'tools/data/svl_caption_lists.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_toy_config_builds_and_delivers_the_model_contract(toy_scenes, tmp_path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpretrain.registry import DATASETS

    from mmvisrep.models.algorithms.semantic_vlp import SemanticVLP
    init_default_scope('mmpretrain')
    root = str(toy_scenes) + '/'
    # the map-less part's caption list (the tool) and the toy detector's labels (faked)
    jsonl = str(tmp_path / 'svl_captions_train2017.jsonl')
    _caption_tool().main([
        'coco-captions',
        str(toy_scenes / 'annotations/captions_train2017.json'), '--out', jsonl, '--no-progress'
    ])
    captions = json.loads((toy_scenes / 'annotations/captions_train2017.json').read_text())
    files = [img['file_name'] for img in captions['images']]
    rng = np.random.default_rng(0)
    labels = {f: rng.integers(0, 3, rng.integers(0, 6)).tolist() for f in files}
    label_file = _write_labels(tmp_path / 'pseudo_labels.json', labels)

    cfg = Config.fromfile(str(TOY_CONFIG))
    assert cfg.crop_size == 128 and cfg.max_length == 40
    assert set(cfg.svl_algorithm_keys) == {
        'input_ids', 'attention_mask', 'stuff_map', 'has_stuff_map', 'pseudo_labels',
        'num_pseudo_labels'
    }
    loader_cfg = cfg.train_dataloader.to_dict()
    loader_cfg = _replace(loader_cfg, 'data/toy_scenes/pseudo_labels/train2017.json', label_file)
    loader_cfg = _replace(loader_cfg, 'meta/svl_captions_train2017.jsonl', jsonl)
    loader_cfg = _replace(loader_cfg, 'data/toy_scenes/', root)
    loader_cfg['dataset'] = _replace(loader_cfg['dataset'], 'tests/data/bert_vocab', VOCAB)
    dataset = DATASETS.build(loader_cfg['dataset'])
    n_map, n_nomap = (len(d) for d in dataset.datasets)
    assert n_map == len(files) and n_nomap == len(captions['annotations'])

    np.random.seed(0)
    with_map = dataset[0]['data_samples']
    without = dataset[n_map]['data_samples']
    crop = cfg.crop_size
    for sample in (with_map, without):
        assert dataset[0]['inputs'].shape == (3, crop, crop)
        assert sample.input_ids.shape == (40, ) and sample.attention_mask.shape == (40, )
        key = Path(sample.img_path).name
        num = sample.num_pseudo_labels
        assert sample.pseudo_labels[:num].tolist() == labels[key]
        assert (sample.pseudo_labels[num:] == -1).all()
    assert with_map.has_stuff_map is True and with_map.stuff_map.shape == (crop, crop)
    values = set(with_map.stuff_map.unique().tolist())
    assert values <= set(range(171)) | {255} and len(values - {255}) >= 2
    assert without.has_stuff_map is False and 'stuff_map' not in without
    # the same picture has the same img_path in both parts (the ITM image identity)
    paths = {dataset[i]['data_samples'].img_path for i in range(n_map)}
    assert dataset[n_map]['data_samples'].img_path in paths

    loader_cfg.update(num_workers=0, persistent_workers=False, batch_size=6)
    loader_cfg['dataset'] = dataset
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batch = next(iter(loader))
    samples = batch['data_samples']
    assert len(samples) == 6 and batch['inputs'].shape == (6, 3, crop, crop)  # one view
    maps = SemanticVLP.stuff_maps(samples)
    assert [m is not None for m in maps] == [bool(s.has_stuff_map) for s in samples]
    model = SemanticVLP.__new__(SemanticVLP)  # only the (stateless) field readers are used
    got = SemanticVLP.pseudo_labels(model, samples, torch.device('cpu'))
    assert [g.tolist() for g in got] == [labels[Path(s.img_path).name] for s in samples]
    groups = SemanticVLP.image_groups(samples, torch.device('cpu'))
    assert groups.shape == (6, )
