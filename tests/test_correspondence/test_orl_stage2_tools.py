"""End-to-end: tools/data/orl_knn.py and tools/data/orl_correspondence.py on the toy scenes.

A tiny randomly initialised BYOL ResNet-18 checkpoint, 64 px views and crops; checks the
official layouts, counts, sharding (2 shards == 1 shard), resume, and the mined pairs against a
one-crop-at-a-time computation like the official script's.
"""
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from mmvisrep.correspondence import BoxFilter, num_pairs, top_pairs
from mmvisrep.correspondence.data import load_rgb

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
K = 3
FILTER = dict(min_size=16, max_ratio=3, max_iou_thr=0.5, topn=8)


def _tool(name):
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(REPO, 'tools', 'data', name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def setup(toy_scenes, tmp_path_factory):
    """Config + checkpoint of a tiny BYOL, and a proposal json (GT + random boxes)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mmvisrep  # noqa: F401
    root = tmp_path_factory.mktemp('orl_stage2')
    cfg = dict(
        default_scope='mmpretrain',
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            to_rgb=True),
        model=dict(
            type='BYOL',
            base_momentum=0.01,
            backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='BN')),
            neck=dict(
                type='NonLinearNeck',
                in_channels=512,
                hid_channels=64,
                out_channels=32,
                num_layers=2,
                with_bias=True,
                with_last_bn=False,
                with_avg_pool=True),
            head=dict(
                type='LatentPredictHead',
                loss=dict(type='CosineSimilarityLoss'),
                predictor=dict(
                    type='NonLinearNeck',
                    in_channels=32,
                    hid_channels=64,
                    out_channels=32,
                    num_layers=2,
                    with_bias=True,
                    with_last_bn=False,
                    with_avg_pool=False))))
    config = str(root / 'byol_r18_tiny.py')
    Config(cfg).dump(config)
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(Config(cfg).model)
    ckpt = str(root / 'epoch_1.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), ckpt)
    no_neck = str(root / 'backbone_only.pth')
    torch.save(
        dict(state_dict={
            k: v
            for k, v in model.state_dict().items() if k.startswith('backbone.')
        }), no_neck)

    ann_file = osp.join(toy_scenes, 'annotations', 'instances_train2017.json')
    ann = json.load(open(ann_file))
    rng = np.random.default_rng(0)
    bbox = []
    for img in ann['images']:
        boxes = [[int(v) for v in a['bbox']] for a in ann['annotations']
                 if a['image_id'] == img['id']]
        for _ in range(15):
            w, h = rng.integers(8, 100, 2)
            x, y = rng.integers(0, 128 - w), rng.integers(0, 128 - h)
            boxes.append([int(x), int(y), int(w), int(h)])
        bbox.append(boxes)
    proposals = str(root / 'train2017_selective_search_proposal.json')
    json.dump(dict(bbox=bbox), open(proposals, 'w'))
    return dict(
        root=root,
        config=config,
        ckpt=ckpt,
        no_neck=no_neck,
        ann_file=ann_file,
        img_dir=osp.join(toy_scenes, 'train2017'),
        proposals=proposals,
        ann=ann)


def _knn_args(s, out, *extra):
    return [
        'extract', s['config'], s['ckpt'], '--ann-file', s['ann_file'], '--img-dir', s['img_dir'],
        '--out-dir', out, '--resize', '72', '--crop-size', '64', '--k',
        str(K), '--chunk-size', '5', '--batch-size', '4', '--workers', '0', '--device', 'cpu',
        '--no-progress', *extra
    ]


def _corr_args(s, knn, out, *extra):
    return [
        'generate', s['config'], s['ckpt'], '--knn-json', knn, '--proposal-json', s['proposals'],
        '--img-dir', s['img_dir'], '--out-dir', out, '--min-size',
        str(FILTER['min_size']), '--max-ratio', '3', '--max-iou-thr', '0.5', '--topn',
        str(FILTER['topn']), '--crop-size', '64', '--chunk-size', '5', '--workers', '0',
        '--device', 'cpu', '--feat-dtype', 'float32', '--no-progress', *extra
    ]


@pytest.fixture(scope='module')
def knn_run(setup):
    """One-shard kNN run; returns its output dir and json path."""
    out = str(setup['root'] / 'knn1')
    _tool('orl_knn').main(_knn_args(setup, out))
    return out, osp.join(out, f'train2017_{K}nn_instance.json')


def _mtimes(folder):
    return {n: os.stat(osp.join(folder, n)).st_mtime_ns for n in sorted(os.listdir(folder))}


def test_knn_layout_sharding_and_resume(setup, knn_run, capsys):
    out, path = knn_run
    data = json.load(open(path))
    images = setup['ann']['images']
    n = len(images)
    assert list(data) == ['info', 'images', 'pseudo_annotations']
    assert data['info'] == {'knn_image_num': K}
    assert data['images'] == dict(
        file_name=[i['file_name'] for i in images], id=[i['id'] for i in images])
    assert data['pseudo_annotations']['image_id'] == [i['id'] for i in images]
    knn = data['pseudo_annotations']['knn_image_id']
    assert len(knn) == n
    feats = np.concatenate(
        [np.load(osp.join(out, 'knn_feats', f'chunk-00000{c}.npy')) for c in range(3)])
    assert feats.shape == (n, 32)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-5)
    sim = feats @ feats.T
    np.fill_diagonal(sim, -np.inf)
    sims = np.load(osp.join(out, f'train2017_{K}nn_instance_sims.npy'))
    for q, row in enumerate(knn):
        assert len(row) == K and len(set(row)) == K and q not in row
        np.testing.assert_allclose(sims[q], sim[q, row], atol=1e-5)
        np.testing.assert_allclose(sims[q], np.sort(sim[q])[::-1][:K], atol=1e-5)

    # resume: a second run skips every finished chunk (files untouched) and rewrites the json
    before = _mtimes(osp.join(out, 'knn_feats'))
    capsys.readouterr()
    _tool('orl_knn').main(_knn_args(setup, out))
    assert 'already finished' in capsys.readouterr().out
    after = _mtimes(osp.join(out, 'knn_feats'))
    assert {k: v for k, v in after.items() if k.startswith('chunk')} == \
        {k: v for k, v in before.items() if k.startswith('chunk')}
    assert json.load(open(path)) == data

    # two shards: the first does not retrieve yet, the second completes the same file
    out2 = str(setup['root'] / 'knn2')
    _tool('orl_knn').main(_knn_args(setup, out2, '--shard', '0/2'))
    assert 'Not retrieving yet' in capsys.readouterr().out
    assert not osp.exists(osp.join(out2, f'train2017_{K}nn_instance.json'))
    _tool('orl_knn').main(_knn_args(setup, out2, '--shard', '1/2'))
    assert json.load(open(osp.join(out2, f'train2017_{K}nn_instance.json'))) == data
    # retrieval alone, another k
    _tool('orl_knn').main(['retrieve', '--out-dir', out2, '--k', '2', '--no-progress'])
    two = json.load(open(osp.join(out2, 'train2017_2nn_instance.json')))
    assert two['pseudo_annotations']['knn_image_id'] == [r[:2] for r in knn]


def test_knn_resumes_after_a_kill(setup, knn_run):
    from mmvisrep.correspondence.knn_runner import extract_shard
    from mmvisrep.correspondence.model import checkpoint_identity, load_encoder
    calls = []

    def factory(fail_after=None):
        enc = load_encoder(setup['config'], setup['ckpt'], 'cpu')
        real = enc.image_embeddings

        def counting(x):
            if fail_after is not None and len(calls) >= fail_after:
                raise KeyboardInterrupt('simulated kill')
            calls.append(len(x))
            return real(x)

        enc.image_embeddings = counting
        return enc

    out = str(setup['root'] / 'knn_killed')
    kwargs = dict(resize=72, crop=64, chunk_size=5, batch_size=4, workers=0, progress=False)
    args = ([setup['ann_file']], setup['img_dir'], out, checkpoint_identity(setup['ckpt']))
    with pytest.raises(KeyboardInterrupt):
        extract_shard(lambda: factory(fail_after=3), *args, **kwargs)
    assert calls == [4, 1, 4]  # chunk 0 (4 + 1 images) finished, chunk 1 interrupted
    assert sorted(f for f in os.listdir(osp.join(out, 'knn_feats'))
                  if f.startswith('chunk')) == ['chunk-000000.json', 'chunk-000000.npy']
    calls.clear()
    summary = extract_shard(factory, *args, **kwargs)
    assert calls == [4, 1, 2] and summary['computed'] == 7 and summary['resumed'] == 5
    for c in range(3):
        name = f'chunk-00000{c}.npy'
        np.testing.assert_array_equal(
            np.load(osp.join(out, 'knn_feats', name)),
            np.load(osp.join(knn_run[0], 'knn_feats', name)))


@pytest.fixture(scope='module')
def corr_run(setup, knn_run):
    out = str(setup['root'] / 'corr1')
    _tool('orl_correspondence').main(_corr_args(setup, knn_run[1], out))
    return out, osp.join(out, f'train2017_{K}nn_instance_correspondence.json')


def test_correspondence_layout_and_counts(setup, knn_run, corr_run):
    knn = json.load(open(knn_run[1]))
    data = json.load(open(corr_run[1]))
    assert list(data) == ['info', 'images', 'pseudo_annotations']
    assert list(data['info'].items()) == [('bbox_min_size', 16), ('bbox_max_aspect_ratio', 3),
                                          ('bbox_max_iou', 0.5), ('intra_bbox_num', 8),
                                          ('knn_image_num', K), ('knn_bbox_pair_ratio', 0.1)]
    assert data['images'] == knn['images']
    pa = data['pseudo_annotations']
    assert list(pa) == ['image_id', 'bbox', 'knn_image_id', 'knn_bbox_pair']
    assert pa['image_id'] == knn['pseudo_annotations']['image_id']
    assert pa['knn_image_id'] == knn['pseudo_annotations']['knn_image_id']
    raw = json.load(open(setup['proposals']))['bbox']
    flt = BoxFilter(**FILTER)
    n = len(raw)
    assert len(pa['bbox']) == len(pa['knn_bbox_pair']) == n
    for i in range(n):
        assert pa['bbox'][i] == [raw[i][j] for j in flt(raw[i])]
        assert 1 <= len(pa['bbox'][i]) <= FILTER['topn']
        assert len(pa['knn_bbox_pair'][i]) == K
        for nn, pairs in zip(pa['knn_image_id'][i], pa['knn_bbox_pair'][i]):
            assert len(pairs) == num_pairs(len(pa['bbox'][i]), 0.1)
            for p in pairs:
                assert len(p) == 8 and p[:4] in pa['bbox'][i] and p[4:] in pa['bbox'][nn]
    stats = json.load(open(corr_run[1][:-len('.json')] + '_stats.json'))
    assert stats['images'] == n and stats['raw_boxes'] == sum(len(b) for b in raw)
    assert stats['kept_boxes'] == sum(len(b) for b in pa['bbox'])
    assert stats['pairs'] == sum(len(p) for per in pa['knn_bbox_pair'] for p in per)
    assert stats['rois_outside_image'] == 0


def test_pairs_match_one_crop_at_a_time(setup, corr_run):
    """Recompute two (query, neighbour) pair lists the official way: TF.resized_crop per box,
    embed, similarity, flattened top-k; with a larger ratio so several pairs are compared."""
    from mmvisrep.correspondence.model import load_encoder
    out, path = corr_run
    _tool('orl_correspondence').main([
        'merge', '--out-dir', out, '--pair-ratio', '0.5', '--no-progress', '--out-file',
        osp.join(out, 'ratio05.json')
    ])
    data = json.load(open(osp.join(out, 'ratio05.json')))
    assert data['info']['knn_bbox_pair_ratio'] == 0.5
    pa = data['pseudo_annotations']
    enc = load_encoder(setup['config'], setup['ckpt'], 'cpu', need_neck=False)
    names = data['images']['file_name']

    def embed(i):
        img = torch.from_numpy(load_rgb(osp.join(setup['img_dir'], names[i]))).permute(2, 0, 1)
        crops = [TF.resized_crop(img, y, x, h, w, [64, 64]) for x, y, w, h in pa['bbox'][i]]
        return enc.roi_embeddings(torch.stack(crops).float())

    for q in (0, 7):
        nn = pa['knn_image_id'][q][0]
        qi, ki = top_pairs(embed(q) @ embed(nn).T, 0.5)
        expected = [pa['bbox'][q][a] + pa['bbox'][nn][b] for a, b in zip(qi, ki)]
        assert len(expected) == max(1, int(0.5 * len(pa['bbox'][q])))
        assert pa['knn_bbox_pair'][q][0] == expected


def test_correspondence_sharding_resume_and_mine(setup, knn_run, corr_run, capsys, monkeypatch):
    tool = _tool('orl_correspondence')
    reference = json.load(open(corr_run[1]))
    out = str(setup['root'] / 'corr2')
    tool.main(_corr_args(setup, knn_run[1], out, '--shard', '0/2'))
    assert 'Not merging yet' in capsys.readouterr().out
    tool.main(_corr_args(setup, knn_run[1], out, '--shard', '1/2'))  # last one merges
    result = osp.join(out, f'train2017_{K}nn_instance_correspondence.json')
    assert json.load(open(result)) == reference
    # resume: finished shards are skipped, the model is not even loaded
    before = _mtimes(osp.join(out, 'roi_feats'))

    def no_model(*args, **kwargs):
        raise AssertionError('the model must not be loaded for a finished shard')

    monkeypatch.setattr('mmvisrep.correspondence.model.load_encoder', no_model)
    tool.main(_corr_args(setup, knn_run[1], out, '--shard', '1/2'))
    assert 'already finished' in capsys.readouterr().out
    assert _mtimes(osp.join(out, 'roi_feats')) == before
    assert json.load(open(result)) == reference
    # mining in 2 shards from scratch, then merge: same file
    for name in os.listdir(osp.join(out, 'pairs')):
        os.unlink(osp.join(out, 'pairs', name))
    tool.main(['mine', '--out-dir', out, '--shard', '0/2', '--no-progress'])
    assert os.listdir(osp.join(out, 'pairs')) == ['chunk-000000.json']  # chunk 0 of 3
    tool.main(['mine', '--out-dir', out, '--shard', '1/2', '--no-progress'])
    os.unlink(result)
    tool.main(['merge', '--out-dir', out, '--no-progress'])
    assert json.load(open(result)) == reference


def test_bad_inputs_fail_with_clear_errors(setup, knn_run, tmp_path, capsys):
    knn_tool, corr_tool = _tool('orl_knn'), _tool('orl_correspondence')
    # an image that cannot be read: the error names the file
    ann = dict(setup['ann'])
    ann['images'] = ann['images'][:3] + [dict(id=999, file_name='missing_0999.jpg')]
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text(json.dumps(ann))
    args = _knn_args(setup, str(tmp_path / 'k'))
    args[args.index('--ann-file') + 1] = str(ann_file)
    with pytest.raises(SystemExit) as exc:
        knn_tool.main(args)
    assert exc.value.code == 2
    assert 'missing_0999.jpg' in capsys.readouterr().err
    # a checkpoint without the projector cannot give kNN features ...
    args = _knn_args(setup, str(tmp_path / 'k2'))
    args[2] = setup['no_neck']
    with pytest.raises(SystemExit):
        knn_tool.main(args)
    err = capsys.readouterr().err
    assert 'backbone_only.pth lacks' in err and 'neck' in err
    # ... but is enough for RoI embeddings
    out = str(tmp_path / 'c')
    args = _corr_args(setup, knn_run[1], out, '--no-merge')
    args[2] = setup['no_neck']
    corr_tool.main(args)
    # a proposal file for other images
    bad = tmp_path / 'ss.json'
    bad.write_text(json.dumps(dict(bbox=[[[0, 0, 20, 20]]])))
    args = _corr_args(setup, knn_run[1], str(tmp_path / 'c2'))
    args[args.index('--proposal-json') + 1] = str(bad)
    with pytest.raises(SystemExit):
        corr_tool.main(args)
    assert 'boxes for 1 images, the image list has 12' in capsys.readouterr().err
    # reusing an output folder with other parameters is refused
    with pytest.raises(SystemExit):
        corr_tool.main(_corr_args(setup, knn_run[1], out, '--crop-size', '32'))
    assert 'belongs to a different run (crop_size' in capsys.readouterr().err
