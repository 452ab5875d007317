"""Plain caption tokenisation: ``[CLS] caption [SEP]`` padded to a fixed length.

``TokenizeUtterances`` (captions.py) serves LocTex's utterance alignment; this is the plain
form the captioning methods (MUG) need, built on the same ``build_tokenizer`` config dict.
"""
from typing import Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from .captions import DropCounter, build_tokenizer, swap_left_right


@TRANSFORMS.register_module()
class TokenizeCaption(BaseTransform):
    """Tokenise ``results[caption_key]`` into fixed-length ids and a mask.

    Adds (L = ``max_length``):

    - ``input_ids`` torch.int64 (L,): the tokenizer's special-token layout (BERT:
      ``[CLS] caption [SEP]``), truncated to L (the closing ``[SEP]`` is kept) and padded with
      ``tokenizer.pad_token_id``;
    - ``attention_mask`` torch.int64 (L,): 1 on real tokens, 0 on padding;
    - ``text``: the tokenised string.

    Captions longer than L are truncated and counted (logged at 1, 10, 100... per process).
    ``swap_left_right_on_flip``: after a horizontal ``RandomFlip`` (``results['flip']``), the
    words left/right are swapped first, as VirTex does, so the caption still describes the
    flipped image. An empty caption raises (the datasets drop them, counted, beforehand).

    Args:
        tokenizer (dict | PreTrainedTokenizerBase): See ``captions.build_tokenizer``, e.g.
            ``dict(type='AutoTokenizer', name_or_path='bert-base-uncased')``.
        max_length (int): L. Defaults to 32.
        caption_key (str): Input key. Defaults to 'caption'.
        swap_left_right_on_flip (bool): Defaults to True.
    """

    def __init__(self,
                 tokenizer,
                 max_length: int = 32,
                 caption_key: str = 'caption',
                 swap_left_right_on_flip: bool = True):
        self.tokenizer = build_tokenizer(tokenizer)
        if self.tokenizer.pad_token_id is None:
            raise ValueError(f'TokenizeCaption: {type(self.tokenizer).__name__} has no pad token')
        if max_length < 2:
            raise ValueError(f'TokenizeCaption: max_length must be >= 2, got {max_length}')
        self.max_length = int(max_length)
        self.caption_key = caption_key
        self.swap_left_right_on_flip = swap_left_right_on_flip
        self.drops = DropCounter('TokenizeCaption')

    def encode(self, text: str):
        """``(input_ids, attention_mask, full_length)`` as int64 numpy arrays and an int."""
        full = len(self.tokenizer(text, truncation=False)['input_ids'])
        enc = self.tokenizer(
            text,
            max_length=self.max_length,
            truncation=True,
            padding='max_length',
            return_attention_mask=True)
        ids = np.asarray(enc['input_ids'], np.int64)
        mask = np.asarray(enc['attention_mask'], np.int64)
        return ids, mask, full

    def transform(self, results: dict) -> Optional[dict]:
        caption = results.get(self.caption_key)
        if not isinstance(caption, str) or not caption.strip():
            raise ValueError(f'TokenizeCaption: results[{self.caption_key!r}] must be a '
                             f'non-empty string, got {caption!r} (sample '
                             f'{results.get("ann_source", results.get("img_path"))})')
        text = caption.strip()
        if self.swap_left_right_on_flip and results.get('flip') and \
                results.get('flip_direction', 'horizontal') == 'horizontal':
            text = swap_left_right(text)
        ids, mask, full = self.encode(text)
        self.drops.add('captions truncated', int(full > self.max_length),
                       f' (max_length={self.max_length})')
        results['text'] = text
        results['input_ids'] = torch.from_numpy(ids)
        results['attention_mask'] = torch.from_numpy(mask)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(tokenizer={type(self.tokenizer).__name__}, '
                f'max_length={self.max_length}, caption_key={self.caption_key!r}, '
                f'swap_left_right_on_flip={self.swap_left_right_on_flip})')
