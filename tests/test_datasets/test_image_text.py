"""Image-text data: COCO captions, TSV/JSONL lists, tar shards, caption tokens, shard packing."""
import csv
import importlib.util
import io
import json
import logging
import os.path as osp
import tarfile
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from mmvisrep.datasets.image_text import (CocoCaptionsDataset, ImageTextFileDataset,
                                          ImageTextShardDataset)
from mmvisrep.datasets.image_text.line_files import infer_format
from mmvisrep.datasets.image_text.tar_shards import (count_tar_samples, expand_braces,
                                                     shard_assignment, split_member_name)
from mmvisrep.datasets.transforms.caption_tokenize import TokenizeCaption

REPO = Path(__file__).resolve().parents[2]
VOCAB_DIR = REPO / 'tests' / 'data' / 'bert_vocab'
TOKENIZER = dict(type='AutoTokenizer', name_or_path=str(VOCAB_DIR))
GOOD = [('img0.jpg', 'A red circle on the left.'), ('img1.png', 'Café ☕ au lait, naïve'),
        ('img2.jpg', 'two blue stars'), ('sub/img3.jpg', '  a green square  '),
        ('img4.png', 'a yellow circle on the right'), ('img5.jpg', 'five shapes on grass')]
BROKEN = 'broken.jpg'


@pytest.fixture(scope='module', autouse=True)
def _scope():
    init_default_scope('mmpretrain')


@pytest.fixture(scope='module')
def img_root(tmp_path_factory) -> Path:
    """Six small decodable images (one in a sub-folder) and one file of garbage bytes."""
    root = tmp_path_factory.mktemp('pairs')
    rng = np.random.default_rng(0)
    for name, _ in GOOD:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / name), rng.integers(0, 255, (24, 32, 3), np.uint8))
    (root / BROKEN).write_bytes(b'this is not an image' * 8)
    return root


def _write_list(root: Path, fmt: str) -> Path:
    """6 good lines + a broken image + an empty caption + a malformed and a blank line; one
    CRLF line and multi-byte UTF-8 captions test the byte offsets."""
    rows = GOOD[:3] + [(BROKEN, 'a broken image'), ('img5.jpg', '   ')] + GOOD[3:]
    path = root / f'pairs.{fmt}'
    with open(path, 'wb') as f:
        if fmt == 'tsv':
            f.write('id\timage\tcaption\n'.encode())
            for i, (img, cap) in enumerate(rows):
                f.write(f'{i}\t{img}\t{cap}'.encode() + (b'\r\n' if i == 1 else b'\n'))
                if i == 4:
                    f.write(b'7\tonly two fields\n\n')
        else:
            for i, (img, cap) in enumerate(rows):
                line = json.dumps(dict(image=img, caption=cap, id=i), ensure_ascii=False)
                f.write(line.encode() + (b'\r\n' if i == 1 else b'\n'))
                if i == 4:
                    f.write(b'{"image": "img0.jpg", "caption": 5}\n\n')
    return path


def _naive_parse(path: Path, fmt: str):
    """``(line, image, caption)`` of the usable lines, with the standard library only."""
    rows = []
    with open(path, encoding='utf-8', newline='') as f:
        if fmt == 'tsv':
            reader = csv.DictReader(f, delimiter='\t', quoting=csv.QUOTE_NONE)
            for rec in reader:
                if None in rec or None in rec.values() or not rec['caption'].strip():
                    continue
                rows.append((reader.line_num, rec['image'].strip(), rec['caption'].strip()))
        else:
            for lineno, text in enumerate(f, 1):
                if not text.strip():
                    continue
                rec = json.loads(text)
                if isinstance(rec['caption'], str) and rec['caption'].strip():
                    rows.append((lineno, rec['image'], rec['caption'].strip()))
    return rows


