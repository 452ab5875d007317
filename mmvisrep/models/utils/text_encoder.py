"""A transformers text encoder (BERT-style) built from a config, returning per-token features.

Real runs name a checkpoint (``pretrained='bert-base-uncased'`` or a local directory saved with
``save_pretrained``); tests and toy runs give a small architecture dict that becomes a
random-initialised ``transformers`` config, so nothing is downloaded.
"""
from typing import Optional

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


@MODELS.register_module()
class HFTextEncoder(BaseModule):
    """Per-token features ``(B, L, hidden_size)`` of a ``transformers`` encoder.

    Exactly one of ``pretrained`` and ``config`` is given:

    * ``pretrained``: a Hub name or local directory, loaded with ``AutoModel.from_pretrained``
      (``from_pretrained_kwargs`` go to that call, e.g. ``local_files_only=True``).
    * ``config``: architecture keys of ``model_type`` (``transformers.AutoConfig.for_model``),
      e.g. ``dict(vocab_size=30522, hidden_size=1024, num_hidden_layers=1,
      num_attention_heads=16, intermediate_size=4096)``; the model is randomly initialised by
      ``transformers`` (normal(0, initializer_range), as BERT).

    The pooler (BERT's ``[CLS]`` dense layer) is removed: only the token features are used, and an
    unused parameter would stall DistributedDataParallel.

    Args:
        pretrained (str, optional): checkpoint name or directory.
        config (dict, optional): architecture of a randomly initialised model.
        model_type (str): ``transformers`` model type for ``config``. Defaults to ``'bert'``.
        tokenizer (dict, optional): the tokenizer whose ids the encoder reads.
        from_pretrained_kwargs (dict, optional): extra arguments of ``from_pretrained``.
        init_cfg: not supported (weights come from ``pretrained`` or the random init); must be
            None.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 config: Optional[dict] = None,
                 model_type: str = 'bert',
                 tokenizer: Optional[dict] = None,
                 from_pretrained_kwargs: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=None)
        if init_cfg is not None:
            raise ValueError('HFTextEncoder: init_cfg is not supported; load weights with '
                             '`pretrained` (a transformers name or directory)')
        if (pretrained is None) == (config is None):
            raise ValueError('HFTextEncoder: give exactly one of `pretrained` (e.g. '
                             "'bert-base-uncased') and `config` (a random-init architecture "
                             f'dict); got pretrained={pretrained!r}, config={config!r}. To switch '
                             'a config to a pretrained encoder set both, e.g. --cfg-options '
                             'model.text_encoder.pretrained=bert-base-uncased '
                             'model.text_encoder.config=None')
        from transformers import AutoConfig, AutoModel
        tok = None
        if tokenizer is not None:
            from mmvisrep.datasets.transforms.captions import build_tokenizer
            tok = build_tokenizer(tokenizer)
        if pretrained is not None:
            self.model = AutoModel.from_pretrained(pretrained, **(from_pretrained_kwargs or {}))
            if tok is not None and len(tok) > self.model.config.vocab_size:
                raise ValueError(f'HFTextEncoder: the tokenizer has {len(tok)} tokens but '
                                 f'{pretrained} only {self.model.config.vocab_size} embeddings')
        else:
            config = dict(config)
            if tok is not None:
                if config.get('vocab_size') is None:
                    config['vocab_size'] = len(tok)
                elif config['vocab_size'] != len(tok):
                    raise ValueError(f'HFTextEncoder: config vocab_size={config["vocab_size"]} '
                                     f'but the tokenizer has {len(tok)} tokens; set '
                                     'vocab_size=None to take it from the tokenizer')
                pad = tok.pad_token_id
                if config.get('pad_token_id') is None:
                    config['pad_token_id'] = pad
                elif pad is not None and config['pad_token_id'] != pad:
                    raise ValueError(f'HFTextEncoder: config pad_token_id='
                                     f'{config["pad_token_id"]} but the tokenizer pads with {pad}')
            elif config.get('vocab_size') is None:
                raise ValueError('HFTextEncoder: config has no vocab_size and no tokenizer was '
                                 'given to take it from')
            hf_config = AutoConfig.for_model(model_type, **config)
            self.model = AutoModel.from_config(hf_config)
        if getattr(self.model, 'pooler', None) is not None:
            self.model.pooler = None
        self.pretrained = pretrained

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)

    @property
    def max_positions(self) -> int:
        return int(getattr(self.model.config, 'max_position_embeddings', 0) or 0)

    def init_weights(self) -> None:
        """Keep the weights set at construction (pretrained or ``transformers``' own init).

        mmengine's default would call the ``transformers`` model's ``init_weights`` and could
        re-initialise a pretrained encoder.
        """
        self._is_init = True

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Return the last hidden states ``(B, L, hidden_size)``."""
        if input_ids.dim() != 2 or attention_mask.shape != input_ids.shape:
            raise ValueError(f'HFTextEncoder: input_ids {tuple(input_ids.shape)} and '
                             f'attention_mask {tuple(attention_mask.shape)} must both be (B, L)')
        if input_ids.numel() and (int(input_ids.max()) >= self.vocab_size
                                  or int(input_ids.min()) < 0):
            raise ValueError(f'HFTextEncoder: token ids in [{int(input_ids.min())}, '
                             f'{int(input_ids.max())}] but the encoder has {self.vocab_size} '
                             'embeddings: the tokenizer vocab and the text encoder config '
                             '(vocab_size) do not match')
        if self.max_positions and input_ids.size(1) > self.max_positions:
            raise ValueError(f'HFTextEncoder: captions of {input_ids.size(1)} tokens but the '
                             f'encoder has {self.max_positions} position embeddings: lower the '
                             'tokenizer max_length or raise max_position_embeddings')
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state


def build_text_encoder(cfg: dict) -> HFTextEncoder:
    """Build a text encoder from a config dict (``type`` defaults to ``HFTextEncoder``)."""
    cfg = dict(cfg)
    cfg.setdefault('type', 'HFTextEncoder')
    return MODELS.build(cfg)
