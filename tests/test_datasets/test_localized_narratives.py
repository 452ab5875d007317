"""LocalizedNarrativesDataset: 7-key schema, byte-offset index, malformed lines, caching,
shards, image paths, subsets and worker processes."""
import copy
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import mmvisrep.datasets.line_index as line_index
import mmvisrep.datasets.localized_narratives as ln
from mmvisrep.datasets import LocalizedNarrativesDataset
from mmvisrep.datasets.localized_narratives import (LN_KEYS, LNRecordError, build_ln_index,
                                                    index_cache_path, parse_line, parse_record)

SPEC_FILE = Path(__file__).resolve().parents[1] / 'data' / 'localized_narratives' / \
    'spec_example.jsonl'
SPEC_RECORD = json.loads(SPEC_FILE.read_text())


def _record(image_id='137576', annotator_id=93, dataset_id='mscoco_val2017', caption=None, seed=0):
    """A schema-exact record derived from the spec example, varied by ``seed``."""
    rec = copy.deepcopy(SPEC_RECORD)
    rec.update(dataset_id=dataset_id, image_id=image_id, annotator_id=annotator_id)
    if caption is not None:
        rec['caption'] = caption
    rng = np.random.default_rng(seed)
    for seg in rec['traces']:
        for p in seg:
            p['x'] = round(float(p['x'] + rng.normal(0, 0.01)), 4)
    return rec


@pytest.fixture
def logs(monkeypatch):
    """Messages sent to print_log by the dataset module."""
    messages = []
    monkeypatch.setattr(ln, 'print_log', lambda msg, *a, **k: messages.append(str(msg)))
    return messages


def _write(path, lines, newline='\n'):
    with open(path, 'w', encoding='utf-8', newline='') as f:
        f.write(''.join(line + newline for line in lines))
    return str(path)


def test_parse_record_accepts_the_7_key_schema():
    rec = parse_record(SPEC_RECORD)
    assert tuple(SPEC_RECORD) == LN_KEYS
    assert rec['utterances'] == ['In this', 'image there are', 'group of cows', 'standing.']
    np.testing.assert_array_equal(rec['utterance_times'],
                                  [[0, 0.4], [0.4, 1.2], [1.2, 2.0], [2.0, 2.5]])
    np.testing.assert_array_equal(rec['trace_xy'][0], [0.2086, -0.0533])
    np.testing.assert_array_equal(rec['trace_t'], [0.022, 0.5, 1.3, 1.7, 2.1, 2.4])
    np.testing.assert_array_equal(rec['trace_seg'], [0, 0, 0, 0, 1, 1])
    assert rec['trace_seg'].dtype == np.int32 and rec['trace_xy'].dtype == np.float64
    assert parse_line(json.dumps(SPEC_RECORD).encode())['image_id'] == '137576'
    empty = dict(SPEC_RECORD, timed_caption=[], traces=[])
    out = parse_record(empty)
    assert out['utterance_times'].shape == (0, 2) and out['trace_xy'].shape == (0, 2)


@pytest.mark.parametrize('change, message', [
    (dict(extra_key=1), r"unexpected \['extra_key'\]"),
    (dict(traces=None), 'traces must be a list'),
    (dict(image_id=137576), 'image_id must be a string'),
    (dict(annotator_id='93'), 'annotator_id must be an integer'),
    (dict(annotator_id=True), 'annotator_id must be an integer'),
    (dict(timed_caption=[dict(utterance='a', start_time=0)]),
     r"timed_caption\[0\] lacks \['end_time'\]"),
    (dict(timed_caption=[dict(utterance='a', start_time=0, end_time='x')]), 'must be numbers'),
    (dict(timed_caption=[dict(utterance=3, start_time=0, end_time=1)]),
     'utterances must be strings'),
    (dict(traces=[[dict(x=0.1, y=0.2)]]), r"traces\[0\]\[0\] lacks \['t'\]"),
    (dict(traces=[dict(x=0.1)]), r'traces\[0\] must be a list'),
    (dict(traces=[[dict(x=None, y=0.2, t=0)]]), 'must be numbers'),
    (dict(traces=[[dict(x=float('nan'), y=0.2, t=0)]]), 'finite'),
])
def test_parse_record_rejects_other_schemas(change, message):
    rec = dict(copy.deepcopy(SPEC_RECORD), **change)
    with pytest.raises(LNRecordError, match=message):
        parse_record(rec)