# ---------------------------------------------------------------------------- TSV / JSONL
@pytest.mark.parametrize('fmt', ['tsv', 'jsonl'])
def test_line_index_equals_naive_parse_and_counts_skips(img_root, tmp_path, fmt):
    path = _write_list(img_root, fmt)
    ds = ImageTextFileDataset(
        ann_file=path.name, data_root=str(img_root), index_cache=str(tmp_path))
    expected = _naive_parse(path, fmt)
    assert len(ds) == len(expected) == 7  # 6 good + the broken image
    got = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        line = int(info['ann_source'].rsplit(':', 1)[1])
        got.append((line, osp.relpath(info['img_path'], img_root), info['caption']))
    assert got == expected
    assert got[1][2] == 'Café ☕ au lait, naïve' and got[-3][2] == 'a green square'
    assert ds.index_skips == {'malformed record': 1, 'empty caption': 1}
    # Index arrays only (no per-sample Python objects), int64 byte offsets.
    assert set(ds._index) == {'file', 'offset', 'length', 'line'}
    assert ds._index['offset'].dtype == np.int64
    # Second build reads the cached index and reports the same skips.
    assert len(list(tmp_path.glob('*.itindex.npz'))) == 1
    again = ImageTextFileDataset(
        ann_file=str(path), data_prefix=str(img_root), index_cache=str(tmp_path))
    assert again.index_skips == ds.index_skips
    assert [again.get_data_info(i)['caption'] for i in range(7)] == [g[2] for g in got]
    bad_line = 7 if fmt == 'tsv' else 6  # the TSV header is line 1
    with pytest.raises(ValueError, match=rf'{path.name}:{bad_line}: malformed'):
        ImageTextFileDataset(ann_file=str(path), index_cache=None, on_error='raise')
    sub = ds.get_subset([6, 0])
    assert [sub.get_data_info(i)['caption'] for i in range(2)] == [got[6][2], got[0][2]]


@pytest.mark.parametrize('fmt', ['tsv', 'jsonl'])
def test_line_dataset_skips_unreadable_images(img_root, fmt):
    path = _write_list(img_root, fmt)
    kwargs = dict(
        ann_file=str(path),
        data_prefix=str(img_root),
        index_cache=None,
        pipeline=[dict(type='LoadImageFromFile')])
    ds = ImageTextFileDataset(**kwargs)
    outs = [ds.prepare_data(i) for i in range(len(ds))]
    assert [o is None for o in outs] == [False] * 3 + [True] + [False] * 3
    assert ds.skips.counts['unreadable image'] == 1
    assert outs[0]['img'].shape == (24, 32, 3) and outs[0]['caption'] == GOOD[0][1]
    # Training: __getitem__ replaces the broken sample by another one, counted again.
    ds._rand_another = lambda: 5  # mmengine's refetch draws np.random.randint(len(ds))
    assert ds[3]['caption'] == GOOD[4][1]
    assert ds.skips.counts['unreadable image'] == 2
    # Test mode: an error naming the record.
    test_ds = ImageTextFileDataset(test_mode=True, **kwargs)
    with pytest.raises(ValueError, match=rf'{path.name}:\d+.*broken.jpg'):
        test_ds[3]


def test_line_format_errors(img_root, tmp_path):
    assert infer_format('a/b.TSV') == 'tsv' and infer_format('x.ndjson') == 'jsonl'
    with pytest.raises(ValueError, match='extension'):
        infer_format('pairs.csv')
    bad_header = tmp_path / 'h.tsv'
    bad_header.write_text('img\ttext\na.jpg\tcap\n')
    with pytest.raises(ValueError, match=r'h.tsv:1: .*lacks the column'):
        ImageTextFileDataset(ann_file=str(bad_header), index_cache=None)
    ok = ImageTextFileDataset(
        ann_file=str(bad_header), index_cache=None, image_key='img', caption_key='text')
    assert ok.get_data_info(0)['caption'] == 'cap'
    no_header = tmp_path / 'n.tsv'
    no_header.write_text('a caption\thttp://x/y.jpg\n')
    ds = ImageTextFileDataset(
        ann_file=str(no_header), index_cache=None, tsv_columns=['caption', 'image'])
    assert ds.get_data_info(0)['img_path'] == 'http://x/y.jpg'  # absolute: prefix not joined
    empty = tmp_path / 'e.jsonl'
    empty.write_text('{"image": "a.jpg", "caption": ""}\n')
    with pytest.raises(ValueError, match='no valid image-caption line'):
        ImageTextFileDataset(ann_file=str(empty), index_cache=None)


