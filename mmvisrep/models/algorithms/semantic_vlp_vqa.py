"""VQAv2 fine-tuning of the semantic-visual-loss VLP model (Yang et al., TMM 2023, IV-B1).

"During finetuning, we add a two-layer MLP on top of the language features of the [CLS] position
and finetune the MLP together with the backbone models." The answer head is LXMERT's
(``Linear(d, 2d) - GELU - LayerNorm - Linear(2d, num_answers)``) on the pooled [CLS] feature,
trained with binary cross-entropy against VQA soft scores over a fixed answer vocabulary
(``tools/data/build_vqa_answer_vocab.py``); the loss is multiplied by the number of answers as
LXMERT and UNITER do (a per-question sum over answers). Prediction is the arg-max answer string,
``pred_answer``, as mmpretrain's ``VQAAcc`` / ``ReportVQA`` read it.

The encoder keeps :class:`SemanticVLP`'s submodule names (``backbone``, ``visual_pos_embed``,
``text_encoder``, ``spl_head``, ``cross_modal_encoder``, ``pooler``), so a pretraining checkpoint
loads as it is (``init_cfg=dict(type='Pretrained', checkpoint=...)``): its MLM / ITM / SSUL /
SEGL / SPL-loss weights are left unused because those heads are not kept here, the cross-modal
encoder's last layer is language-only, and in SPL mode the set predictor's class layer is frozen,
so every trainable parameter gets a gradient (DDP without ``find_unused_parameters``).

Data contract (``PackInputs(algorithm_keys=[...])``): ``input_ids`` / ``attention_mask`` of the
question (``TokenizeCaption(caption_key='question')``), and for training ``gt_answer`` (distinct
raw answers) with ``gt_answer_weight`` (each one's share of the annotators), as mmpretrain's
``COCOVQA`` yields them.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from mmvisrep.datasets.transforms.captions import DropCounter
from mmvisrep.datasets.vqa_answers import (SOFT_SCORE_RULES, VQA_NUM_ANNOTATORS, answer_counts,
                                           load_answer_vocab, soft_score)
from .semantic_vlp import SemanticVLP

# SemanticVLP visual-loss options: accepted (so that a fine-tuning config can inherit the
# pretraining model config) and ignored. Other SemanticVLP options (MLM / ITM settings, ...) are
# passed on and have no effect on fine-tuning.
IGNORED_ARGS = ('ssul', 'segl')
# Pretraining heads and losses SemanticVLP may build; none is kept for fine-tuning.
PRETRAIN_MODULES = ('mlm_head', 'itm_head', 'ssul_head', 'ssul_loss', 'segl_conv', 'segl_loss',
                    'spl_loss')


@MODELS.register_module()
class SemanticVLPVQA(SemanticVLP):
    """SemanticVLP encoder + a two-layer MLP answer classifier on the pooled [CLS] feature.

    Args:
        backbone, text_encoder, cross_modal_encoder, visual_pos_embed, visual_channels,
        tokenizer, pad_token_id: as :class:`SemanticVLP` (the pretraining architecture).
            ``cross_modal_encoder.output_visual`` must stay unset or False.
        answer_vocab (str | list[str]): json list of normalised answers (the classes), or the
            list itself.
        spl (dict, optional): SPL mode (the cross-modal encoder reads the set predictor's N
            object features): the pretraining ``spl`` config; only ``head`` is used.
        head_hidden_channels (int, optional): hidden width of the MLP. Defaults to 2 x the
            cross-modal width (LXMERT).
        soft_score (str): target rule, ``'vqa'`` (the official leave-one-annotator-out average:
            0.3 / 0.6 / 0.9 / 1 for 1 / 2 / 3 / 4+ of 10 annotators, LXMERT's targets) or
            ``'min3'`` (min(1, count / 3), what ``VQAAcc`` scores). Defaults to ``'vqa'``.
        num_annotators (int): answers per question, to turn ``gt_answer_weight`` back into
            counts. Defaults to 10 (VQAv2).
        scale_loss_by_num_answers (bool): multiply the mean BCE by the number of answers
            (LXMERT / UNITER). Defaults to True.
        loss_weight (float): Defaults to 1.0.
        pretrained, data_preprocessor, init_cfg: as :class:`SemanticVLP`; give the pretraining
            checkpoint as ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
        **kwargs: other :class:`SemanticVLP` options (pretraining settings, without effect
            here); ``ssul`` and ``segl`` are ignored.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 answer_vocab: Union[str, Sequence[str]],
                 cross_modal_encoder: dict = dict(type='CrossModalEncoder'),
                 visual_pos_embed: Optional[dict] = None,
                 visual_channels: Optional[int] = None,
                 tokenizer: Optional[dict] = None,
                 pad_token_id: Optional[int] = None,
                 spl: Optional[dict] = None,
                 head_hidden_channels: Optional[int] = None,
                 soft_score: str = 'vqa',
                 num_annotators: int = VQA_NUM_ANNOTATORS,
                 scale_loss_by_num_answers: bool = True,
                 loss_weight: float = 1.0,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None,
                 **kwargs) -> None:
        for name in IGNORED_ARGS:
            kwargs.pop(name, None)
        if soft_score not in SOFT_SCORE_RULES:
            raise ValueError(f'SemanticVLPVQA: soft_score must be one of {SOFT_SCORE_RULES}, '
                             f'got {soft_score!r}')
        if num_annotators < 1:
            raise ValueError(f'SemanticVLPVQA: num_annotators must be >= 1, got {num_annotators}')
        xcfg = dict(cross_modal_encoder)
        if xcfg.get('output_visual', False):
            raise ValueError('SemanticVLPVQA: the answer head reads the text stream only; leave '
                             'cross_modal_encoder.output_visual unset (False)')
        xcfg['output_visual'] = False
        # the MLM ids are irrelevant here, but SemanticVLP needs them without a tokenizer
        if tokenizer is None:
            kwargs.setdefault('mask_token_id', 0)
            kwargs.setdefault('special_token_ids', ())
        super().__init__(
            backbone=backbone,
            text_encoder=text_encoder,
            cross_modal_encoder=xcfg,
            visual_pos_embed=visual_pos_embed,
            visual_channels=visual_channels,
            tokenizer=tokenizer,
            pad_token_id=pad_token_id,
            spl=spl,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
            **kwargs)
        for name in PRETRAIN_MODULES:
            if name in self._modules:
                # unregistered (so a checkpoint's weights of it are reported as unexpected keys)
                # but still readable as None by SemanticVLP's ``with_*`` properties
                delattr(self, name)
                object.__setattr__(self, name, None)
        if self.with_spl and hasattr(self.spl_head, 'cls_head'):
            # the SPL class logits feed no fine-tuning loss: frozen, so DDP sees no unused
            # trainable parameter (the weights still load from the checkpoint)
            self.spl_head.cls_head.requires_grad_(False)

        if answer_vocab is None:
            raise ValueError('SemanticVLPVQA: answer_vocab is required: the json list of answers '
                             'written by tools/data/build_vqa_answer_vocab.py')
        self.answer_vocab = load_answer_vocab(answer_vocab)
        self.answer_index = {a: i for i, a in enumerate(self.answer_vocab)}
        hidden = self.cross_modal_encoder.hidden_size
        mid = int(head_hidden_channels or 2 * hidden)
        self.vqa_head = nn.Sequential(
            nn.Linear(hidden, mid), nn.GELU(), nn.LayerNorm(mid, eps=1e-12),
            nn.Linear(mid, len(self.answer_vocab)))
        self.soft_score = soft_score
        self.num_annotators = int(num_annotators)
        self.scale_loss_by_num_answers = scale_loss_by_num_answers
        self.loss_weight = loss_weight
        self.drops = DropCounter('SemanticVLPVQA')

    @property
    def num_answers(self) -> int:
        return len(self.answer_vocab)

    def init_weights(self) -> None:
        """BERT init of the answer head (and of the pooler, for runs without a checkpoint), then
        the components' own init and, last, the ``Pretrained`` checkpoint of ``init_cfg``."""
        std = self.cross_modal_encoder.initializer_range
        for module in (self.vqa_head, self.pooler):
            for m in module.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0., std)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
        BaseSelfSupervisor.init_weights(self)

    # ------------------------------------------------------------------ targets
    def answer_targets(self, data_samples: List[DataSample], device: torch.device) -> torch.Tensor:
        """``(B, num_answers)`` soft scores; answers outside the vocabulary are dropped (counted
        and logged at 1, 10, 100, ... per process)."""
        targets = torch.zeros(len(data_samples), self.num_answers)
        for i, sample in enumerate(data_samples):
            if 'gt_answer' not in sample:
                raise KeyError(f'SemanticVLPVQA: data sample {i} has no `gt_answer`; the training '
                               "pipeline must end with PackInputs(algorithm_keys=['input_ids', "
                               "'attention_mask', 'gt_answer', 'gt_answer_weight'])")
            where = f'question {sample.get("question_id", i)}'
            counts = answer_counts(
                sample.get('gt_answer'), sample.get('gt_answer_weight', None), self.num_annotators,
                where)
            dropped = 0
            for answer, count in counts.items():
                index = self.answer_index.get(answer)
                if index is None:
                    dropped += count
                else:
                    targets[i, index] = soft_score(count, self.num_annotators, self.soft_score)
            self.drops.add('annotator answers outside the answer vocabulary', dropped)
            self.drops.add('questions without any answer in the vocabulary',
                           int(dropped > 0 and not targets[i].any()))
        return targets.to(device)

    # ------------------------------------------------------------------ model
    def answer_logits(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                      data_samples: List[DataSample]) -> torch.Tensor:
        """``(B, num_answers)`` answer logits of images and their questions."""
        img = self._image_batch(inputs)
        if data_samples is None or len(data_samples) != img.size(0):
            raise ValueError(f'SemanticVLPVQA: {img.size(0)} images but '
                             f'{None if data_samples is None else len(data_samples)} questions')
        input_ids, attention_mask = self._text_batch(data_samples, img.device)
        enc = self.encode(img, input_ids, attention_mask)
        return self.vqa_head(enc['pooled'])

    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: answer logits; ``'loss'``: the loss dict; ``'predict'``: data samples
        with ``pred_answer``."""
        if mode == 'tensor':
            return self.answer_logits(inputs, data_samples)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'SemanticVLPVQA: invalid mode "{mode}"')

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_vqa`` (BCE with logits against the soft scores) and the logged-only
        ``vqa_score``: the batch's soft score of the arg-max answer."""
        logits = self.answer_logits(inputs, data_samples).float()
        targets = self.answer_targets(data_samples, logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, targets)
        if self.scale_loss_by_num_answers:
            loss = loss * self.num_answers
        with torch.no_grad():
            score = targets.gather(1, logits.argmax(1, keepdim=True)).mean()
        return dict(loss_vqa=self.loss_weight * loss, vqa_score=score)

    def predict(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: List[DataSample], **kwargs) -> List[DataSample]:
        """Set ``pred_answer`` (the arg-max answer string), ``pred_answer_label`` (its index) and
        ``pred_answer_score`` (its sigmoid probability) on every data sample."""
        logits = self.answer_logits(inputs, data_samples).float()
        prob, label = logits.sigmoid().max(1)
        for sample, p, k in zip(data_samples, prob.tolist(), label.tolist()):
            sample.set_field(self.answer_vocab[k], 'pred_answer')
            sample.set_field(k, 'pred_answer_label')
            sample.set_field(p, 'pred_answer_score')
        return data_samples
