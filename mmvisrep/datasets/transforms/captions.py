"""Caption tokenisation aligned to Localized Narratives utterances, and the flip word swap.

``TokenizeUtterances`` tokenises the joined utterances (``' '.join(utterances)``, spec 2.5
item 6) with a HuggingFace *fast* tokenizer and assigns each token to the utterance whose
character span contains the token's start, read from the tokenizer's ``offset_mapping``: no
string search, so repeated words and subword pieces are attributed exactly.
"""
import re
from collections import Counter
from typing import List, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS

# "left"/"right" as a word or the first part of leftmost, rightward(s), lefthand (any case).
_LEFT_RIGHT = re.compile(r'\b(left|right)(most|wards?|hand)?\b', re.IGNORECASE)
_SWAP = {'left': 'right', 'right': 'left'}


def _match_case(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def swap_left_right(text: str) -> str:
    """Swap the words left <-> right (also leftmost, rightward(s), lefthand), keeping case.

    Whole words only: "bright" and "lefty" are unchanged (unlike VirTex's substring replace).
    """

    def repl(m):
        head = m.group(1)
        return _match_case(_SWAP[head.lower()], head) + (m.group(2) or '')

    return _LEFT_RIGHT.sub(repl, text)


def build_tokenizer(cfg):
    """A HuggingFace tokenizer from a config dict (or a tokenizer, returned as is).

    ``dict(type='AutoTokenizer', name_or_path='bert-base-uncased')`` calls
    ``transformers.AutoTokenizer.from_pretrained(name_or_path, **rest)`` (the convention of
    mmpretrain's ``TOKENIZER`` registry, so the same dict works there); without
    ``name_or_path`` the class is called directly, e.g. ``dict(type='BertTokenizerFast',
    vocab_file='tests/data/bert_vocab/vocab.txt')``.
    """
    if not isinstance(cfg, dict):
        return cfg
    import transformers
    cfg = dict(cfg)
    name = cfg.pop('type', 'AutoTokenizer')
    cls = getattr(transformers, name, None) if isinstance(name, str) else name
    if cls is None:
        raise ValueError(f'build_tokenizer: transformers has no tokenizer class {name!r}')
    path = cfg.pop('name_or_path', cfg.pop('pretrained_model_name_or_path', None))
    if path is not None:
        return cls.from_pretrained(path, **cfg)
    return cls(**cfg)


def utterance_spans(utterances: Sequence[str],
                    sep: str = ' ') -> Tuple[str, np.ndarray, np.ndarray]:
    """``(text, starts, ends)``: the joined string and each utterance's [start, end) span."""
    lengths = np.array([len(u) for u in utterances], dtype=np.int64)
    starts = np.zeros(len(lengths), np.int64)
    if len(lengths) > 1:
        starts[1:] = np.cumsum(lengths[:-1] + len(sep))
    return sep.join(utterances), starts, starts + lengths


def align_tokens(offsets: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 candidate: np.ndarray) -> np.ndarray:
    """Utterance index of each token (-1: none) from its character offsets.

    A candidate token (not special, not padding, non-empty span) belongs to the utterance
    whose span contains the token's first character.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    if len(starts) == 0:
        return np.full(len(offsets), -1, np.int64)
    owner = np.searchsorted(starts, offsets[:, 0], side='right') - 1
    ok = candidate & (offsets[:, 1] > offsets[:, 0]) & (owner >= 0)
    ok &= offsets[:, 0] < ends[np.clip(owner, 0, None)]
    return np.where(ok, owner, -1)


class DropCounter:
    """Counts items a transform drops, per process, and logs the running total the first time
    and then at every tenfold, so that no drop goes unreported."""

    def __init__(self, owner: str):
        self.owner = owner
        self.counts = Counter()
        self._next = {}

    def add(self, what: str, num: int, detail: str = '') -> None:
        if num <= 0:
            return
        self.counts[what] += num
        if self.counts[what] >= self._next.get(what, 1):
            print_log(
                f'{self.owner}: {self.counts[what]} {what} so far in this process{detail}',
                logger='current',
                level=30)
            self._next[what] = 10 * self.counts[what]


def merge_utterance_valid(results: dict, valid: np.ndarray, owner: str) -> None:
    """AND ``valid`` into ``results['utterance_valid']`` (a torch.bool (U,) tensor)."""
    current = results.get('utterance_valid')
    merged = torch.from_numpy(np.asarray(valid, bool).copy())
    if current is not None:
        if tuple(current.shape) != tuple(merged.shape):
            raise ValueError(f'{owner}: utterance_valid has shape {tuple(current.shape)} but '
                             f'this transform makes {tuple(merged.shape)}; use the same '
                             'max_utterances in RenderTraceMaps and TokenizeUtterances')
        merged &= torch.as_tensor(current, dtype=torch.bool)
    results['utterance_valid'] = merged


@TRANSFORMS.register_module()
class TokenizeUtterances(BaseTransform):
    """Tokenise the joined utterances and map tokens to utterances (spec 2.5 item 6).

    Adds (L = ``max_length``, U = ``max_utterances``):

    - ``input_ids`` torch.int64 (L,), ``attention_mask`` torch.int64 (L,): the whole text with
      [CLS]/[SEP], truncated and padded to L;
    - ``utterance_token_mask`` torch.bool (U, L): token i belongs to utterance k (special and
      padding tokens never do); rows of utterances beyond U are dropped (counted);
    - ``token_valid`` np.bool (U,): the utterance has at least one token left after truncation;
      AND-ed into ``utterance_valid`` torch.bool (U,);
    - ``text``: the tokenised string.

    Args:
        tokenizer (dict | PreTrainedTokenizerFast): See ``build_tokenizer``. Must be fast.
        max_length (int): L. Defaults to 64.
        max_utterances (int): U. Defaults to 32.
        text_key (str): A list of utterances (joined with spaces) or a plain str (one
            utterance). Defaults to 'utterances'.
    """

    def __init__(self,
                 tokenizer,
                 max_length: int = 64,
                 max_utterances: int = 32,
                 text_key: str = 'utterances'):
        self.tokenizer = build_tokenizer(tokenizer)
        if not getattr(self.tokenizer, 'is_fast', False):
            raise ValueError('TokenizeUtterances: a fast tokenizer (offset mappings) is needed, '
                             f'got {type(self.tokenizer).__name__}')
        if max_length < 2 or max_utterances < 1:
            raise ValueError('TokenizeUtterances: max_length must be >= 2 and max_utterances '
                             f'>= 1, got {max_length}, {max_utterances}')
        self.max_length = int(max_length)
        self.max_utterances = int(max_utterances)
        self.text_key = text_key
        self.drops = DropCounter('TokenizeUtterances')

    def encode(self, utterances: Union[str, Sequence[str]]):
        """``(text, input_ids, attention_mask, owner)`` for a list of utterances."""
        if isinstance(utterances, str):
            utterances = [utterances]
        utterances: List[str] = list(utterances)
        text, starts, ends = utterance_spans(utterances)
        enc = self.tokenizer(
            text,
            max_length=self.max_length,
            truncation=True,
            padding='max_length',
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_attention_mask=True)
        ids = np.asarray(enc['input_ids'], np.int64)
        mask = np.asarray(enc['attention_mask'], np.int64)
        candidate = (np.asarray(enc['special_tokens_mask']) == 0) & (mask == 1)
        owner = align_tokens(np.asarray(enc['offset_mapping']), starts, ends, candidate)
        return text, ids, mask, owner

    def transform(self, results: dict) -> dict:
        if self.text_key not in results:
            raise KeyError(f'TokenizeUtterances: results have no {self.text_key!r}')
        utterances = results[self.text_key]
        num = 1 if isinstance(utterances, str) else len(utterances)
        text, ids, mask, owner = self.encode(utterances)
        keep = min(num, self.max_utterances)
        self.drops.add('utterances beyond max_utterances dropped', num - keep,
                       f' (max_utterances={self.max_utterances})')
        token_mask = np.zeros((self.max_utterances, self.max_length), bool)
        sel = (owner >= 0) & (owner < keep)
        token_mask[owner[sel], np.nonzero(sel)[0]] = True
        token_valid = token_mask.any(axis=1)
        self.drops.add('utterances without tokens (empty or cut by max_length)',
                       int(keep - token_valid[:keep].sum()), f' (max_length={self.max_length})')
        results['text'] = text
        results['input_ids'] = torch.from_numpy(ids)
        results['attention_mask'] = torch.from_numpy(mask)
        results['utterance_token_mask'] = torch.from_numpy(token_mask)
        results['token_valid'] = token_valid
        merge_utterance_valid(results, token_valid, 'TokenizeUtterances')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(tokenizer={type(self.tokenizer).__name__}, '
                f'max_length={self.max_length}, max_utterances={self.max_utterances})')