# ---------------------------------------------------------------------------- COCO captions
def test_coco_captions_sample_counts_and_caption_choice(toy_scenes):
    kwargs = dict(
        ann_file='annotations/captions_train2017.json',
        data_root=str(toy_scenes),
        data_prefix='train2017/')
    per_image = CocoCaptionsDataset(**kwargs)
    per_caption = CocoCaptionsDataset(sample_per='caption', **kwargs)
    data = json.loads((toy_scenes / 'annotations/captions_train2017.json').read_text())
    assert len(per_image) == len(data['images']) == 12
    assert len(per_caption) == len(data['annotations']) == 60
    info = per_image.get_data_info(0)
    assert osp.isfile(info['img_path']) and len(info['captions']) == 5
    np.random.seed(0)
    drawn = {per_image.get_data_info(0)['caption'] for _ in range(40)}
    assert drawn == set(info['captions'])
    test_ds = CocoCaptionsDataset(test_mode=True, **kwargs)
    assert {test_ds.get_data_info(0)['caption'] for _ in range(5)} == {info['captions'][0]}
    with pytest.raises(ValueError, match="'image' or 'caption'"):
        CocoCaptionsDataset(sample_per='word', **kwargs)


def test_coco_captions_skips(tmp_path):
    ann = dict(
        images=[dict(id=i, file_name=f'{i}.jpg') for i in (1, 2, 3)],
        annotations=[
            dict(id=10, image_id=1, caption='a cat'),
            dict(id=11, image_id=1, caption=' '),
            dict(id=12, image_id=2, caption=''),
            dict(id=13, image_id=9, caption='unknown image'),
            dict(id=14, image_id=3, caption=None),
            dict(id=15, image_id=3, caption='a dog '),
        ])
    path = tmp_path / 'captions.json'
    path.write_text(json.dumps(ann))
    ds = CocoCaptionsDataset(ann_file=str(path), data_prefix='imgs', sample_per='caption')
    assert [ds.get_data_info(i)['caption'] for i in range(len(ds))] == ['a cat', 'a dog']
    assert ds.get_data_info(1)['img_path'] == 'imgs/3.jpg'
    assert ds.index_skips == {'empty caption': 2, 'malformed record': 2}
    assert ds.num_images_without_caption == 1
    path.write_text(json.dumps(dict(images=[])))
    with pytest.raises(ValueError, match='not a COCO captions file'):
        CocoCaptionsDataset(ann_file=str(path))


# ---------------------------------------------------------------------------- tar shards
def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope='module')
def shard_dir(img_root, tmp_path_factory) -> Path:
    """6 shards of 3 good samples each (18 keys 's{shard}k{i}'); shard 0 also holds a broken
    image, an empty caption and an image without caption; shard 5 uses .json captions."""
    out = tmp_path_factory.mktemp('shards')
    jpg = (img_root / 'img0.jpg').read_bytes()
    png = (img_root / 'img1.png').read_bytes()
    for s in range(6):
        with tarfile.open(out / f'part-{s:03d}.tar', 'w') as tar:
            for i in range(3):
                key = f's{s}k{i}'
                _add(tar, f'{key}.png' if i == 1 else f'{key}.jpg', png if i == 1 else jpg)
                if s == 5:
                    _add(tar, f'{key}.json', json.dumps(dict(caption=[key, key])).encode())
                else:
                    _add(tar, f'{key}.txt', f'caption of {key}'.encode())
            if s == 0:
                _add(tar, 'bad.jpg', b'not a jpeg')
                _add(tar, 'bad.txt', b'broken image')
                _add(tar, 'empty.jpg', jpg)
                _add(tar, 'empty.txt', b'  \n')
                _add(tar, 'lonely.jpg', jpg)
    return out


def _keys(dataset, **loader_kwargs):
    loader = DataLoader(dataset, batch_size=None, collate_fn=_identity, **loader_kwargs)
    return [sample['key'] for sample in loader]


def _identity(x):
    return x


