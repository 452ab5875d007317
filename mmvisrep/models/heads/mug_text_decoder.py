"""MUG's text decoder: caption tokens self-attend causally, then cross-attend to the image latents.

Algorithm 1 of "Vision Learners Meet Web Image-Text Pairs" (Zhao et al., TMLR 2024) writes the
decoder as ``q = single_modal_attn(q, causal_mask); cap = multimodal_attn(q, latent)``. A
``transformers`` BERT decoder (``is_decoder=True, add_cross_attention=True``: causal
self-attention, then cross-attention, then the FFN in every layer, with a tied LM head) is exactly
that, so it is used as is; a linear layer maps the ViT latents to the decoder width. Greedy and
beam-search captions come from ``transformers``' ``generate``.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class MUGTextDecoder(BaseModule):
    """Causal caption decoder conditioned on image latents (cross-attention).

    Exactly one of ``pretrained`` and ``config`` is given, as for
    :class:`mmvisrep.models.utils.HFTextEncoder`:

    * ``pretrained``: a ``transformers`` name or directory (``'bert-base-uncased'``), loaded with
      ``AutoModelForCausalLM.from_pretrained(..., is_decoder=True, add_cross_attention=True)``;
      the cross-attention layers are new (randomly initialised).
    * ``config``: architecture keys of ``model_type`` for a randomly initialised decoder, e.g.
      ``dict(vocab_size=30522, hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
      intermediate_size=2048)``.

    Args:
        in_channels (int): width of the image latents (the ViT's ``embed_dims``).
        pretrained (str, optional): checkpoint name or directory.
        config (dict, optional): architecture of a randomly initialised decoder.
        model_type (str): ``transformers`` model type. Defaults to ``'bert'``.
        tokenizer (dict, optional): the tokenizer of the captions (see
            ``mmvisrep.datasets.transforms.captions.build_tokenizer``); fills ``vocab_size``
            (when None) and the special ids, and checks that they agree with ``config``.
        bos_token_id / eos_token_id / pad_token_id (int, optional): first token of every caption
            ([CLS]), end of caption ([SEP]) and padding ([PAD]); default to the tokenizer's, else
            to the config's ``bos/eos/pad_token_id``.
        from_pretrained_kwargs (dict, optional): extra arguments of ``from_pretrained``.
    """

    def __init__(self,
                 in_channels: int,
                 pretrained: Optional[str] = None,
                 config: Optional[dict] = None,
                 model_type: str = 'bert',
                 tokenizer: Optional[dict] = None,
                 bos_token_id: Optional[int] = None,
                 eos_token_id: Optional[int] = None,
                 pad_token_id: Optional[int] = None,
                 from_pretrained_kwargs: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=None)
        if init_cfg is not None:
            raise ValueError('MUGTextDecoder: init_cfg is not supported; the decoder keeps the '
                             '`transformers` initialisation or the `pretrained` weights')
        if (pretrained is None) == (config is None):
            raise ValueError('MUGTextDecoder: give exactly one of `pretrained` (e.g. '
                             "'bert-base-uncased') and `config` (a random-init architecture "
                             f'dict); got pretrained={pretrained!r}, config={config!r}')
        from transformers import AutoConfig, AutoModelForCausalLM
        tok = None
        if tokenizer is not None:
            from mmvisrep.datasets.transforms.captions import build_tokenizer
            tok = build_tokenizer(tokenizer)
        decoder_flags = dict(is_decoder=True, add_cross_attention=True)
        if pretrained is not None:
            self.model = AutoModelForCausalLM.from_pretrained(pretrained, **decoder_flags,
                                                              **(from_pretrained_kwargs or {}))
        else:
            config = dict(config)
            if tok is not None:
                if config.get('vocab_size') is None:
                    config['vocab_size'] = len(tok)
                if config.get('pad_token_id') is None:
                    config['pad_token_id'] = tok.pad_token_id
            if config.get('vocab_size') is None:
                raise ValueError('MUGTextDecoder: config has no vocab_size and no tokenizer was '
                                 'given to take it from')
            config.update(decoder_flags)
            self.model = AutoModelForCausalLM.from_config(
                AutoConfig.for_model(model_type, **config))
        hf_cfg = self.model.config
        if tok is not None and len(tok) > hf_cfg.vocab_size:
            raise ValueError(
                f'MUGTextDecoder: the tokenizer has {len(tok)} tokens but the decoder '
                f'only {hf_cfg.vocab_size} embeddings')

        def special(given, tok_attr, cfg_attr):
            from_tok = getattr(tok, tok_attr, None) if tok is not None else None
            if given is not None and from_tok is not None and given != from_tok:
                raise ValueError(f'MUGTextDecoder: {cfg_attr}={given} but the tokenizer has '
                                 f'{tok_attr}={from_tok}')
            for value in (given, from_tok, getattr(hf_cfg, cfg_attr, None)):
                if value is not None:
                    return int(value)
            raise ValueError(f'MUGTextDecoder: no {cfg_attr}: pass it, or a tokenizer')

        self.bos_token_id = special(bos_token_id, 'cls_token_id', 'bos_token_id')
        self.eos_token_id = special(eos_token_id, 'sep_token_id', 'eos_token_id')
        self.pad_token_id = special(pad_token_id, 'pad_token_id', 'pad_token_id')
        self.pretrained = pretrained
        self.in_channels = int(in_channels)
        self.latent_proj = nn.Linear(self.in_channels, self.hidden_size)

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
        """``transformers``' initialisation (random decoder) or the pretrained weights, kept.

        Only the latent projection is (re)initialised here, with ``transformers``' BERT rule
        (normal(0, initializer_range), zero bias), so the whole head follows one convention.
        """
        std = float(getattr(self.model.config, 'initializer_range', 0.02))
        nn.init.normal_(self.latent_proj.weight, std=std)
        nn.init.zeros_(self.latent_proj.bias)
        self._is_init = True

    # ------------------------------------------------------------------ checks
    def _check_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> None:
        if input_ids.dim() != 2 or attention_mask.shape != input_ids.shape:
            raise ValueError(f'MUGTextDecoder: input_ids {tuple(input_ids.shape)} and '
                             f'attention_mask {tuple(attention_mask.shape)} must both be (B, L)')
        if input_ids.numel() and (int(input_ids.max()) >= self.vocab_size
                                  or int(input_ids.min()) < 0):
            raise ValueError(f'MUGTextDecoder: token ids in [{int(input_ids.min())}, '
                             f'{int(input_ids.max())}] but the decoder has {self.vocab_size} '
                             'embeddings: the data tokenizer and the decoder vocab_size differ')
        if self.max_positions and input_ids.size(1) > self.max_positions:
            raise ValueError(f'MUGTextDecoder: captions of {input_ids.size(1)} tokens but the '
                             f'decoder has {self.max_positions} position embeddings: lower the '
                             'tokenizer max_length or raise max_position_embeddings')

    def _memory(self, latents: torch.Tensor) -> torch.Tensor:
        if latents.dim() != 3 or latents.size(-1) != self.in_channels:
            raise ValueError(f'MUGTextDecoder: latents must be (B, N, {self.in_channels}), got '
                             f'{tuple(latents.shape)}')
        return self.latent_proj(latents)

    # ------------------------------------------------------------------ training
    def forward(self, latents: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``(B, L, V)``: position t sees tokens <= t and all latents."""
        self._check_tokens(input_ids, attention_mask)
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=self._memory(latents),
            use_cache=False)
        return out.logits

    def loss(self, latents: torch.Tensor, input_ids: torch.Tensor,
             attention_mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: predict token t+1 from tokens <= t, padding ignored.

        Returns:
            tuple: the summed negative log-likelihood of the non-padding target tokens and their
            number (float), so that the caller can normalise over the global batch.
        """
        if input_ids.size(1) < 2:
            raise ValueError('MUGTextDecoder: captions need at least 2 tokens ([CLS] ... [SEP])')
        inputs, mask = input_ids[:, :-1], attention_mask[:, :-1]
        valid = attention_mask[:, 1:] != 0
        target = input_ids[:, 1:][valid]
        head = self._lm_head()
        if head is None:
            logits = self(latents, inputs, mask)[valid]
        else:
            # the vocabulary projection only where there is a target (padding is often half
            # of a batch of web captions); same numbers as the full logits
            self._check_tokens(inputs, mask)
            hidden = self.model.base_model(
                input_ids=inputs,
                attention_mask=mask,
                encoder_hidden_states=self._memory(latents),
                use_cache=False)[0]
            logits = head(hidden[valid])
        nll = F.cross_entropy(logits.float(), target, reduction='sum')
        return nll, valid.sum().to(nll.dtype)

    def _lm_head(self) -> Optional[nn.Module]:
        """The module mapping hidden states to logits (BERT: ``cls``; RoBERTa & co:
        ``lm_head``), or None when the model has another layout (full logits are used)."""
        for name in ('cls', 'lm_head'):
            head = getattr(self.model, name, None)
            if isinstance(head, nn.Module):
                return head
        return None

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def generate(self,
                 latents: torch.Tensor,
                 num_beams: int = 1,
                 max_length: int = 40,
                 length_penalty: float = 1.0,
                 return_scores: bool = False,
                 **generate_kwargs):
        """Captions for a batch of latents: greedy (``num_beams=1``) or beam search.

        ``max_length`` counts every token, the leading [CLS] included (as the data's
        ``max_length``). [PAD] and [CLS] are never generated. Returns the token ids of each
        caption without [CLS], cut at (and without) the first [SEP]; with ``return_scores``
        also each caption's log-probability under the model (teacher forcing: the sum over its
        tokens and the closing [SEP] when one was generated).
        """
        if num_beams < 1:
            raise ValueError(f'MUGTextDecoder.generate: num_beams must be >= 1, got {num_beams}')
        if max_length < 2:
            raise ValueError(f'MUGTextDecoder.generate: max_length must be >= 2, got {max_length}')
        if self.max_positions and max_length > self.max_positions:
            raise ValueError(f'MUGTextDecoder.generate: max_length={max_length} exceeds the '
                             f'{self.max_positions} position embeddings')
        memory = self._memory(latents)
        batch = memory.size(0)
        bos = torch.full((batch, 1), self.bos_token_id, dtype=torch.long, device=memory.device)
        suppress = sorted({self.pad_token_id, self.bos_token_id} - {self.eos_token_id})
        kwargs = dict(
            do_sample=False,
            num_beams=num_beams,
            max_length=max_length,
            bos_token_id=self.bos_token_id,
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
            suppress_tokens=suppress)
        if num_beams > 1:
            kwargs.update(length_penalty=length_penalty, early_stopping=False)
        kwargs.update(generate_kwargs)
        sequences = self.model.generate(
            input_ids=bos,
            attention_mask=torch.ones_like(bos),
            encoder_hidden_states=memory,
            **kwargs)
        rows = sequences[:, 1:].tolist()
        captions = [self._strip(row) for row in rows]
        if not return_scores:
            return captions
        ended = [self.eos_token_id in row for row in rows]
        return captions, self.caption_logprob(latents, captions, ended)

    @torch.no_grad()
    def caption_logprob(self,
                        latents: torch.Tensor,
                        captions: List[List[int]],
                        ended: Optional[List[bool]] = None) -> torch.Tensor:
        """Log-probability ``(B,)`` of each caption (ids without [CLS]/[SEP]) given its latents.

        The closing [SEP] is scored too where ``ended`` (default: all) says the caption has one;
        a generation cut by ``max_length`` has none.
        """
        if len(captions) != latents.size(0):
            raise ValueError(f'MUGTextDecoder.caption_logprob: {len(captions)} captions for '
                             f'{latents.size(0)} latents')
        ended = [True] * len(captions) if ended is None else list(ended)
        rows = [[self.bos_token_id] + list(ids) + ([self.eos_token_id] if end else [])
                for ids, end in zip(captions, ended)]
        length = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), length), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(input_ids)
        for i, row in enumerate(rows):
            input_ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
        input_ids, mask = input_ids.to(latents.device), mask.to(latents.device)
        logits = self(latents, input_ids[:, :-1], mask[:, :-1]).float().log_softmax(-1)
        taken = logits.gather(-1, input_ids[:, 1:, None]).squeeze(-1)
        return (taken * mask[:, 1:]).sum(1)

    def _strip(self, ids: List[int]) -> List[int]:
        """Cut a generated row at its first [SEP]."""
        if self.eos_token_id in ids:
            ids = ids[:ids.index(self.eos_token_id)]
        return ids