def test_parse_record_missing_keys_and_captions_only_hint():
    rec = {k: v for k, v in SPEC_RECORD.items() if k not in ('traces', 'timed_caption')}
    with pytest.raises(LNRecordError, match=r"missing \['timed_caption', 'traces'\].*captions-"):
        parse_record(rec)
    with pytest.raises(LNRecordError, match='JSON object'):
        parse_record([1, 2])
    with pytest.raises(LNRecordError, match='not valid JSON'):
        parse_line(b'{"dataset_id": ')


def _mixed_file(tmp_path):
    """Lines: unicode records, a CRLF line, blank lines and three malformed lines."""
    recs = [
        _record(
            image_id=str(i), annotator_id=i, seed=i, caption=f'Café №{i} – naïve ☃ ' * (i + 1))
        for i in range(1, 7)
    ]
    lines = [json.dumps(recs[0], ensure_ascii=False), json.dumps(recs[1])]
    lines += ['', '{"broken": ', json.dumps(recs[2], ensure_ascii=False) + '\r', '   ']
    lines += [json.dumps(dict(recs[3], extra=1)), json.dumps(recs[4], ensure_ascii=False)]
    lines += ['[1, 2, 3]', json.dumps(recs[5])]
    path = _write(tmp_path / 'mixed.jsonl', lines)
    good = [recs[0], recs[1], recs[2], recs[4], recs[5]]
    return path, good, [4, 7, 9]  # malformed line numbers


def test_index_equals_naive_parse_and_reports_malformed(tmp_path, logs):
    path, good, bad_lines = _mixed_file(tmp_path)
    ds = LocalizedNarrativesDataset(ann_file=path, index_cache=None)
    assert len(ds) == len(good) == 5
    # Naive reference: read every line, keep the ones that parse.
    naive = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            try:
                naive.append(parse_record(json.loads(line)))
            except (ValueError, LNRecordError):
                continue
    assert len(naive) == 5
    for i, ref in enumerate(naive):
        info = ds.get_data_info(i)
        assert info['caption'] == good[i]['caption'] == ref['caption']
        for key in ('utterance_times', 'trace_xy', 'trace_t', 'trace_seg'):
            np.testing.assert_array_equal(info[key], ref[key])
        assert info['sample_idx'] == i
    # Each malformed line is logged with file:line, and the total is counted.
    for line in bad_lines:
        assert any(m.startswith(f'{path}:{line}: malformed') for m in logs), (line, logs)
    assert ds.num_malformed == 3
    assert any('3 malformed line(s) skipped' in m for m in logs)
    assert ds.get_data_info(-1)['ann_source'] == f'{path}:10'
    assert ds.get_data_info(2)['ann_source'] == f'{path}:5'
    with pytest.raises(IndexError):
        ds.get_data_info(5)


def test_index_arrays_and_raise_mode(tmp_path, logs):
    path, _, _ = _mixed_file(tmp_path)
    index = build_ln_index(path)
    raw = open(path, 'rb').read()
    np.testing.assert_array_equal(index['line'], [1, 2, 5, 8, 10])
    for off, length in zip(index['offset'], index['length']):
        assert raw[off + length:off + length + 1] in (b'\n', b'\r')
        json.loads(raw[off:off + length])
    assert index['meta'].tolist()[3:] == [3, 2]  # malformed, blank
    assert index['bad_line'].tolist() == [4, 7, 9]
    assert index['image_id'].tolist() == [b'1', b'2', b'3', b'5', b'6']
    with pytest.raises(ValueError, match=f'{path}:4: malformed'):
        build_ln_index(path, on_error='raise')
    with pytest.raises(ValueError, match='on_error'):
        LocalizedNarrativesDataset(ann_file=path, on_error='ignore')