def test_tar_helpers(shard_dir):
    assert expand_braces('a-{008..011}.tar') == [
        'a-008.tar', 'a-009.tar', 'a-010.tar', 'a-011.tar'
    ]
    assert expand_braces('{x,y}/{0..1}') == ['x/0', 'x/1', 'y/0', 'y/1']
    assert split_member_name('dir/a.b.JPG') == ('dir/a', 'b.jpg')
    assert count_tar_samples(str(shard_dir / 'part-000.tar')) == 5  # 3 + bad + empty pairs
    parts = [shard_assignment(10, 3, r, 2, w, 3, seed=1) for r in range(2) for w in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))


def test_tar_counts_and_skip_counters(shard_dir):
    ds = ImageTextShardDataset(
        shards=str(shard_dir / 'part-{000..005}.tar'), shuffle_shards=False, rank=0, world_size=1)
    assert len(ds) == 18 + 2  # header count: the broken image and empty caption are pairs
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        samples = list(ds)
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert any('skipped a sample (missing pair)' in m and 'lonely' in m for m in messages)
    assert any('done: 18 samples from 6 shard(s); skipped this epoch: 1 empty caption, 1 '
               'missing pair, 1 unreadable image' in m for m in messages)
    assert [s['key'] for s in samples] == [f's{s}k{i}' for s in range(6) for i in range(3)]
    assert dict(ds.skips.counts) == {'unreadable image': 1, 'empty caption': 1, 'missing pair': 1}
    first = samples[0]
    assert first['img'].shape == (24, 32, 3) and first['img'].dtype == np.uint8
    assert first['caption'] == 'caption of s0k0' and first['img_path'].endswith(':s0k0.jpg')
    assert samples[-1]['caption'] == 's5k2'  # drawn from the .json caption list
    # A truncated shard: what precedes the cut is read, the rest is counted as unreadable.
    src = shard_dir / 'part-001.tar'
    with tarfile.open(src) as tar:
        third = tar.getmembers()[2].offset  # header of s1k1.png
    data = src.read_bytes()
    for cut_at, expected in ((third + 100, ['s1k0']), (third + 512 + 40, ['s1k0'])):
        cut = shard_dir / 'cut.tar'
        cut.write_bytes(data[:cut_at])
        bad = ImageTextShardDataset(shards=str(cut), num_samples=3, world_size=1, rank=0)
        assert [s['key'] for s in bad] == expected
        assert bad.skips.counts['unreadable shard'] == 1
    cut.unlink()


def test_tar_split_over_ranks_and_workers_covers_every_sample_once(shard_dir):
    spec = str(shard_dir / 'part-*.tar')
    expected = sorted(f's{s}k{i}' for s in range(6) for i in range(3))
    orders = []
    for epoch in (0, 1):
        seen = []
        for rank in range(2):
            ds = ImageTextShardDataset(shards=spec, rank=rank, world_size=2, seed=3)
            ds.set_epoch(epoch)
            keys = _keys(ds, num_workers=2)
            # Each rank reads whole shards, so its keys come from its own shards only.
            mine = {s for w in range(2) for s in ds.shards_for(epoch, w, 2)}
            assert {k[1] for k in keys} == {Path(p).stem[-1] for p in mine}
            seen += keys
        assert sorted(seen) == expected
        orders.append(seen)
    assert orders[0] != orders[1]


def test_tar_epochs_advance_without_set_epoch_and_repeat(shard_dir):
    spec = [str(shard_dir / f'part-{s:03d}.tar') for s in range(6)]
    ds = ImageTextShardDataset(shards=spec, rank=0, world_size=1, num_samples=18, seed=0)
    first, second = _keys(ds), _keys(ds)
    ref = ImageTextShardDataset(shards=spec, rank=0, world_size=1, num_samples=18, seed=0)
    ref.set_epoch(1)
    assert first != second and second == _keys(ref) and sorted(first) == sorted(second)
    # Persistent workers keep their copy and move on by themselves, like num_workers=0.
    loader = DataLoader(
        ds, batch_size=None, collate_fn=_identity, num_workers=2, persistent_workers=True)
    ds.set_epoch(0)
    by_epoch = [[s['key'] for s in loader] for _ in range(2)]
    assert sorted(by_epoch[0]) == sorted(by_epoch[1]) == sorted(first)
    assert by_epoch[0] != by_epoch[1]
    buffered = ImageTextShardDataset(
        shards=spec, rank=0, world_size=1, num_samples=18, shuffle_buffer=4)
    keys = _keys(buffered)
    assert sorted(keys) == sorted(first) and keys != first
    endless = ImageTextShardDataset(shards=spec, rank=0, world_size=1, num_samples=18, repeat=True)
    got = [s['key'] for s in islice(iter(endless), 40)]
    assert sorted(got[:18]) == sorted(first) and sorted(got[18:36]) == sorted(first)
    few = ImageTextShardDataset(shards=spec[:1], rank=1, world_size=2, num_samples=5, repeat=True)
    with pytest.raises(ValueError, match='every worker needs a shard'):
        iter(few)


