"""SemanticVLP zero-shot image<->text retrieval: ``forward(mode='tensor')`` + ``predict_all`` (ITM
match probability of every pair) against per-pair ``match_scores``, in grid and SPL mode, with
any chunk size, duplicated / shuffled features and missing ones; the ImageTextRecall metric on a
hand-made score matrix (and its parity with mmpretrain's RetrievalRecall); the toy retrieval
config through an mmengine Runner and mmpretrain's RetrievalValLoop, checked against recalls
computed by hand from brute-force scores; and a 2-process gloo run of the same loop (5 images:
3 + 2 per rank, and 3 + 3 with the sampler's padding) giving the metrics of 1 process."""
import copy
import importlib.util
import json
import os
import socket
from itertools import chain, zip_longest
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmpretrain.evaluation import RetrievalRecall
from mmpretrain.structures import DataSample

import mmvisrep  # noqa: F401
from mmvisrep.datasets.karpathy_captions import coco_captions_to_karpathy
from mmvisrep.evaluation.retrieval import ImageTextRecall
from mmvisrep.models.algorithms.semantic_vlp_retrieval import _rank_share

REPO = Path(__file__).resolve().parents[2]
TOY_CONFIG = REPO / 'configs/_base_/datasets/toy_scenes_retrieval_svl.py'
KEYS = [f'{d}/retrieval/Recall@{k}' for d in ('i2t', 't2i') for k in (1, 5, 10)]
CAPTIONS = [['a red circle on grass', 'two shapes'], ['a blue star on snow in front of a wall'],
            ['a square', 'the sky above a brick wall', 'a ring on sand', 'a cross']]