def test_cache_reuse_invalidation_and_atomic_write(tmp_path, logs, monkeypatch):
    path, good, _ = _mixed_file(tmp_path)
    ds = LocalizedNarrativesDataset(ann_file=path)  # 'auto': next to the file
    cache = index_cache_path(path)
    assert os.path.isfile(cache) and cache == path + '.lnindex.npz'
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    # A second dataset reads the cache (no rebuild) and still reports the malformed lines.
    logs.clear()

    def no_build(*args, **kwargs):
        raise AssertionError('index rebuilt although the cache is valid')

    monkeypatch.setattr(ln, 'build_ln_index', no_build)
    again = LocalizedNarrativesDataset(ann_file=path)
    assert len(again) == len(ds)
    assert any('3 malformed' in m and f'{path}:4:' in m for m in logs)
    monkeypatch.undo()
    # Appending a record changes size and mtime -> the index is rebuilt.
    with open(path, 'a', encoding='utf-8') as f:
        f.write(json.dumps(_record(image_id='77')) + '\n')
    grown = LocalizedNarrativesDataset(ann_file=path)
    assert len(grown) == len(ds) + 1
    assert grown.get_data_info(len(ds))['image_id'] == '77'
    # An explicit cache directory.
    cache_dir = tmp_path / 'cache'
    LocalizedNarrativesDataset(ann_file=path, index_cache=str(cache_dir))
    files = os.listdir(cache_dir)
    assert len(files) == 1 and files[0].startswith('mixed.jsonl.')


def test_cache_falls_back_when_data_dir_is_not_writable(tmp_path, monkeypatch, logs):
    data = tmp_path / 'data'
    data.mkdir()
    path = _write(data / 'ln.jsonl', [json.dumps(_record())])
    monkeypatch.setenv('MMVISREP_CACHE', str(tmp_path / 'home_cache'))
    save = line_index.save_npz_atomic

    def read_only_data_dir(arrays, target):
        if os.path.dirname(target) == str(data):
            raise PermissionError(13, 'Permission denied', target)
        save(arrays, target)

    monkeypatch.setattr(line_index, 'save_npz_atomic', read_only_data_dir)
    ds = LocalizedNarrativesDataset(ann_file=path)
    assert len(ds) == 1
    assert any('cannot write' in m for m in logs)
    assert not os.path.exists(index_cache_path(path))
    cached = os.listdir(tmp_path / 'home_cache' / 'ln_index')
    assert len(cached) == 1 and cached[0].startswith('ln.jsonl.')
    # The next run finds the fallback cache without building.
    monkeypatch.setattr(ln, 'build_ln_index', lambda *a, **k: 1 / 0)
    assert len(LocalizedNarrativesDataset(ann_file=path)) == 1


