# Toy baseline (MLM + ITM, no visual loss) on toy scenes, the CPU mirror of
# ../svl_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py: the same model, losses and schedule bases;
# changed are only the sizes (a 2-layer 64-wide ViT with 32 px patches on 128 px crops -> a 4x4
# grid, a random-init 1-layer BERT over the offline vocab of tests/data/bert_vocab, 2 64-wide
# cross-modality layers), the data (configs/_base_/datasets/toy_scenes_svl.py: toy COCO
# captions with stuff maps + a caption list without, pseudo-labels of the toy detector) and the
# schedule (4 epochs, batch 8, fp32). Validation: zero-shot image<->text retrieval R@1/5/10 on
# the toy val split (configs/_base_/datasets/toy_scenes_retrieval_svl.py).
_base_ = [
    '../../_base_/datasets/toy_scenes_svl.py',
    '../../_base_/datasets/toy_scenes_retrieval_svl.py',
    '../../_base_/models/svl_vit-b32-l9.py',
    '../../_base_/models/svl_toy_sizes.py',
    '../../_base_/schedules/svl_adamw_linear_15e.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, **_base_.svl_toy_vit_arch),
        img_size=_base_.crop_size,
        patch_size=32,
        init_cfg=None),
    text_encoder=dict(_delete_=True, tokenizer=_base_.tokenizer, **_base_.svl_toy_text_encoder),
    tokenizer=_base_.tokenizer,
    cross_modal_encoder=_base_.svl_toy_cross_modal)

# no pseudo-labels needed without SPL (the SPL configs switch to svl_train_dataset)
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(_delete_=True, **_base_.svl_train_dataset_no_spl))

max_epochs = 4
# plain fp32 on the CPU; lr 1e-3 (the paper-size 1e-4 barely moves a random-init toy model)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=True,
        begin=1,
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