def _helpers():
    """The tiny-model helpers of tests/test_models/test_semantic_vlp.py (loaded by path)."""
    spec = importlib.util.spec_from_file_location('_svl_model_tests',
                                                  REPO / 'tests/test_models/test_semantic_vlp.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _helpers()


def retrieval_cfg(tokenizer=None, **kwargs):
    """A tiny SemanticVLP whose text encoder and MLM ids follow ``tokenizer``; cross-modal and
    head weights drawn with std 0.2 (not BERT's 0.02), so that random-init match probabilities
    depend clearly on the image and the caption."""
    tokenizer = tokenizer or dict(type='BertTokenizerFast', vocab_file=H.VOCAB_FILE)
    cfg = H.tiny_cfg(
        text_encoder=dict(
            type='HFTextEncoder', config=dict(H.TINY_BERT, vocab_size=None), tokenizer=tokenizer),
        tokenizer=tokenizer,
        mask_token_id=None,
        special_token_ids=None,
        **kwargs)
    cfg['cross_modal_encoder'] = dict(cfg['cross_modal_encoder'], initializer_range=0.2)
    return cfg


def build_eval(cfg, seed=0):
    model = H.build(cfg, seed)
    model.eval()
    return model


def retrieval_samples(captions=CAPTIONS):
    """Flickr30kRetrieval test-mode samples: one per image, captions numbered in order."""
    samples, next_id = [], 0
    for i, texts in enumerate(captions):
        s = DataSample(metainfo=dict(image_id=i))
        s.set_field(list(texts), 'text')
        s.set_field(list(range(next_id, next_id + len(texts))), 'gt_text_id')
        next_id += len(texts)
        samples.append(s)
    return samples


def concat(parts):
    """What RetrievalValLoop does with the per-batch feature dicts."""
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def brute_force_scores(model, img, captions):
    """(N, T) match_scores of every image with every caption, one pair per batch row."""
    flat = [c for texts in captions for c in texts]
    rows = []
    for i in range(img.size(0)):
        samples = []
        for caption in flat:
            enc = model.tokenizer(caption)
            s = DataSample()
            s.set_field(np.asarray(enc['input_ids']), 'input_ids')
            s.set_field(np.asarray(enc['attention_mask']), 'attention_mask')
            samples.append(s)
        rows.append(model.match_scores(img[i:i + 1].expand(len(flat), -1, -1, -1), samples))
    return torch.stack(rows)


def score_matrix(i2t):
    return torch.stack([s.pred_score for s in sorted(i2t, key=lambda s: s.image_id)])


def hand_recalls(scores, text_image, ks=(1, 5, 10)):
    """R@k from a score matrix by counting, per query, the items scored above its best match."""
    scores = np.asarray(scores, np.float64)
    text_image = np.asarray(text_image)
    out = {}
    i2t_rank = [
        min(int((row > row[t]).sum()) for t in np.nonzero(text_image == i)[0])
        for i, row in enumerate(scores)
    ]
    t2i_rank = [int((scores[:, t] > scores[i, t]).sum()) for t, i in enumerate(text_image)]
    for name, ranks in (('i2t', i2t_rank), ('t2i', t2i_rank)):
        for k in ks:
            out[f'{name}/retrieval/Recall@{k}'] = 100. * np.mean(np.asarray(ranks) < k)
    return out


# ---------------------------------------------------------------- model: features and scores
@pytest.mark.parametrize('mode', ['grid', 'spl', 'resnet'])
def test_predict_all_equals_per_pair_match_scores(mode):
    cfg = retrieval_cfg(spl=mode == 'spl') if mode != 'resnet' else dict(
        retrieval_cfg(),
        backbone=H.TINY_RESNET,
        visual_pos_embed=dict(type='GridPositionEmbedding2D', channels=64))
    model = build_eval(cfg)
    img = H.images(3)
    samples = retrieval_samples()
    # two batches, as the loop sees them
    parts = [
        model(img[:2], samples[:2], mode='tensor'),
        model(img[2:], samples[2:], mode='tensor')
    ]
    feats = concat(parts)
    tokens = {'grid': 16, 'spl': 5, 'resnet': 16}[mode]
    assert feats['visual_tokens'].shape == (3, tokens, 32 if mode != 'resnet' else 64)
    assert feats['text_feats'].shape == (7, 40, 32) and feats['text_mask'].shape == (7, 40)
    assert feats['text_index'].tolist() == list(range(7))
    assert feats['text_image_index'].tolist() == [0, 0, 1, 2, 2, 2, 2]
    assert feats['image_index'].tolist() == [0, 1, 2]

    i2t, t2i = model.predict_all(feats, samples, num_images=3, num_texts=7)
    assert [s.image_id for s in i2t] == [0, 1, 2] and [s.text_id for s in t2i] == list(range(7))
    assert [s.gt_label.tolist() for s in i2t] == [[0, 1], [2], [3, 4, 5, 6]]
    assert [int(s.gt_label) for s in t2i] == [0, 0, 1, 2, 2, 2, 2]
    scores = score_matrix(i2t)
    ref = brute_force_scores(model, img, CAPTIONS)
    torch.testing.assert_close(scores, ref, atol=2e-6, rtol=0)
    assert scores.std() > 0.01  # far above the float noise: a ranking the metric can test
    torch.testing.assert_close(torch.stack([s.pred_score for s in t2i], 1), scores)
    assert int(i2t[2].pred_label) == int(scores[2].argmax())

    # any chunk size gives the same scores (one image per pass, cut to the longest caption)
    for chunk in (1, 3, 1000):
        model.retrieval_chunk_size = chunk
        chunked = score_matrix(model.predict_all(feats, samples, 3, 7)[0])
        torch.testing.assert_close(chunked, scores, atol=1e-6, rtol=0)


def test_predict_all_deduplicates_and_reorders_features():
    """Sampler padding repeats images; any batch order: same scores, each query once."""
    model = build_eval(retrieval_cfg())
    img, samples = H.images(3), retrieval_samples()
    ref = score_matrix(model.predict_all(model(img, samples, mode='tensor'), samples)[0])
    order = [2, 0, 2, 1]  # image 2 twice (padding), shuffled
    feats = concat([model(img[[i]], [samples[i]], mode='tensor') for i in order])
    scored = []
    original = model.score_pairs
    model.score_pairs = lambda v, t, m: scored.append(v.size(0)) or original(v, t, m)
    i2t, t2i = model.predict_all(feats, None)  # N and T taken from the features
    assert scored == [3]  # the duplicate is scored once
    assert len(i2t) == 3 and len(t2i) == 7
    torch.testing.assert_close(score_matrix(i2t), ref, atol=1e-6, rtol=0)


def test_retrieval_errors_and_truncation():
    model = build_eval(retrieval_cfg(retrieval_max_length=6))
    img, samples = H.images(3), retrieval_samples()
    feats = model(img, samples, mode='tensor')
    assert feats['text_mask'].shape == (7, 6) and feats['text_mask'].sum(1).max() == 6
    # captions of 7, 12 and 8 tokens are cut to 6, keeping their closing [SEP]
    assert model._caption_drops.counts['captions truncated'] == 3
    ids, mask = model.tokenize_captions(CAPTIONS[1] + ['two shapes'], img.device)
    assert ids.tolist() == [[2, *ids[0, 1:5].tolist(), 3], [2, *ids[1, 1:3].tolist(), 3, 0, 0]]
    assert mask.tolist() == [[1] * 6, [1] * 4 + [0] * 2]
    with pytest.raises(ValueError, match=r'4 images but .* 3 distinct.*missing \[3\]'):
        model.predict_all(feats, samples, num_images=4)
    with pytest.raises(ValueError, match='caption'):
        model.predict_all(feats, samples, num_images=3, num_texts=8)
    with pytest.raises(KeyError, match='text_mask'):
        model.predict_all({k: v for k, v in feats.items() if k != 'text_mask'})
    bad = retrieval_samples()
    del bad[1].gt_text_id
    with pytest.raises(KeyError, match=r"sample 1 has no \['gt_text_id'\]"):
        model(img, bad, mode='tensor')
    bad = retrieval_samples()
    bad[0].set_field([0], 'gt_text_id')
    with pytest.raises(ValueError, match='one caption string per gt_text_id'):
        model(img, bad, mode='tensor')
    no_tok = build_eval(H.tiny_cfg())
    with pytest.raises(ValueError, match='needs `tokenizer`'):
        no_tok(img, samples, mode='tensor')
    # without data samples, tensor mode is still the backbone features
    assert no_tok(img, mode='tensor')[-1].shape == (3, 32, 4, 4)
    with pytest.raises(ValueError, match='retrieval_chunk_size'):
        H.build(retrieval_cfg(retrieval_chunk_size=0))


def test_rank_shares_cover_every_query_once_after_collect_results():
    """mmengine's collect_results: interleave the ranks' lists, cut at the dataset size."""
    for num, world in ((5, 2), (7, 3), (2, 4), (6, 1)):
        parts = [_rank_share(num, r, world) for r in range(world)]
        assert len({len(p) for p in parts}) == 1
        merged = [i for i in chain.from_iterable(zip_longest(*parts)) if i is not None]
        assert merged[:num] == list(range(num))
    assert _rank_share(5, 1, 2) == [1, 3, 0]


# ---------------------------------------------------------------- metric
def _queries(score_rows, positives):
    out = []
    for row, pos in zip(score_rows, positives):
        s = DataSample().set_pred_score(torch.as_tensor(row, dtype=torch.float32))
        out.append(s.set_gt_label(pos))
    return out


def test_image_text_recall_on_a_hand_made_matrix(monkeypatch):
    gallery = 12
    base = -torch.arange(gallery, dtype=torch.float32)  # item j is ranked j-th (0-based)
    rows = [base.clone() for _ in range(4)]
    # query A: its match ranked 1st -> hit at 1, 5, 10
    # query B: matches 3 and 4 -> best one ranked 4th -> miss at 1, hit at 5 and 10
    # query C: match 11 moved to rank 7 (between items 6 and 7) -> hit at 10 only
    rows[2][11] = -6.5
    # query D: match 11 stays last (12th) -> miss everywhere
    positives = [[0], [3, 4], [11], [11]]
    evaluator = Evaluator(ImageTextRecall(topk=(1, 5, 10)))
    evaluator.process(_queries(rows, positives))
    metrics = evaluator.evaluate(4)
    assert metrics == {
        'retrieval/Recall@1': 25.0,
        'retrieval/Recall@5': 50.0,
        'retrieval/Recall@10': 75.0
    }
    # soft targets (gt_score) count their nonzero entries as matches
    metric = ImageTextRecall(topk=(1, 5))
    soft = DataSample().set_pred_score(rows[1]).set_gt_score(
        torch.tensor([0.] * 4 + [0.7] + [0.] * 7))
    metric.process(None, [soft])
    assert [float(v) for v in metric.results[0]] == [0., 100.]

    # mmpretrain's RetrievalRecall gives the same numbers where it runs (np.in1d was removed
    # in numpy 2.4: put np.isin, its replacement, in its place for the comparison)
    monkeypatch.setattr(np, 'in1d', np.isin, raising=False)
    stock = Evaluator(RetrievalRecall(topk=(1, 5, 10)))
    stock.process(_queries(rows, positives))
    assert stock.evaluate(4) == metrics

    # a gallery smaller than k: mmpretrain's topk raises, ours counts the whole gallery
    small = _queries([[0.9, 0.5, 0.1]], [[2]])
    with pytest.raises(RuntimeError):
        stock.process(copy.deepcopy(small))
    evaluator.process(small)
    assert evaluator.evaluate(1) == {
        'retrieval/Recall@1': 0.,
        'retrieval/Recall@5': 100.,
        'retrieval/Recall@10': 100.
    }


# ---------------------------------------------------------------- runner / loops
def _karpathy(toy_scenes, out, max_images=None):
    coco = json.loads((toy_scenes / 'annotations/captions_val2017.json').read_text())
    karpathy, _ = coco_captions_to_karpathy(coco, 'test', 'val2017', max_images=max_images)
    out.write_text(json.dumps(karpathy))
    return karpathy


def runner_cfg(toy_scenes, ann_file, work_dir, checkpoint=None, collect_dir=None):
    """The toy retrieval config (data on the fixture) with a tiny model, for a Runner."""
    cfg = Config.fromfile(str(TOY_CONFIG))
    tokenizer = dict(type='AutoTokenizer', name_or_path='tests/data/bert_vocab')
    cfg.model = retrieval_cfg(tokenizer)
    cfg.model.backbone = dict(cfg.model.backbone, img_size=cfg.retrieval_crop_size)
    cfg.val_dataloader.dataset.data_root = str(toy_scenes)
    cfg.val_dataloader.dataset.ann_file = str(ann_file)
    cfg.val_dataloader.batch_size = 2
    if collect_dir is not None:
        cfg.val_evaluator.collect_dir = str(collect_dir)
    cfg.update(
        work_dir=str(work_dir),
        default_scope='mmpretrain',
        log_level='WARNING',
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        load_from=None if checkpoint is None else str(checkpoint))
    for key in ('test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg.pop(key)
    return cfg


def _checkpoint(cfg, path):
    """The Runner's model, saved for load_from (1- and 2-process runs load the same weights)."""
    torch.save(dict(state_dict=H.build(cfg.model, seed=0).state_dict(), meta=dict()), path)
    return path


def _val(cfg):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    metrics = runner.val()
    return runner, metrics


def test_toy_retrieval_config_runner_val(toy_scenes, tmp_path, monkeypatch):
    """RetrievalValLoop on the toy config reports i2t/t2i R@1/5/10, equal to hand-counted ranks
    of the brute-force match_scores matrix."""
    monkeypatch.chdir(REPO)  # the toy tokenizer path is relative to the repository
    ann = tmp_path / 'karpathy_val2017.json'
    karpathy = _karpathy(toy_scenes, ann)
    cfg = runner_cfg(toy_scenes, ann, tmp_path / 'work')
    cfg.load_from = str(_checkpoint(cfg, tmp_path / 'model.pth'))
    assert cfg.val_dataloader.dataset.pipeline[1].scale == (cfg.retrieval_crop_size, ) * 2
    runner, metrics = _val(cfg)
    assert sorted(metrics) == sorted(KEYS)
    dataset = runner.val_dataloader.dataset
    assert (dataset.img_size, dataset.text_size) == (6, 30)

    model = runner.model
    batch = model.data_preprocessor(
        runner.val_dataloader.collate_fn([dataset[i] for i in range(6)]), False)
    assert batch['inputs'].shape == (6, 3) + (cfg.retrieval_crop_size, ) * 2
    captions = [[s['raw'] for s in img['sentences']] for img in karpathy['images']]
    scores = brute_force_scores(model, batch['inputs'], captions)
    expected = hand_recalls(scores, [i for i, c in enumerate(captions) for _ in c])
    assert metrics == pytest.approx(expected, abs=1e-4)
    assert len(set(metrics.values())) > 1


def _ddp_worker(rank, world_size, port, toy_scenes, ann, checkpoint, out_dir):
    import torch.distributed as dist

    from mmvisrep.utils.dist import setup_cpu_distributed
    torch.set_num_threads(1)
    os.chdir(REPO)
    os.environ.update(
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    results = {}
    for round_up in (False, True):
        cfg = runner_cfg(
            Path(toy_scenes),
            ann,
            Path(out_dir) / f'work_{round_up}',
            checkpoint,
            collect_dir=Path(out_dir) / f'collect_{round_up}')
        cfg.val_dataloader.sampler = dict(type='DefaultSampler', shuffle=False, round_up=round_up)
        cfg.launcher = 'pytorch'
        assert setup_cpu_distributed(cfg)
        runner, metrics = _val(cfg)
        results[str(round_up)] = dict(
            metrics=metrics, images=list(iter(runner.val_dataloader.sampler)))
    torch.save(results, Path(out_dir) / f'rank{rank}.pth')
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_process_retrieval_loop_matches_one_process(toy_scenes, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    ann = tmp_path / 'karpathy_5.json'
    _karpathy(toy_scenes, ann, max_images=5)  # 5 images: the ranks hold 3 and 2
    cfg = runner_cfg(toy_scenes, ann, tmp_path / 'work_1')
    checkpoint = _checkpoint(cfg, tmp_path / 'model.pth')
    cfg.load_from = str(checkpoint)
    _, ref = _val(cfg)
    assert sorted(ref) == sorted(KEYS) and len(set(ref.values())) > 1

    mp.spawn(
        _ddp_worker,
        args=(2, _free_port(), str(toy_scenes), str(ann), str(checkpoint), str(tmp_path)),
        nprocs=2,
        join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    # uneven: 3 + 2 images without padding; 3 + 3 with it (image 0 twice)
    assert [r['False']['images'] for r in ranks] == [[0, 2, 4], [1, 3]]
    assert [r['True']['images'] for r in ranks] == [[0, 2, 4], [1, 3, 0]]
    for round_up in ('False', 'True'):
        for r in ranks:
            assert r[round_up]['metrics'] == pytest.approx(ref, abs=1e-6), round_up