def test_shards_multiple_narratives_and_image_paths(tmp_path, logs):
    shard0 = _write(
        tmp_path / 'coco-00000-of-00002.jsonl',
        [
            json.dumps(_record(image_id='137576', annotator_id=1)),
            json.dumps(_record(image_id='137576', annotator_id=2)),  # same image, 2nd narrative
        ])
    shard1 = _write(tmp_path / 'coco-00001-of-00002.jsonl', [
        json.dumps(_record(image_id='9', annotator_id=3, dataset_id='mscoco_train2017')),
        json.dumps(_record(image_id='0f1e2d3c4b5a6978', dataset_id='open_images_train_v6')),
    ])
    ds = LocalizedNarrativesDataset(
        ann_file=['coco-00000-of-00002.jsonl', 'coco-00001-of-00002.jsonl'],
        data_root=str(tmp_path),
        data_prefix='images',
        index_cache=None)
    assert len(ds) == 4 and ds.num_images() == 3
    infos = [ds.get_data_info(i) for i in range(4)]
    assert [i['annotator_id'] for i in infos[:2]] == [1, 2]
    img = str(tmp_path / 'images')
    assert infos[0]['img_path'] == f'{img}/val2017/000000137576.jpg'
    assert infos[2]['img_path'] == f'{img}/train2017/000000000009.jpg'
    assert infos[3]['img_path'] == f'{img}/0f1e2d3c4b5a6978.jpg'  # '*open_images*' default
    assert infos[2]['ann_source'] == f'{shard1}:1' and infos[1]['ann_source'] == f'{shard0}:2'
    assert ds.image_key(3) == ('open_images_train_v6', '0f1e2d3c4b5a6978')
    # Custom templates: '*' catches everything (e.g. the Open Images shards).
    oi = LocalizedNarrativesDataset(
        ann_file=shard1, image_templates={'*': 'train/{image_id}.jpg'}, index_cache=None)
    assert oi.get_data_info(1)['img_path'] == 'train/0f1e2d3c4b5a6978.jpg'
    # A dataset_id without template and a non-numeric id for a numeric template fail at init.
    with pytest.raises(ValueError, match="no image template for dataset_id 'open_images_"):
        LocalizedNarrativesDataset(
            ann_file=shard1,
            image_templates={'mscoco_train2017': '{image_id}.jpg'},
            index_cache=None)
    with pytest.raises(ValueError, match=f'{shard1}:2 is not numeric'):
        LocalizedNarrativesDataset(
            ann_file=shard1, image_templates={'*': '{image_id:012d}.jpg'}, index_cache=None)
    with pytest.raises(ValueError, match='only {image_id} and {dataset_id}'):
        LocalizedNarrativesDataset(ann_file=shard1, image_templates={'*': '{split}/{image_id}'})


def test_file_without_valid_records_fails(tmp_path, logs):
    captions_only = {
        k: SPEC_RECORD[k]
        for k in ('dataset_id', 'image_id', 'annotator_id', 'caption')
    }
    path = _write(tmp_path / 'coco_val_captions.jsonl', [json.dumps(captions_only)] * 2)
    with pytest.raises(ValueError, match=r'no valid record .*:1: .*captions-only'):
        LocalizedNarrativesDataset(ann_file=path, index_cache=None)
    with pytest.raises(FileNotFoundError, match='not found'):
        LocalizedNarrativesDataset(ann_file=str(tmp_path / 'missing.jsonl'))
    with pytest.raises(ValueError, match='ann_file'):
        LocalizedNarrativesDataset(ann_file=[])


def test_subsets_lazy_init_and_pickling(tmp_path, logs):
    lines = [json.dumps(_record(image_id=str(i), annotator_id=i)) for i in range(10)]
    path = _write(tmp_path / 'ln.jsonl', lines)
    ds = LocalizedNarrativesDataset(ann_file=path, indices=[7, 2, 5], index_cache=None)
    assert [ds.get_data_info(i)['image_id'] for i in range(3)] == ['7', '2', '5']
    lazy = LocalizedNarrativesDataset(ann_file=path, lazy_init=True, index_cache=None)
    assert not lazy._fully_initialized
    assert len(lazy) == 10 and lazy._fully_initialized
    first = lazy.get_subset(3)
    last = lazy.get_subset(-2)
    assert [first.get_data_info(i)['image_id'] for i in range(3)] == ['0', '1', '2']
    assert [last.get_data_info(i)['image_id'] for i in range(2)] == ['8', '9']
    assert len(lazy) == 10
    lazy.get_subset_([9, 0])
    assert [lazy.get_data_info(i)['image_id'] for i in range(2)] == ['9', '0']
    # Open file handles are not pickled; the copy reopens lazily.
    clone = pickle.loads(pickle.dumps(lazy))
    assert clone._handles._fds == {}
    assert clone.get_data_info(0)['image_id'] == '9'


