# VQA fine-tuning model of the semantic-visual-loss VLP (Yang et al., TMM 2023, IV-B1): the
# pretraining architecture of svl_vit-b32-l9.py (same submodule names, so a SemanticVLP
# checkpoint loads as it is) plus "a two-layer MLP on top of the language features of the [CLS]
# position", LXMERT's Linear(768, 1536) - GELU - LayerNorm - Linear(1536, #answers) on the [CLS]
# pooler, fine-tuned together with the backbones. Loss (ours, after LXMERT / UNITER): BCE with
# logits against VQA soft scores (the official leave-one-annotator-out average, 0.3 / 0.6 / 0.9 /
# 1 for 1 / 2 / 3 / 4+ of 10 annotators; soft_score='min3' for min(1, n/3)), times the number of
# answers. The pretraining-only options inherited here (MLM / ITM settings) are ignored; the
# pretraining heads are not built. For an SPL-pretrained checkpoint add the pretraining `spl`
# (its set predictor then feeds the cross-modal encoder, its class layer frozen).
_base_ = './svl_vit-b32-l9.py'

model = dict(
    type='SemanticVLPVQA',
    # every weight comes from the pretraining checkpoint (init_cfg of the fine-tuning config)
    backbone=dict(init_cfg=None),
    answer_vocab=None,  # the json list of answers: set by the fine-tuning config
    head_hidden_channels=None,  # 2 x 768 (LXMERT)
    soft_score='vqa',
    num_annotators=10,
    scale_loss_by_num_answers=True,
    loss_weight=1.0)