# ---------------------------------------------------------------------------- tokenisation
def test_tokenize_caption_tokens_truncation_and_flip():
    tr = TokenizeCaption(TOKENIZER, max_length=10)
    vocab = (VOCAB_DIR / 'vocab.txt').read_text().split('\n')
    out = tr(dict(caption='A red circle on the left.', flip=False))
    tokens = ['[CLS]', 'a', 'red', 'circle', 'on', 'the', 'left', '.', '[SEP]', '[PAD]']
    assert out['input_ids'].tolist() == [vocab.index(t) for t in tokens]
    assert out['input_ids'].dtype == torch.int64 and out['attention_mask'].dtype == torch.int64
    assert out['attention_mask'].tolist() == [1] * 9 + [0]
    flipped = tr(dict(caption='A red circle on the left.', flip=True, flip_direction='horizontal'))
    assert flipped['text'] == 'A red circle on the right.'
    assert tr.tokenizer.convert_ids_to_tokens(flipped['input_ids'].tolist())[6] == 'right'
    short = TokenizeCaption(TOKENIZER, max_length=5)
    out = short(dict(caption='a red circle on the left'))
    assert short.tokenizer.convert_ids_to_tokens(
        out['input_ids'].tolist()) == ['[CLS]', 'a', 'red', 'circle', '[SEP]']
    assert short.drops.counts['captions truncated'] == 1
    with pytest.raises(ValueError, match='non-empty string'):
        short(dict(caption='  '))


# ---------------------------------------------------------------------------- contract
def test_toy_config_pipeline_gives_the_mug_contract(toy_scenes):
    from mmpretrain.registry import DATASETS
    cfg = Config.fromfile(str(REPO / 'configs/_base_/datasets/toy_scenes_mug.py'))
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = str(toy_scenes)
    dataset_cfg.pipeline[3].tokenizer = TOKENIZER
    ds = DATASETS.build(dataset_cfg)
    assert len(ds) == 12
    batch = default_collate([ds[i] for i in range(4)])
    assert batch['inputs'].shape == (4, 3, 64, 64) and batch['inputs'].dtype == torch.uint8
    tok = ds.pipeline.transforms[3].tokenizer
    for sample in batch['data_samples']:
        ids, mask = sample.input_ids, sample.attention_mask
        assert ids.shape == mask.shape == (40, ) and ids.dtype == mask.dtype == torch.int64
        n = int(mask.sum())
        assert mask.tolist() == [1] * n + [0] * (40 - n)
        assert ids[0] == tok.cls_token_id and ids[n - 1] == tok.sep_token_id
        assert (ids[n:] == tok.pad_token_id).all() and tok.unk_token_id not in ids.tolist()
        assert tok.decode(ids[1:n - 1]) == tok.decode(tok(sample.text)['input_ids'][1:-1])
    # The same transforms as the whole pipeline of the tar dataset (image decoded there).
    assert [t['type'] for t in cfg.mug_transforms
            ] == ['RandomResizedCrop', 'RandomFlip', 'TokenizeCaption', 'PackInputs']
    laion = Config.fromfile(str(REPO / 'configs/_base_/datasets/laion_mug.py'))
    assert laion.train_dataloader.sampler is None
    assert laion.train_dataloader.dataset.pipeline == laion.mug_transforms