def test_toy_scenes_in_dataloader_workers(toy_scenes, logs):
    """The toy pipeline through a 2-worker DataLoader (files opened lazily per worker)."""
    init_default_scope('mmpretrain')
    from mmengine.dataset import default_collate
    tok = dict(
        type='AutoTokenizer',
        name_or_path=os.path.join(os.path.dirname(__file__), '..', 'data', 'bert_vocab'))
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LNRandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.0)),
        dict(type='LNRandomFlip', prob=0.5),
        dict(type='RenderTraceMaps', grid=2, max_utterances=24),
        dict(type='TokenizeUtterances', tokenizer=tok, max_length=48, max_utterances=24),
        dict(
            type='PackInputs',
            algorithm_keys=[
                'input_ids', 'attention_mask', 'utterance_token_mask', 'trace_maps',
                'utterance_valid'
            ],
            meta_keys=['sample_idx', 'img_path', 'image_id', 'utterances'])
    ]
    ds = LocalizedNarrativesDataset(
        ann_file='annotations/coco_train_localized_narratives.jsonl',
        data_root=str(toy_scenes),
        index_cache=str(toy_scenes.parent / 'ln_cache'),
        pipeline=pipeline)
    assert len(ds) == 12
    info = ds.get_data_info(3)
    assert os.path.isfile(info['img_path'])
    assert info['img_path'].endswith(f'train2017/{int(info["image_id"]):012d}.jpg')
    ds.get_data_info(0)  # the parent opens its handle before forking
    loader = torch.utils.data.DataLoader(
        ds, batch_size=4, num_workers=2, collate_fn=default_collate, shuffle=False)
    seen = []
    for batch in loader:
        seen += [int(s.sample_idx) for s in batch['data_samples']]
        maps = torch.stack([s.trace_maps for s in batch['data_samples']])
        assert maps.shape == (4, 24, 2, 2)
    assert sorted(seen) == list(range(12))
    # A pipeline with a stock crop is refused.
    with pytest.raises(ValueError, match='LNRandomResizedCrop'):
        LocalizedNarrativesDataset(
            ann_file='annotations/coco_train_localized_narratives.jsonl',
            data_root=str(toy_scenes),
            index_cache=None,
            pipeline=[
                dict(type='RandomResizedCrop', scale=64),
                dict(type='RenderTraceMaps', grid=2)
            ])


def test_missing_image_names_the_record(tmp_path, logs):
    init_default_scope('mmpretrain')
    path = _write(tmp_path / 'ln.jsonl', [json.dumps(_record())])
    ds = LocalizedNarrativesDataset(
        ann_file=path, index_cache=None, pipeline=[dict(type='LoadImageFromFile')])
    with pytest.raises(FileNotFoundError, match=f'{path}:1 .*137576'):
        ds[0]


def test_concat_dataset_as_in_the_coco_openimages_config(tmp_path, logs):
    init_default_scope('mmpretrain')
    from mmpretrain.registry import DATASETS
    coco = _write(tmp_path / 'coco.jsonl', [json.dumps(_record(image_id='5'))])
    oi = _write(tmp_path / 'oi.jsonl', [
        json.dumps(_record(image_id='ab12', dataset_id='open_images_train_v6')),
        json.dumps(_record(image_id='cd34', dataset_id='open_images_train_v6'))
    ])
    ds = DATASETS.build(
        dict(
            type='ConcatDataset',
            datasets=[
                dict(type='LocalizedNarrativesDataset', ann_file=coco, index_cache=None),
                dict(
                    type='LocalizedNarrativesDataset',
                    ann_file=oi,
                    data_root=str(tmp_path / 'openimages'),
                    image_templates={'*': 'train/{image_id}.jpg'},
                    index_cache=None)
            ]))
    assert len(ds) == 3
    assert ds.get_data_info(0)['img_path'] == 'val2017/000000000005.jpg'
    assert ds.get_data_info(2)['img_path'] == f'{tmp_path}/openimages/train/cd34.jpg'
