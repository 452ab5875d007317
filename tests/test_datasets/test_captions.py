"""Utterance tokenisation through offset mappings, the left/right swap, and the data contract."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from transformers import BertTokenizer

from mmvisrep.datasets.transforms.captions import (TokenizeUtterances, align_tokens,
                                                   build_tokenizer, swap_left_right,
                                                   utterance_spans)
from mmvisrep.datasets.transforms.traces import RenderTraceMaps

VOCAB_DIR = Path(__file__).resolve().parents[1] / 'data' / 'bert_vocab'
TOKENIZER = dict(type='AutoTokenizer', name_or_path=str(VOCAB_DIR))
SPEC_UTTERANCES = ['In this', 'image there are', 'group of cows', 'standing.']
CONTRACT = ('input_ids', 'attention_mask', 'utterance_token_mask', 'trace_maps', 'utterance_valid')


def test_offline_tokenizers_from_the_shipped_vocab():
    tok = build_tokenizer(TOKENIZER)
    assert tok.is_fast
    tok2 = build_tokenizer(dict(type='BertTokenizerFast', vocab_file=str(VOCAB_DIR / 'vocab.txt')))
    text = 'In this image there are group of cows standing.'
    assert tok(text)['input_ids'] == tok2(text)['input_ids']
    assert build_tokenizer(tok) is tok
    # The same dict works through mmpretrain's TOKENIZER registry (for the model side).
    from mmpretrain.registry import TOKENIZER as REG
    assert REG.build(TOKENIZER)(text)['input_ids'] == tok(text)['input_ids']
    with pytest.raises(ValueError, match='no tokenizer class'):
        build_tokenizer(dict(type='NoSuchTokenizer'))
    with pytest.raises(ValueError, match='fast tokenizer'):
        TokenizeUtterances(BertTokenizer(vocab_file=str(VOCAB_DIR / 'vocab.txt')))


def test_spec_record_tokens_and_alignment():
    tr = TokenizeUtterances(TOKENIZER, max_length=16, max_utterances=6)
    out = tr(dict(utterances=list(SPEC_UTTERANCES)))
    tok = tr.tokenizer
    ids = out['input_ids']
    assert ids.dtype == torch.int64 and tuple(ids.shape) == (16, )
    tokens = tok.convert_ids_to_tokens(ids.tolist())
    # Hand-written: lower-cased WordPiece; 'cows' is not in the vocab -> 'cow' '##s'.
    assert tokens == [
        '[CLS]', 'in', 'this', 'image', 'there', 'are', 'group', 'of', 'cow', '##s', 'standing',
        '.', '[SEP]', '[PAD]', '[PAD]', '[PAD]'
    ]
    assert out['attention_mask'].tolist() == [1] * 13 + [0] * 3
    assert out['text'] == 'In this image there are group of cows standing.'
    mask = out['utterance_token_mask']
    assert mask.dtype == torch.bool and tuple(mask.shape) == (6, 16)
    expected = {0: [1, 2], 1: [3, 4, 5], 2: [6, 7, 8, 9], 3: [10, 11]}
    for k in range(6):
        assert torch.nonzero(mask[k]).flatten().tolist() == expected.get(k, [])
    assert out['utterance_valid'].tolist() == [True] * 4 + [False] * 2
    assert out['token_valid'].tolist() == [True] * 4 + [False] * 2


def test_alignment_uses_offsets_not_string_search():
    # Repeated words: each 'a' / 'red' / 'circle' belongs to its own utterance.
    utts = ['a red circle', 'and', 'a red circle', '', 'left.']
    text, starts, ends = utterance_spans(utts)
    assert text == 'a red circle and a red circle  left.'
    np.testing.assert_array_equal(starts, [0, 13, 17, 30, 31])
    np.testing.assert_array_equal(ends, [12, 16, 29, 30, 36])
    out = TokenizeUtterances(TOKENIZER, max_length=16, max_utterances=5)(dict(utterances=utts))
    owner = [
        int(np.nonzero(col)[0][0]) if col.any() else -1
        for col in out['utterance_token_mask'].numpy().T
    ]
    # [CLS] a red circle and a red circle left . [SEP] pad...
    assert owner[:11] == [-1, 0, 0, 0, 1, 2, 2, 2, 4, 4, -1]
    assert out['utterance_valid'].tolist() == [True, True, True, False, True]
    # align_tokens on raw offsets: special/padding tokens and empty spans never count.
    offsets = np.array([[0, 0], [0, 1], [2, 5], [13, 16], [0, 0]])
    cand = np.array([False, True, True, True, False])
    np.testing.assert_array_equal(align_tokens(offsets, starts, ends, cand), [-1, 0, 0, 1, -1])
    assert (align_tokens(offsets, np.zeros(0, int), np.zeros(0, int), cand) == -1).all()


def test_truncation_and_max_utterances_are_counted():
    utts = ['a red circle', 'on the left', 'and a blue star', 'in the middle']
    tr = TokenizeUtterances(TOKENIZER, max_length=8, max_utterances=3)
    out = tr(dict(utterances=utts))
    # [CLS] a red circle on the left [SEP]: utterance 2 is cut away, utterance 3 is beyond U.
    assert out['utterance_valid'].tolist() == [True, True, False]
    assert out['utterance_token_mask'][:, -1].sum() == 0  # [SEP] belongs to nobody
    assert tr.drops.counts['utterances beyond max_utterances dropped'] == 1
    assert tr.drops.counts['utterances without tokens (empty or cut by max_length)'] == 1


def test_swap_left_right():
    assert swap_left_right('on the left, to the right') == 'on the right, to the left'
    assert swap_left_right('Left and RIGHT') == 'Right and LEFT'
    assert swap_left_right('the leftmost, rightward bright lefty') == \
        'the rightmost, leftward bright lefty'
    assert swap_left_right(swap_left_right('left-hand right')) == 'left-hand right'


def test_validity_is_the_and_of_trace_and_tokens():
    results = dict(
        img=np.zeros((7, 7, 3), np.uint8),
        utterances=['a red circle', 'and', 'the sky'],
        utterance_times=np.array([[0, 1], [1, 2], [2, 3.0]]),
        trace_xy=np.array([[0.5, 0.5], [0.6, 0.5], [0.2, 0.2]]),
        trace_t=np.array([0.5, 0.7, 2.5]),
        trace_seg=np.zeros(3, np.int32))
    tok = TokenizeUtterances(TOKENIZER, max_length=6, max_utterances=4)
    render = RenderTraceMaps(grid=7, sigma=0, max_utterances=4)
    # 'and' has no trace point; 'the sky' is cut by max_length 6 ([CLS] a red circle and [SEP]).
    for order in ((render, tok), (tok, render)):
        out = dict(results)
        for t in order:
            out = t(out)
        assert out['trace_valid'].tolist() == [True, False, True, False]
        assert out['token_valid'].tolist() == [True, True, False, False]
        assert out['utterance_valid'].tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match='same max_utterances'):
        TokenizeUtterances(TOKENIZER, max_utterances=5)(render(dict(results)))


def test_toy_pipeline_contract_and_collate(toy_scenes):
    """The full toy pipeline: fixed-size fields with the contract dtypes, stackable batches."""
    init_default_scope('mmpretrain')
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS
    cfg = Config.fromfile(
        str(Path(__file__).resolve().parents[2] / 'configs/_base_/datasets/toy_scenes_loctex.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = str(toy_scenes)
    ds_cfg.index_cache = None
    for t in ds_cfg.pipeline:
        if t['type'] == 'TokenizeUtterances':
            t['tokenizer'] = TOKENIZER
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 12
    tok = next(t for t in ds.pipeline.transforms if isinstance(t, TokenizeUtterances)).tokenizer
    batch = default_collate([ds[i] for i in range(4)])
    assert batch['inputs'][0].shape == (3, 96, 96) and batch['inputs'][0].dtype == torch.uint8
    samples = batch['data_samples']
    shapes = dict(
        input_ids=((64, ), torch.int64),
        attention_mask=((64, ), torch.int64),
        utterance_token_mask=((32, 64), torch.bool),
        trace_maps=((32, 3, 3), torch.float32),
        utterance_valid=((32, ), torch.bool))
    for key in CONTRACT:
        stacked = torch.stack([getattr(s, key) for s in samples])
        assert tuple(stacked.shape[1:]) == shapes[key][0] and stacked.dtype == shapes[key][1]
    for s in samples:
        valid = s.utterance_valid
        assert valid.any()
        np.testing.assert_allclose(s.trace_maps[valid].sum((1, 2)).numpy(), 1, rtol=1e-5)
        assert (s.trace_maps[~valid] == 0).all()
        assert s.utterance_token_mask[valid].any(1).all()
        assert not s.utterance_token_mask[:, 0].any()  # [CLS]
        assert tok.unk_token_id not in s.input_ids.tolist()
        assert s.num_utterances == len(s.utterances)


def test_toy_vocab_covers_toy_text(toy_scenes):
    tok = build_tokenizer(TOKENIZER)
    unk = tok.unk_token_id
    for split in ('train', 'val'):
        path = toy_scenes / 'annotations' / f'coco_{split}_localized_narratives.jsonl'
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            assert unk not in tok(rec['caption'])['input_ids'], rec['caption']
        caps = json.loads((toy_scenes / 'annotations' / f'captions_{split}2017.json').read_text())
        for ann in caps['annotations']:
            assert unk not in tok(ann['caption'])['input_ids'], ann['caption']
