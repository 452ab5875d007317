# Toy VQA fine-tuning on toy scenes, the CPU mirror of
# ../svl-segl_vit-b32-l9_8xb32-vqa-10e_vqav2.py: the same VQA model / schedule bases; changed
# are only the sizes (those of the toy pretraining
# ../../toy/svl_vit-tiny-p32_1xb8-toy-4e_toyscenes.py: a 2-layer 64-wide ViT with 32 px patches
# on 128 px images, a random-init 1-layer BERT over tests/data/bert_vocab, 2 64-wide
# cross-modality layers), the data (configs/_base_/datasets/toy_scenes_vqa.py: make_toy_vqa.py
# questions, COCOVQA, VQAAcc) and the schedule (3 epochs, batch 8, fp32, lr 1e-3: the paper-size
# 1e-4 barely moves a toy model). Start from a toy pretraining checkpoint:
#   --cfg-options model.init_cfg.checkpoint=work_dirs/<toy pretraining run>/epoch_4.pth
_base_ = [
    '../../../_base_/datasets/toy_scenes_vqa.py',
    '../../../_base_/models/svl-vqa_vit-b32-l9.py',
    '../../../_base_/models/svl_toy_sizes.py',
    '../../../_base_/schedules/svl_vqa_adamw_linear_10e.py',
    '../../../_base_/default_runtime.py',
]

pretrained_checkpoint = 'work_dirs/svl-segl_vit-tiny-p32_1xb8-toy-4e_toyscenes/epoch_4.pth'
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, **_base_.svl_toy_vit_arch),
        img_size=_base_.img_size,
        patch_size=32,
        init_cfg=None),
    text_encoder=dict(_delete_=True, tokenizer=_base_.tokenizer, **_base_.svl_toy_text_encoder),
    tokenizer=_base_.tokenizer,
    cross_modal_encoder=_base_.svl_toy_cross_modal,
    answer_vocab=_base_.answer_vocab,
    init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint))

max_epochs = 3
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=max_epochs * _base_.warmup_ratio,
        convert_to_iter_based=True),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=True,
        begin=max_epochs * _base_.warmup_ratio,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=8)
