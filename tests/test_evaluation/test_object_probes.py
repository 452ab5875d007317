"""Object probes: classifiers on constructed features, RoIAlign pooling by hand, COCO loading,
the pixel-statistics reference, and the probe tool end to end on generated scenes."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mmvisrep.evaluation.probes import (ImageObjects, box_colour_features, crop_objects,
                                        extract_object_features, knn_probe, linear_probe,
                                        load_coco_objects, roi_pool_levels)

REPO = Path(__file__).resolve().parents[2]
NUM_CLASSES = 5


def _clusters(n_per_class, dim, spread, seed):
    """Features of NUM_CLASSES well-separated (spread << 1) or overlapping clusters."""
    rng = np.random.default_rng(seed)
    centres = np.eye(NUM_CLASSES, dim) * 5.0
    y = np.repeat(np.arange(NUM_CLASSES), n_per_class)
    x = centres[y] + spread * rng.standard_normal((len(y), dim))
    return x.astype(np.float32), y


@pytest.mark.parametrize('probe', [linear_probe, knn_probe])
def test_separable_features_give_100(probe):
    x, y = _clusters(20, 16, 0.1, 0)
    tx, ty = _clusters(30, 16, 0.1, 1)
    assert probe(x, y, tx, ty)['accuracy'] == 100.0


@pytest.mark.parametrize('probe', [linear_probe, knn_probe])
def test_random_labels_give_chance(probe):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 32)).astype(np.float32)
    tx = rng.standard_normal((2000, 32)).astype(np.float32)
    y = rng.integers(0, NUM_CLASSES, 300)
    ty = rng.integers(0, NUM_CLASSES, 2000)
    acc = probe(x, y, tx, ty)['accuracy']
    # chance is 20 %; 2000 test samples give a binomial std of 0.9 %
    assert 15.0 < acc < 25.0


def test_linear_probe_picks_c_on_training_folds_only():
    x, y = _clusters(20, 16, 0.1, 0)
    tx, ty = _clusters(30, 16, 0.1, 1)
    out = linear_probe(x, y, tx, ty, cs=(0.1, 1.0))
    assert set(out['cv_accuracy']) == {'0.1', '1.0'}
    # the test labels do not move the choice: shuffled test labels give the same C
    shuffled = linear_probe(x, y, tx, np.random.default_rng(0).permutation(ty), cs=(0.1, 1.0))
    assert shuffled['C'] == out['C'] and shuffled['cv_accuracy'] == out['cv_accuracy']
    assert shuffled['accuracy'] < 50.0


def test_probes_are_deterministic():
    x, y = _clusters(20, 16, 3.0, 0)
    tx, ty = _clusters(30, 16, 3.0, 1)
    assert linear_probe(x, y, tx, ty) == linear_probe(x, y, tx, ty)
    assert knn_probe(x, y, tx, ty) == knn_probe(x, y, tx, ty)


def test_knn_weighted_vote_by_hand():
    # one test point; neighbours at cosine 1.0 (class 0) and 0.8, 0.8 (class 1):
    # exp(1 / 0.1) = 22026 > 2 exp(8) = 5962 -> class 0 with k = 3
    train = np.array([[1.0, 0.0], [0.8, 0.6], [0.8, -0.6], [-1.0, 0.0]])
    labels = np.array([0, 1, 1, 2])
    test = np.array([[1.0, 0.0]])
    # centring by the training mean (0.4, 0) moves the test point to (0.6, 0): same ranking
    out = knn_probe(train, labels, test, np.array([0]), k=3, temperature=0.1)
    assert out['accuracy'] == 100.0
    # a large temperature makes it a plain majority vote among the 3: class 1
    out = knn_probe(train, labels, test, np.array([1]), k=3, temperature=100.0)
    assert out['accuracy'] == 100.0


def test_probe_input_errors():
    x, y = _clusters(4, 8, 0.1, 0)
    with pytest.raises(ValueError, match='feature sizes differ'):
        linear_probe(x, y, x[:, :4], y)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        knn_probe(bad, y, x, y)
    with pytest.raises(ValueError, match='at least 2 classes'):
        linear_probe(x[:4], y[:4], x, y)  # class 0 only
    with pytest.raises(ValueError, match='a class with at least 2'):
        linear_probe(x[[0, 4]], y[[0, 4]], x, y)  # one sample of each class
    # a class with a single training sample is kept (it misses some folds)
    assert linear_probe(x[:5], y[:5], x, y)['accuracy'] > 0


def test_roi_pool_levels_by_hand():
    # level 1: stride 1, channel 0 = x coordinate of the pixel centre, channel 1 = constant 3;
    # level 2: stride 2 (an 8x8 map of a 16x16 image), value = 2 * y centre in image pixels
    h = w = 16
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing='ij')
    level1 = torch.stack([xs, torch.full_like(xs, 3.0)])[None]
    ys2, _ = torch.meshgrid(torch.arange(8) * 2 + 1.0, torch.arange(8) * 2 + 1.0, indexing='ij')
    level2 = (2 * ys2)[None, None]
    boxes = [torch.tensor([[4.0, 2.0, 12.0, 10.0]])]
    out = roi_pool_levels([level1, level2], boxes, (h, w), roi_size=2)
    assert out.shape == (1, 3)
    # the mean of a linear map over the box is its value at the box centre (8, 6)
    assert torch.allclose(out[0], torch.tensor([8.0, 3.0, 12.0]), atol=1e-4)


def test_roi_pool_levels_of_a_permuted_map():
    # a ViT's token map is a (B, H, W, C) tensor permuted to (B, C, H, W): not contiguous
    tokens = torch.randn(2, 8, 8, 5)
    fmap = tokens.permute(0, 3, 1, 2)
    assert not fmap.is_contiguous()
    boxes = [torch.tensor([[0.0, 0.0, 16.0, 16.0]]), torch.tensor([[8.0, 0.0, 16.0, 8.0]])]
    out = roi_pool_levels([fmap], boxes, (16, 16), roi_size=2, keep_bins=True)
    # the 2x2 bins of the whole image are the means of the 4x4 quadrants; the second box is
    # the top-right quadrant of image 1, its bins single 2x2 blocks of cells
    expected0 = tokens[0].reshape(2, 4, 2, 4, 5).mean((1, 3)).permute(2, 0, 1).flatten()
    expected1 = tokens[1, :4, 4:].reshape(2, 2, 2, 2, 5).mean((1, 3)).permute(2, 0, 1).flatten()
    assert torch.allclose(out[0], expected0, atol=1e-5)
    assert torch.allclose(out[1], expected1, atol=1e-5)


def test_roi_pool_levels_keeps_images_apart():
    fmap = torch.stack([torch.full((1, 8, 8), 1.0), torch.full((1, 8, 8), 2.0)])
    boxes = [torch.tensor([[0.0, 0.0, 4.0, 4.0]]), torch.tensor([[2.0, 2.0, 6.0, 6.0]] * 2)]
    out = roi_pool_levels([fmap], boxes, (8, 8))
    assert out[:, 0].tolist() == [1.0, 2.0, 2.0]


def test_crop_objects_by_hand():
    img = np.random.default_rng(0).integers(0, 255, (40, 50, 3)).astype(np.uint8)
    # a square box at the crop size and margin 1: exactly its pixels
    same = crop_objects(img, np.array([[10, 12, 18, 20.0]]), size=8, margin=1.0)[0]
    assert np.array_equal(same, img[12:20, 10:18])
    # a 6x10 box at the right border: a 10 px square from x = 42, reflected beyond x = 50
    edge = crop_objects(img, np.array([[44, 30, 50, 40.0]]), size=10, margin=1.0)[0]
    assert np.array_equal(edge[:, :8], img[30:40, 42:50])
    assert np.array_equal(edge[:, 8:], img[30:40, [48, 47]])
    # margin 2 around a 4 px box doubled to 16 px: each source pixel becomes 2x2 (bilinear
    # weights 1/4, 3/4 between neighbours); on a constant image every pixel keeps its value
    flat = np.full((20, 20, 3), 7, np.uint8)
    big = crop_objects(flat, np.array([[8, 8, 12, 12.0], [0, 0, 4, 4.0]]), size=16, margin=2.0)
    assert len(big) == 2 and all(c.shape == (16, 16, 3) and (c == 7).all() for c in big)


class _MeanColourNet(torch.nn.Module):
    """A stand-in backbone: its map is the input itself, so pooled features are mean colours."""

    def __init__(self):
        super().__init__()
        self.data_preprocessor = lambda data, training: dict(
            inputs=torch.stack(data['inputs']).float())

    def extract_feat(self, inputs, stage):
        return (inputs, )


def test_extract_object_features_with_crops(tmp_path):
    import cv2
    img = np.zeros((32, 32, 3), np.uint8)
    img[4:12, 4:12] = (10, 20, 30)  # object 0
    img[20:28, 16:24] = (200, 100, 0)  # object 1
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    rec = ImageObjects(
        str(tmp_path / 'a.png'), np.array([[4, 4, 12, 12], [16, 20, 24, 28.0]], np.float32),
        np.array([0, 1]))
    feats, labels = extract_object_features(
        _MeanColourNet(), [rec], crop=dict(size=8, margin=1.0), progress=False)
    # each object is its own input covering exactly its box: the mean is its colour
    assert labels.tolist() == [0, 1]
    assert np.allclose(feats, [[10, 20, 30], [200, 100, 0]], atol=1e-3)
    # without crops the boxes are pooled from the whole image: the same values here
    plain, _ = extract_object_features(_MeanColourNet(), [rec], progress=False)
    assert np.allclose(plain, feats, atol=1e-3)


def test_box_colour_features_by_hand():
    img = np.zeros((4, 4, 3), np.uint8)
    img[:, :2] = (255, 0, 0)  # left half red, right half black
    feats = box_colour_features(img, np.array([0, 0, 4, 4.0]), bins=2)
    hist, stats = feats[:8], feats[8:]
    # bin index (r * 2 + g) * 2 + b: red -> (1, 0, 0) = 4, black -> 0
    assert hist.tolist() == [0.5, 0, 0, 0, 0.5, 0, 0, 0]
    assert np.allclose(stats, [0.5, 0, 0, 0.5, 0, 0])
    only_red = box_colour_features(img, np.array([0, 0, 2, 4.0]), bins=2)
    assert only_red[4] == 1.0


def test_load_coco_objects(toy_scenes):
    ann = toy_scenes / 'annotations' / 'instances_train2017.json'
    records = load_coco_objects(str(ann), str(toy_scenes / 'train2017'))
    coco = json.loads(ann.read_text())
    assert sum(len(r.labels) for r in records) == len(coco['annotations'])
    first = load_coco_objects(str(ann), str(toy_scenes / 'train2017'), num_images=3)
    assert [r.path for r in first] == [r.path for r in records[:3]]
    ann0 = [a for a in coco['annotations'] if a['image_id'] == 1]
    x, y, w, h = ann0[0]['bbox']
    assert np.allclose(first[0].boxes[0], [x, y, x + w, y + h])
    assert first[0].labels[0] == ann0[0]['category_id'] - 1
    with pytest.raises(ValueError, match='fewer than'):
        load_coco_objects(str(ann), str(toy_scenes / 'train2017'), num_images=1000)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_coco_objects(str(toy_scenes / 'missing.json'), '')


def test_object_probe_tool(toy_scenes, tmp_path):
    """The tool on the generated scenes: random init and the pixel reference; the same seed
    gives the same numbers."""
    config = REPO / 'configs/toy_benchmark/benchmarks/probes/object-probe_resnet18-w32_toybench.py'
    options = [
        '--cfg-options', f'object_probe.data_root={toy_scenes}/',
        'object_probe.train.ann_file=annotations/instances_train2017.json',
        'object_probe.train.num_images=12', 'object_probe.batch_size=4'
    ]
    results = []
    for name, ckpt in (('a', 'random'), ('b', 'random'), ('pix', 'pixel-stats')):
        out = tmp_path / f'{name}.json'
        subprocess.run(
            [
                sys.executable,
                str(REPO / 'tools/benchmarks/object_probe.py'),
                str(config), ckpt, '--out',
                str(out), '--no-progress'
            ] + options,
            check=True,
            cwd=REPO)
        results.append(json.loads(out.read_text()))
    a, b, pix = results
    assert a['linear'] == b['linear'] and a['knn'] == b['knn']
    assert a['num_test_objects'] == pix['num_test_objects'] > 0
    assert pix['feature_dim'] == 4**3 + 6
    assert 0.0 <= a['linear']['accuracy'] <= 100.0


def test_vit_object_crop_probe_tool(toy_scenes, tmp_path):
    """The ViT probe config: object crops through the toy ViT, 4 blocks x 192 x 3x3 bins."""
    config = REPO / ('configs/toy_benchmark/benchmarks/probes/'
                     'object-crop-probe_vit-tiny-p16_toybench.py')
    out = tmp_path / 'vit.json'
    subprocess.run([
        sys.executable,
        str(REPO / 'tools/benchmarks/object_probe.py'),
        str(config), 'random', '--out',
        str(out), '--no-progress', '--cfg-options', f'object_probe.data_root={toy_scenes}/',
        'object_probe.train.ann_file=annotations/instances_train2017.json',
        'object_probe.train.num_images=6', 'object_probe.batch_size=4'
    ],
                   check=True,
                   cwd=REPO)
    res = json.loads(out.read_text())
    assert res['feature_dim'] == 4 * 192 * 9
    assert res['num_test_objects'] > 0 and 0.0 <= res['knn']['accuracy'] <= 100.0
