"""ORL stage-3 data: box augmentation invariants, patch crops, the correspondence json reader
(official layout, fallbacks, errors) and the six packed views of the stage-3 pipeline."""
import json
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, TRANSFORMS

import mmvisrep  # noqa: F401
from mmvisrep.datasets.transforms.orl_patches import augment_box, box_iou_xywh, crop_patch

REPO = Path(__file__).resolve().parents[2]
TOY_STAGE3 = REPO / 'configs/orl/stage3/orl_resnet18_1xb32-toy-coslr-10e_toyscenes.py'

init_default_scope('mmpretrain')


def write_toy_correspondence(toy_root, out_path, num_knn=10, drop_boxes_of=(), no_pairs_of=()):
    """A correspondence json in the official layout from the toy scenes' ground-truth boxes.

    Intra RoIs are an image's GT boxes; its kNN are the other images sharing most categories
    (ties by index); a (query, neighbour) pair lists every same-category GT box pair. Images
    in ``drop_boxes_of`` get no intra box, those in ``no_pairs_of`` no pair at all.
    """
    coco = json.loads((Path(toy_root) / 'annotations/instances_train2017.json').read_text())
    images = coco['images']
    index = {img['id']: i for i, img in enumerate(images)}
    anns = [[] for _ in images]
    for ann in coco['annotations']:
        anns[index[ann['image_id']]].append((ann['category_id'], ann['bbox']))
    cats = [{c for c, _ in a} for a in anns]
    knn, pairs = [], []
    for i in range(len(images)):
        others = sorted((j for j in range(len(images)) if j != i),
                        key=lambda j: (-len(cats[i] & cats[j]), j))[:num_knn]
        knn.append(others)
        pairs.append([[
            list(bq) + list(bk) for cq, bq in anns[i] for ck, bk in anns[j]
            if cq == ck and i not in no_pairs_of
        ] for j in others])
    data = dict(
        info=dict(knn_image_num=num_knn, intra_bbox_num=100, knn_bbox_pair_ratio=0.1),
        images=dict(
            file_name=[img['file_name'] for img in images], id=[img['id'] for img in images]),
        pseudo_annotations=dict(
            image_id=[img['id'] for img in images],
            bbox=[[] if i in drop_boxes_of else [b for _, b in a] for i, a in enumerate(anns)],
            knn_image_id=knn,
            knn_bbox_pair=pairs))
    Path(out_path).write_text(json.dumps(data))
    return Path(out_path)