# ---------------------------------------------------------------------------- packing tool
def _load_tool():
    path = REPO / 'tools' / 'data' / 'make_image_text_shards.py'
    spec = importlib.util.spec_from_file_location('_make_image_text_shards', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pack_shards_roundtrip_resume_and_split(img_root, tmp_path):
    tool = _load_tool()
    src = _write_list(img_root, 'jsonl')
    out = tmp_path / 'packed'
    common = [
        str(src),
        str(out), '--img-root',
        str(img_root), '--samples-per-shard', '3', '--prefix', 'toy', '--no-progress'
    ]
    first = tool.main(common + ['--shard', '0/2'])
    assert first['manifest'] is None and first['written'] == 2  # shards 0 and 2 of 3
    second = tool.main(common + ['--shard', '1/2'])
    manifest = json.loads((out / 'toy.json').read_text())
    assert second['manifest'] == str(out / 'toy.json')
    assert manifest['num_samples'] == 6 and manifest['num_shards'] == 3
    assert manifest['skipped'] == {'unreadable image': 1}
    assert manifest['source_skipped'] == {'empty caption': 1, 'malformed record': 1}
    again = tool.main(common)
    assert again['written'] == 0 and again['reused'] == 3
    ds = ImageTextShardDataset(
        shards=str(out / 'toy.json'), shuffle_shards=False, rank=0, world_size=1)
    assert len(ds) == 6
    samples = list(ds)
    assert [s['caption'] for s in samples] == [c.strip() for _, c in GOOD]
    assert samples[1]['img'].shape == (24, 32, 3) and not ds.skips.counts
    with pytest.raises(SystemExit):
        tool.main(common[:-5] + ['--samples-per-shard', '2', '--prefix', 'toy', '--no-progress'])


def test_coco_per_image_shards_keep_all_captions(toy_scenes, tmp_path):
    tool = _load_tool()
    out = tmp_path / 'coco'
    tool.main([
        str(toy_scenes / 'annotations/captions_train2017.json'),
        str(out), '--img-root',
        str(toy_scenes / 'train2017'), '--samples-per-shard', '5', '--no-progress', '--no-verify'
    ])
    ds = ImageTextShardDataset(shards=str(out / 'shard.json'), rank=0, world_size=1)
    ref = CocoCaptionsDataset(
        ann_file='annotations/captions_train2017.json',
        data_root=str(toy_scenes),
        data_prefix='train2017/')
    assert len(ds) == 12
    for sample in ds:
        k = int(sample['key'])
        assert sample['caption'] in ref.get_data_info(k)['captions']


# ---------------------------------------------------------------------------- mmengine Runner
class _CaptionCounter(torch.nn.Module):
    """A model whose loss is a parameter times the mean token count, recording the keys."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))
        self.keys = []

    def train_step(self, data, optim_wrapper):
        self.keys += [s.ann_source for s in data['data_samples']]
        ids = torch.stack([s.input_ids for s in data['data_samples']])
        loss = (self.w * (ids > 0).float().mean()).sum()
        optim_wrapper.update_params(loss)
        return dict(loss=loss)


@pytest.mark.parametrize('loop', ['iter', 'epoch'])
def test_runner_trains_on_tar_shards(shard_dir, tmp_path, loop):
    from mmengine.runner import Runner
    pipeline = [
        dict(type='Resize', scale=(16, 16)),
        dict(type='TokenizeCaption', tokenizer=TOKENIZER, max_length=8),
        dict(
            type='PackInputs',
            algorithm_keys=['input_ids', 'attention_mask'],
            meta_keys=['ann_source'])
    ]
    model = _CaptionCounter()
    train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=12) if loop == 'iter' else dict(
            type='EpochBasedTrainLoop', max_epochs=2)
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f'image_text_{loop}',
        train_dataloader=dict(
            batch_size=3,
            num_workers=0,
            sampler=None,
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='ImageTextShardDataset',
                shards=str(shard_dir / 'part-*.tar'),
                repeat=loop == 'iter',
                pipeline=pipeline)),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)),
        custom_hooks=[dict(type='DatasetEpochHook')],
        default_hooks=dict(logger=dict(type='LoggerHook', interval=2), checkpoint=None),
        default_scope='mmpretrain')
    runner.train()
    assert len(model.keys) == 36
    epochs = [sorted(model.keys[:18]), sorted(model.keys[18:])]
    assert epochs[0] == epochs[1] and len(set(epochs[0])) == 18
    assert model.keys[:18] != model.keys[18:]  # the second epoch reads another shard order
