"""VOC07 SVM benchmark: AP rule, difficult handling, low-shot sampling, cost selection, checkpoint
loading and the tool end to end on toy scenes (docs/svm_voc07.md)."""
import importlib.util
import json
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmvisrep  # noqa: F401  (registers modules, allow-lists checkpoint types)
from mmvisrep.evaluation.svm import (PROTOCOL_COSTS, build_extractor, extract_features,
                                     interpolated_ap, label_matrix, labels_from_data_info, mean_ap,
                                     normalize_features, precision_recall, run_full, run_low_shot,
                                     sample_low_shot, svm_settings, voc07_svm_ap)
from mmvisrep.evaluation.svm.benchmark import load_or_extract_features
from mmvisrep.evaluation.svm.features import build_pool
from mmvisrep.evaluation.svm.svm import build_svm, full_train_labels, low_shot_seed

REPO = Path(__file__).resolve().parents[2]
PAPER_CFG = REPO / 'configs/benchmarks/svm/resnet50_1xb32-svm-feat5_voc07.py'
TOY_CFG = REPO / 'configs/benchmarks/svm/toy/resnet18_1xb32-svm-toy_toyscenes.py'
FEW_COSTS = [1.0, 100.0, 0.0625, 2.0**-19]


def _load_tool():
    path = REPO / 'tools/benchmarks/voc07_svm.py'
    spec = importlib.util.spec_from_file_location('_tool_voc07_svm', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------ AP rule
def test_interpolated_ap_hand_computed():
    # ranks 1..5: + - - + +; precision at the positives 1, 1/2, 3/5; recall 1/3, 2/3, 1.
    # Interpolation lifts precision at recall 2/3 to 3/5: AP = (1 + 3/5 + 3/5) / 3 = 11/15.
    scores = np.array([5., 4., 3., 2., 1.])
    labels = np.array([1, 0, 0, 1, 1])
    assert voc07_svm_ap(scores, labels) == pytest.approx(11 / 15)
    # not the 11-point VOC07 AP ((4 * 1 + 7 * 3/5) / 11) and not sklearn's step-wise AP (0.7)
    from sklearn.metrics import average_precision_score
    assert average_precision_score(labels, scores) == pytest.approx(0.7)
    assert voc07_svm_ap(scores, labels) != pytest.approx((4 + 7 * 0.6) / 11)
    # order of the input does not matter, only the scores
    perm = np.array([3, 0, 4, 2, 1])
    assert voc07_svm_ap(scores[perm], labels[perm]) == pytest.approx(11 / 15)
    # + - + - +: (1 + 2/3 + 3/5) / 3 = 34/45
    assert voc07_svm_ap(scores, np.array([1, 0, 1, 0, 1])) == pytest.approx(34 / 45)
    assert voc07_svm_ap(scores, np.array([1, 1, 0, 0, 0])) == pytest.approx(1.0)
    assert voc07_svm_ap(np.array([3., 2., 1.]), np.array([0, 0, 1])) == pytest.approx(1 / 3)
    prec, rec = precision_recall(scores, labels)
    np.testing.assert_allclose(prec, [1, 1 / 2, 1 / 3, 1 / 2, 3 / 5])
    np.testing.assert_allclose(rec, [1 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    assert interpolated_ap(prec, rec) == pytest.approx(11 / 15)


def test_difficult_images_are_ignored():
    scores = np.array([9., 5., 4., 3., 2., 1.])
    labels = np.array([-1, 1, 0, 0, 1, 1])  # the top-scored image is difficult
    assert voc07_svm_ap(scores, labels) == pytest.approx(11 / 15)
    # as a negative it would count: + at ranks 2, 5, 6, interpolated precision 1/2 -> AP 1/2
    as_negative = voc07_svm_ap(scores, np.where(labels == -1, 0, labels))
    assert as_negative < 11 / 15 - 0.05
    # no positive left: undefined, and mean_ap leaves the class out and names it
    assert np.isnan(voc07_svm_ap(scores, np.array([-1, 0, 0, -1, 0, 0])))
    value, missing = mean_ap([0.5, float('nan'), 1.0], ['a', 'b', 'c'])
    assert value == pytest.approx(0.75) and missing == ['b']
    with pytest.raises(ValueError, match='differ in length'):
        voc07_svm_ap(scores, labels[:3])


def test_label_rows_from_mmpretrain_data_infos():
    # VOC: a class seen only on difficult objects is -1, present wins over difficult
    row = labels_from_data_info(dict(gt_label=[2, 0], gt_label_difficult=[2, 4]), 5)
    np.testing.assert_array_equal(row, [1, 0, 1, 0, -1])
    # CustomDataset (single dominant class): one-hot
    np.testing.assert_array_equal(labels_from_data_info(dict(gt_label=3), 4), [0, 0, 0, 1])
    with pytest.raises(ValueError, match=r'img\.jpg: gt_label 7 is outside'):
        labels_from_data_info(dict(gt_label=7, img_path='img.jpg'), 4, 'ds')
    with pytest.raises(ValueError, match='no gt_label'):
        labels_from_data_info(dict(img_path='x.jpg'), 4)


# ------------------------------------------------------------------------------------ low-shot
def _targets(num=120, num_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    t = (rng.random((num, num_classes)) < 0.3).astype(np.int8)
    t[rng.random((num, num_classes)) < 0.1] = -1  # difficult
    return t


def test_low_shot_sampling():
    t = _targets()
    k = 3
    s = sample_low_shot(t, k, low_shot_seed(0, 0, k))
    assert s.shape == t.shape
    for c in range(t.shape[1]):
        pos, neg = s[:, c] == 1, s[:, c] == 0
        assert pos.sum() == k and neg.sum() == (t.shape[1] - 1) * k
        assert np.all(t[pos, c] == 1) and np.all(t[neg, c] == 0)  # difficult never drawn
        assert np.all(s[~(pos | neg), c] == -1)
    # deterministic per seed, and the runs (and k values) are different samples
    np.testing.assert_array_equal(s, sample_low_shot(t, k, low_shot_seed(0, 0, k)))
    runs = [sample_low_shot(t, k, low_shot_seed(0, r, k)) for r in range(5)]
    assert len({r.tobytes() for r in runs}) == 5
    few = np.where(t == 1, 0, t)
    few[:, [0, 2, 3]] = t[:, [0, 2, 3]]
    few[:2, 1] = 1  # class c1 keeps two positives
    with pytest.raises(ValueError, match="class 'c1' has 2 positive training images, 3 are"):
        sample_low_shot(few, k, [0], class_names=['c0', 'c1', 'c2', 'c3'])


# ------------------------------------------------------------------------------------ SVMs
def _separable(num, num_classes, seed, dims=16):
    """One positive class per image with its own feature direction + noise (separable)."""
    rng = np.random.default_rng(seed)
    cls = np.arange(num) % num_classes
    rng.shuffle(cls)
    x = rng.normal(0, 0.2, (num, dims))
    x[np.arange(num), cls] += 3.0
    t = np.zeros((num, num_classes), np.int8)
    t[np.arange(num), cls] = 1
    return x, t


def test_normalize_features():
    x = np.array([[3., 4.], [0., 1e-3]])
    n = normalize_features(x)
    np.testing.assert_allclose(n[0], [3 / 5.00001, 4 / 5.00001])
    assert n.dtype == np.float64
    with pytest.raises(ValueError, match='not finite'):
        normalize_features(np.array([[1., np.nan]]))


def test_full_protocol_cost_selection_by_cross_validation(tmp_path):
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold

    x_tr, t_tr = _separable(60, 3, seed=0)
    x_te, t_te = _separable(30, 3, seed=1)
    t_tr[0, t_tr[0].argmax()] = -1  # a difficult training image: a negative in full training
    t_te[0, t_te[0].argmax()] = -1  # a difficult test image: ignored
    x_tr[:, 5] += np.linspace(-1, 1, 60)  # a nuisance direction
    settings = dict(costs=FEW_COSTS)
    res = run_full(x_tr, t_tr, x_te, t_te, ['a', 'b', 'c'], settings, progress=False)
    assert res['mAP'] == pytest.approx(1.0)  # separable: every class ranks perfectly
    assert res['excluded_classes'] == [] and res['skipped'] == {}

    # the CV APs are 3-fold stratified (no shuffle) sklearn APs of the benchmark's LinearSVC on
    # L2-normalised features, and the chosen cost is the first maximum in cost-list order
    full = svm_settings(settings)
    xn = normalize_features(x_tr)
    for c in range(3):
        rows, y = full_train_labels(t_tr[:, c], 'negative')
        assert rows.all() and (y == 1).sum() == (t_tr[:, c] == 1).sum()
        expected = []
        for cost in FEW_COSTS:
            aps = []
            for tr, te in StratifiedKFold(3).split(xn, y):
                clf = build_svm(cost, full).fit(xn[tr], y[tr])
                aps.append(average_precision_score(y[te], clf.decision_function(xn[te])))
            expected.append(np.mean(aps))
        np.testing.assert_allclose(res['cv_ap'][c], expected, rtol=1e-9)
        assert res['cost'][c] == FEW_COSTS[int(np.argmax(expected))]
    # the benchmark's LinearSVC
    params = build_svm(0.5, full).get_params()
    assert (params['C'], params['class_weight'], params['loss'], params['penalty']) == \
        (0.5, {1: 2.0, -1: 1.0}, 'squared_hinge', 'l2')
    assert (params['dual'], params['tol'], params['max_iter'], params['intercept_scaling']) == \
        (True, 1e-4, 2000, 1.0)
    # parallel classes (joblib processes) give the same numbers as the serial run
    par = run_full(x_tr, t_tr, x_te, t_te, ['a', 'b', 'c'], settings, n_jobs=2, progress=False)
    assert par['cv_ap'] == res['cv_ap'] and par['ap'] == res['ap']
    # difficult as ignore drops the row instead
    rows, _ = full_train_labels(t_tr[:, t_tr[0].argmin()], 'ignore')
    assert rows.sum() == 59

    # a class with too few positives for 3-fold CV is reported, not silently averaged
    t_few = t_tr.copy()
    t_few[:, 2] = 0
    t_few[:2, 2] = 1
    res2 = run_full(x_tr, t_few, x_te, t_te, ['a', 'b', 'c'], settings, progress=False)
    assert 'c' in res2['skipped'] and res2['ap'][2] is None
    assert res2['mAP'] == pytest.approx(np.mean(res2['ap'][:2]))


def test_low_shot_protocol_and_resume(tmp_path):
    x_tr, t_tr = _separable(90, 3, seed=2)
    x_te, t_te = _separable(45, 3, seed=3)
    settings = dict(costs=FEW_COSTS, low_shot=dict(k=[1, 4], runs=3, seed=7))
    cache = str(tmp_path / 'cache')
    res = run_low_shot(
        x_tr, t_tr, x_te, t_te, ['a', 'b', 'c'], settings, cache_dir=cache, progress=False)
    assert [row['k'] for row in res['table']] == [1, 4]
    mean = np.array(res['mean_map_per_cost'])
    for i, row in enumerate(res['table']):
        assert len(row['runs']) == 3
        assert row['mAP'] == pytest.approx(np.mean(row['runs']))
        # the cost of each k maximises the mean test mAP over runs (the benchmark's rule)
        assert row['cost'] == FEW_COSTS[int(np.argmax(mean[i]))]
        assert row['mAP'] == pytest.approx(mean[i].max())
        assert row['min'] <= row['mAP'] <= row['max'] <= 1
    assert res['table'][1]['mAP'] > 0.9  # well above chance (1/3) on separable features
    # each (run, k) sample is cached with its positives: 4 per class for k=4, runs differ
    saved = json.loads((tmp_path / 'cache/run0_k4.json').read_text())['result']
    assert [len(p) for p in saved['positives']] == [4, 4, 4]
    other = json.loads((tmp_path / 'cache/run1_k4.json').read_text())['result']
    assert saved['positives'] != other['positives']
    # a rerun reuses the cache and gives the same numbers; other settings recompute
    again = run_low_shot(
        x_tr, t_tr, x_te, t_te, ['a', 'b', 'c'], settings, cache_dir=cache, progress=False)
    assert again['table'] == res['table']
    with pytest.raises(ValueError, match='low-shot k=40 needs 40 positive'):
        run_low_shot(
            x_tr,
            t_tr,
            x_te,
            t_te, ['a', 'b', 'c'],
            dict(settings, low_shot=dict(k=[40])),
            progress=False)


def test_svm_settings_validation():
    s = svm_settings(None)
    assert s['costs'] == list(PROTOCOL_COSTS) and len(s['costs']) == 19
    assert s['low_shot'] == dict(k=[1, 2, 4, 8, 16, 32, 64, 96], runs=5, seed=0)
    with pytest.raises(ValueError, match='unknown SVM settings'):
        svm_settings(dict(cost=[1.0]))
    with pytest.raises(ValueError, match='difficult_in_train'):
        svm_settings(dict(difficult_in_train='positive'))


# ------------------------------------------------------------------------------------ configs
def test_configs_follow_the_protocol():
    paper, toy = Config.fromfile(str(PAPER_CFG)), Config.fromfile(str(TOY_CFG))
    assert svm_settings(paper.svm)['costs'] == list(PROTOCOL_COSTS)
    assert paper.svm.low_shot.k == [1, 2, 4, 8, 16, 32, 64, 96] and paper.svm.low_shot.runs == 5
    assert paper.train_dataloader.dataset.split == 'trainval'
    assert paper.test_dataloader.dataset.split == 'test'
    assert paper.train_dataloader.sampler.shuffle is False
    # the toy config changes sizes and data only
    assert toy.model.backbone.depth == 18 and toy.model.backbone.type == 'ResNet'
    assert toy.model.backbone.out_indices == paper.model.backbone.out_indices
    assert {k: v for k, v in toy.svm.items() if k != 'low_shot'} == \
        {k: v for k, v in paper.svm.items() if k != 'low_shot'}
    assert toy.train_dataloader.dataset.ann_file == 'meta/train.txt'
    assert toy.test_dataloader.dataset.ann_file == 'meta/val.txt'
    assert toy.train_dataloader.num_workers <= 1
    # feat5 of the paper config: 7x7 res5 of a 224 px image pooled 6x6 / stride 1 -> 2x2x2048
    pool = build_pool(paper.svm_extract.pool)
    assert pool(torch.zeros(1, 2048, 7, 7)).flatten(1).shape == (1, 8192)
    toy_pool = build_pool(toy.svm_extract.pool)
    assert toy_pool(torch.zeros(1, 512, 4, 4)).flatten(1).shape == (1, 2048)


# ------------------------------------------------------------------------------------ features
@pytest.fixture(scope='module')
def r18_checkpoints(tmp_path_factory):
    """A 'trained' R18 as a full BYOL-like checkpoint, as extract_weights' output and bare."""
    from mmpretrain.models import ResNet

    from mmvisrep.utils.weight_conversion import extract_weights, save_weights

    torch.manual_seed(1)
    net = ResNet(depth=18)
    net.init_weights()
    for m in net.modules():  # non-default BN statistics, so loading them shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2)
    sd = net.state_dict()
    root = tmp_path_factory.mktemp('svm_ckpt')
    full = {'backbone.' + k: v.clone() for k, v in sd.items()}
    full.update({'target_net.module.0.' + k: v.clone() * 0.5 for k, v in sd.items()})
    full['neck.mlp.0.weight'] = torch.zeros(4, 512)
    torch.save({'state_dict': full, 'meta': {'epoch': 3}}, root / 'full.pth')
    obj = extract_weights(str(root / 'full.pth'), 'mmpretrain')
    save_weights(obj, str(root / 'backbone.pth'), 'mmpretrain')
    torch.save(sd, root / 'bare.pth')
    r50 = {'backbone.' + k: v for k, v in ResNet(depth=50).state_dict().items()}
    torch.save({'state_dict': r50}, root / 'r50.pth')
    return root


def _toy_cfg(root):
    cfg = Config.fromfile(str(TOY_CFG))
    for name in ('train_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = str(root) + '/'
        cfg[name].batch_size = 8
        cfg[name].num_workers = 0
    return cfg


def test_full_and_backbone_only_checkpoints_give_equal_features(toy_scenes, r18_checkpoints):
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    cfg = _toy_cfg(toy_scenes)
    init_default_scope('mmpretrain')
    loader = Runner.build_dataloader(cfg.test_dataloader)
    pool = build_pool(cfg.svm_extract.pool)
    feats = {}
    for name in ('full', 'backbone', 'bare'):
        model, source = build_extractor(cfg, str(r18_checkpoints / f'{name}.pth'))
        assert '"backbone."' in source or name == 'bare'
        feats[name] = extract_features(model, loader, pool, progress=False)
    assert feats['full'].shape == (6, 2048)
    np.testing.assert_array_equal(feats['full'], feats['backbone'])
    np.testing.assert_array_equal(feats['full'], feats['bare'])
    random_model, _ = build_extractor(cfg, 'random')
    assert not np.allclose(
        extract_features(random_model, loader, pool, progress=False), feats['full'])
    target, source = build_extractor(cfg, str(r18_checkpoints / 'full.pth'), use_target=True)
    assert 'target_net.module.0.' in source
    assert not np.allclose(extract_features(target, loader, pool, progress=False), feats['full'])
    # labels: one-hot dominant class of meta/val.txt
    labels = label_matrix(loader.dataset)
    lines = (toy_scenes / 'meta/val.txt').read_text().split('\n')
    expected = [int(line.split()[1]) for line in lines if line.strip()]
    np.testing.assert_array_equal(labels.argmax(1), expected)
    assert (labels.sum(1) == 1).all() and labels.min() == 0
    with pytest.raises(ValueError, match='missing'):
        build_extractor(cfg, str(r18_checkpoints / 'r50.pth'))


@pytest.fixture(scope='module')
def svm_scenes(tmp_path_factory):
    """48 train / 24 val toy scenes (64 px) in which every class has >= 3 train positives."""
    from mmvisrep.datasets.toy_scenes import generate_toy_scenes
    root = generate_toy_scenes(
        tmp_path_factory.mktemp('svm_scenes') / 'coco',
        num_train=48,
        num_val=24,
        img_size=64,
        seed=2)
    for split, need in (('train', 3), ('val', 1)):
        lines = (Path(root) / f'meta/{split}.txt').read_text().split()
        counts = np.bincount([int(v) for v in lines[1::2]], minlength=8)
        assert counts.min() >= need, (split, counts)  # precondition of the test, not a result
    return Path(root)


def test_tool_end_to_end_on_toy_scenes(svm_scenes, r18_checkpoints, tmp_path):
    tool = _load_tool()
    work = tmp_path / 'work'
    argv = [
        str(TOY_CFG),
        str(r18_checkpoints / 'full.pth'), '--work-dir',
        str(work), '--k', '1', '2', '--runs', '2', '--no-progress', '--cfg-options',
        f'train_dataloader.dataset.data_root={svm_scenes}/',
        f'test_dataloader.dataset.data_root={svm_scenes}/', 'train_dataloader.num_workers=0',
        'test_dataloader.num_workers=0'
    ]
    res = tool.main(argv)
    assert res['dims'] == 2048 and res['num_train'] == 48 and res['num_test'] == 24
    full = res['full']
    assert np.isfinite(full['mAP']) and 0 <= full['mAP'] <= 1
    assert len(full['ap']) == 8 and full['skipped'] == {}
    assert all(c in PROTOCOL_COSTS for c in full['cost'])
    for row in res['low_shot']['table']:
        assert np.isfinite(row['mAP']) and 0 <= row['mAP'] <= 1
    saved = json.loads(Path(res['out_file']).read_text())
    assert saved['full']['mAP'] == pytest.approx(full['mAP'])
    assert (work / 'features/train_feat5.npy').is_file()
    # a rerun reuses the cached features (no extraction: same file, same results)
    mtime = osp.getmtime(work / 'features/train_feat5.npy')
    cfg = _toy_cfg(svm_scenes)
    data = load_or_extract_features(
        cfg, str(r18_checkpoints / 'full.pth'), str(work), progress=False)
    assert osp.getmtime(work / 'features/train_feat5.npy') == mtime
    assert data['train'][0].shape == (48, 2048)
    again = tool.main(argv)
    assert again['full']['mAP'] == full['mAP']
    with pytest.raises(SystemExit, match='checkpoint not found'):
        tool.main([str(TOY_CFG), str(tmp_path / 'nope.pth')])