# --------------------------------------------------------------------------- box augmentation
def test_box_iou_hand_computed():
    assert box_iou_xywh([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
    assert box_iou_xywh([0, 0, 10, 10], [2, 2, 5, 5]) == pytest.approx(25 / 100)
    assert box_iou_xywh([0, 0, 4, 4], [4, 0, 4, 4]) == 0.
    assert box_iou_xywh([0, 0, 0, 4], [0, 0, 0, 4]) == 0.


def test_augment_box_follows_the_official_draws():
    """One attempt by hand: area x U(0.5, 2), log-uniform aspect, centre shift, rounding."""
    box, img_w, img_h = [40., 30., 20., 10.], 200, 100
    draws = np.random.RandomState(3)
    s = draws.uniform(0.5, 2.)
    r = np.exp(draws.uniform(np.log(0.5), np.log(2.)))
    dx, dy = draws.uniform(-0.5, 0.5), draws.uniform(-0.5, 0.5)
    w, h = int(round(np.sqrt(200 * s * r))), int(round(np.sqrt(200 * s / r)))
    x, y = int(round(50 + dx * 20 - w / 2)), int(round(35 + dy * 10 - h / 2))
    out, ok = augment_box(box, img_w, img_h, iou_thr=None, rng=np.random.RandomState(3))
    assert ok and out.tolist() == [x, y, w, h]


def test_augment_box_invariants():
    """Accepted boxes lie inside the image, overlap > 0.5 and respect the scale/aspect/shift
    ranges (up to rounding); a rejected draw returns the input box unchanged."""
    rng = np.random.RandomState(0)
    accepted = 0
    for _ in range(400):
        img_w, img_h = rng.randint(40, 300, size=2)
        w, h = rng.randint(8, img_w + 1), rng.randint(8, img_h + 1)
        box = np.array([rng.randint(0, img_w - w + 1),
                        rng.randint(0, img_h - h + 1), w, h],
                       dtype=np.float32)
        out, ok = augment_box(box, img_w, img_h, rng=rng)
        if not ok:
            np.testing.assert_array_equal(out, box)
            continue
        accepted += 1
        x, y, bw, bh = out
        assert x >= 0 and y >= 0 and x + bw <= img_w and y + bh <= img_h
        assert box_iou_xywh(out, box) > 0.5
        assert bw >= 1 and bh >= 1 and out.tolist() == [int(v) for v in out]
        # area x [0.5, 2] and aspect in [0.5, 2], each up to the +-0.5 px size rounding
        area = (np.sqrt(w * h * 0.5) - 1)**2, (np.sqrt(w * h * 2.) + 1)**2
        assert area[0] - 1e-6 <= bw * bh <= area[1] + 1e-6
        assert (bw - .5) / (bh + .5) <= 2. + 1e-6 and (bw + .5) / (bh - .5) >= 0.5 - 1e-6
        # centre moved by at most half the box (+ rounding)
        assert abs((x + bw / 2) - (box[0] + w / 2)) <= 0.5 * w + 1
        assert abs((y + bh / 2) - (box[1] + h / 2)) <= 0.5 * h + 1
    assert accepted > 300


def test_augment_box_falls_back_when_impossible():
    # the box fills the image: only boxes not larger can be inside, and none reaches IoU 0.99
    box = [0, 0, 50, 50]
    out, ok = augment_box(box, 50, 50, iou_thr=0.99, attempt_num=50, rng=np.random.RandomState(0))
    assert not ok and out.tolist() == box


# --------------------------------------------------------------------------- patch crops
def test_crop_patch_is_the_box_resized_bilinear():
    img = np.random.RandomState(0).randint(0, 256, (60, 80, 3), dtype=np.uint8)
    # same size: exactly the box pixels
    np.testing.assert_array_equal(crop_patch(img, [10, 5, 32, 32], 32), img[5:37, 10:42])
    # resized: PIL bilinear of the crop (the official TF.resized_crop)
    from PIL import Image
    expected = np.asarray(Image.fromarray(img[5:45, 10:30]).resize((16, 16), Image.BILINEAR))
    np.testing.assert_array_equal(crop_patch(img, [10, 5, 20, 40], 16), expected)
    # boxes past the border are clipped to the image, never empty
    assert crop_patch(img, [70, 50, 30, 30], 8).shape == (8, 8, 3)
    np.testing.assert_array_equal(crop_patch(img, [70, 50, 30, 30], 10), img[50:60, 70:80])


def test_sample_roi_pairs_and_fallbacks():
    img = np.zeros((50, 60, 3), np.uint8)
    knn_img = np.zeros((40, 30, 3), np.uint8)
    t = TRANSFORMS.build(dict(type='ORLSampleRoIPairs'))
    intra = np.array([[5, 5, 20, 20], [30, 10, 20, 30]], np.float32)
    pairs = np.array([[1, 2, 10, 10, 3, 4, 12, 12]], np.float32)
    res = t(dict(img=img, knn_img=knn_img, intra_boxes=intra, knn_box_pairs=pairs))
    assert any((res['ibox1'] == b).all() for b in intra)
    assert box_iou_xywh(res['ibox1'], res['ibox2']) > 0.5
    assert res['kbox1'].tolist() == [1, 2, 10, 10] and res['kbox2'].tolist() == [3, 4, 12, 12]
    res = t(
        dict(
            img=img,
            knn_img=knn_img,
            intra_boxes=np.zeros((0, 4), np.float32),
            knn_box_pairs=np.zeros((0, 8), np.float32)))
    assert res['ibox1'].tolist() == [0, 0, 60, 50]
    assert res['kbox1'].tolist() == [0, 0, 60, 50] and res['kbox2'].tolist() == [0, 0, 30, 40]
    assert {'no_intra_box', 'no_inter_pair'} <= set(res['orl_fallbacks'])


# --------------------------------------------------------------------------- dataset
def _dataset(ann_file, toy_scenes, pipeline=(), **kwargs):
    return DATASETS.build(
        dict(
            type='ORLDataset',
            data_root=str(toy_scenes),
            ann_file=str(ann_file),
            data_prefix='train2017/',
            pipeline=list(pipeline),
            **kwargs))


def test_dataset_records_and_neighbour_draw(toy_scenes, tmp_path):
    ann = write_toy_correspondence(toy_scenes, tmp_path / 'corr.json')
    ds = _dataset(ann, toy_scenes)
    data = json.loads(ann.read_text())
    assert len(ds) == 12
    info = ds.get_data_info(3)
    assert info['img_path'].endswith('train2017/' + data['images']['file_name'][3])
    np.testing.assert_array_equal(info['intra_boxes'], data['pseudo_annotations']['bbox'][3])
    assert info['knn_ids'].tolist() == data['pseudo_annotations']['knn_image_id'][3]
    assert ds.orl_stats['images'] == 12
    # uniform over the 10 neighbours that have pairs
    full = [j for j, p in enumerate(info['knn_box_pairs']) if len(p)]
    rng = np.random.RandomState(0)
    counts = np.bincount([ds._choose_neighbour(info, rng) for _ in range(3000)], minlength=10)
    assert set(np.flatnonzero(counts)) == set(full)
    if len(full) == 10:
        assert counts.min() > 3000 / 10 * 0.8


def test_dataset_fallbacks_counted(toy_scenes, tmp_path):
    ann = write_toy_correspondence(
        toy_scenes, tmp_path / 'corr.json', drop_boxes_of=(0, ), no_pairs_of=(1, ))
    data = json.loads(ann.read_text())
    # image 2: only its 4th neighbour keeps pairs -> every draw lands there
    pa = data['pseudo_annotations']
    keep = pa['knn_bbox_pair'][2][3] or [[0, 0, 8, 8, 0, 0, 8, 8]]
    pa['knn_bbox_pair'][2] = [[] for _ in range(10)]
    pa['knn_bbox_pair'][2][3] = keep
    ann.write_text(json.dumps(data))
    ds = _dataset(ann, toy_scenes)
    stats = ds.orl_stats
    assert stats['images without intra boxes (whole image used)'] == 1
    assert stats['images without any RoI pair (whole images used)'] == 1
    empty = sum(1 for i in range(12) for p in ds.get_data_info(i)['knn_box_pairs'] if not len(p))
    assert stats['neighbours without RoI pairs (redrawn)'] == empty >= 19
    rng = np.random.RandomState(1)
    assert {ds._choose_neighbour(ds.get_data_info(2), rng) for _ in range(50)} == {3}

    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadORLNeighbour'),
        dict(type='ORLSampleRoIPairs')
    ]
    ds = _dataset(ann, toy_scenes, pipeline)
    res0, res1 = ds.prepare_data(0), ds.prepare_data(1)
    assert res0['ibox1'].tolist() == [0, 0, 128, 128] and 'no_intra_box' in res0['orl_fallbacks']
    assert 'no_inter_pair' in res1['orl_fallbacks']
    assert res1['kbox2'].tolist() == [0, 0, 128, 128]
    assert res0['knn_img'].shape == (128, 128, 3)


def test_dataset_errors(toy_scenes, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        _dataset(tmp_path / 'missing.json', toy_scenes)
    ann = write_toy_correspondence(toy_scenes, tmp_path / 'corr.json')
    good = json.loads(ann.read_text())

    def broken(edit, match, **kwargs):
        data = json.loads(json.dumps(good))
        edit(data['pseudo_annotations'])
        path = tmp_path / 'broken.json'
        path.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=match):
            _dataset(path, toy_scenes, **kwargs)

    broken(lambda pa: pa['bbox'].pop(), 'must be aligned')
    broken(lambda pa: pa['knn_image_id'][4].__setitem__(2, 99), r'record 4 .*\[0, 12\)')
    broken(lambda pa: pa['bbox'][5].append([1, 2, 3]), r'record 5 .*bbox: .*of 4 numbers')
    broken(lambda pa: pa['knn_bbox_pair'][6][0].append([1] * 7), r'record 6 .*knn_bbox_pair\[0\]')
    broken(lambda pa: pa['knn_image_id'][7].pop(), r'record 7 .*topk_knn=10')
    broken(lambda pa: pa.pop('knn_bbox_pair'), 'pseudo_annotations.knn_bbox_pair')
    with pytest.raises(ValueError, match='exceeds info.knn_image_num'):
        _dataset(ann, toy_scenes, topk_knn=11)
    # a missing image names the record when the sample is loaded
    data = json.loads(json.dumps(good))
    data['images']['file_name'][2] = 'nope.jpg'
    path = tmp_path / 'missing_image.json'
    path.write_text(json.dumps(data))
    ds = _dataset(path, toy_scenes, [dict(type='LoadImageFromFile')])
    with pytest.raises(FileNotFoundError, match='record 2 .*nope.jpg'):
        ds.prepare_data(2)
    # ... and so does a missing kNN image, with the query's record
    data['pseudo_annotations']['knn_image_id'][0] = [2] * 10
    path.write_text(json.dumps(data))
    ds = _dataset(path, toy_scenes,
                  [dict(type='LoadImageFromFile'),
                   dict(type='LoadORLNeighbour')])
    with pytest.raises(FileNotFoundError, match=r'record 0 .*kNN image .*nope.jpg'):
        ds.prepare_data(0)


def test_toy_pipeline_packs_six_views(toy_scenes, tmp_path):
    """The toy stage-3 config's pipeline: 2 x 64 px global views + 4 x 32 px patches, in the
    order the ORL model expects; with no colour/flip, the patches are the chosen boxes."""
    ann = write_toy_correspondence(toy_scenes, tmp_path / 'corr.json')
    cfg = Config.fromfile(str(TOY_STAGE3))
    ds = _dataset(ann, toy_scenes, cfg.train_dataloader.dataset.pipeline)
    out = ds[5]
    shapes = [tuple(x.shape) for x in out['inputs']]
    assert shapes == [(3, 64, 64)] * 2 + [(3, 32, 32)] * 4
    assert all(x.dtype == torch.uint8 for x in out['inputs'])

    # geometry only: the four patches are the crops of ibox1, ibox2, kbox1 (query), kbox2 (kNN)
    views = cfg.orl_views
    plain = dict(
        views,
        transforms=[views.transforms[0][:1], views.transforms[1][:1]] +
        [t[:1] for t in views.transforms[2:]])
    pipeline = cfg.train_dataloader.dataset.pipeline[:3] + [plain]
    ds = _dataset(ann, toy_scenes, pipeline)
    np.random.seed(0)
    res = ds.prepare_data(5)
    query = mmcv.imread(res['img_path'])
    knn = mmcv.imread(res['knn_img_path'])
    for view, src, key in zip(res['img'][2:], (query, query, query, knn),
                              ('ibox1', 'ibox2', 'kbox1', 'kbox2')):
        np.testing.assert_array_equal(view, crop_patch(src, res[key], 32))
    # kbox2 is a GT box of the drawn neighbour, kbox1 one of the query's
    data = json.loads(ann.read_text())
    nn_boxes = data['pseudo_annotations']['bbox'][res['knn_idx']]
    assert res['kbox2'].tolist() in nn_boxes
    assert res['kbox1'].tolist() in data['pseudo_annotations']['bbox'][5]
