# MUG ViT-B/16 pretrained on Conceptual Captions 3M for 400 epochs (the paper's main setting,
# A.1), 8 GPUs x 512 = batch 4096. Model: configs/_base_/models/mug_vit-base-p16.py; optimisation:
# configs/_base_/schedules/mug_adamw_coslr.py (MAE's recipe: Table 10 unknown); data:
# configs/_base_/datasets/cc3m_mug.py (data/cc3m/train.tsv with `image` and `caption` columns).
_base_ = [
    '../_base_/datasets/cc3m_mug.py',
    '../_base_/models/mug_vit-base-p16.py',
    '../_base_/schedules/mug_adamw_coslr.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=512)

max_epochs = 400
warmup_epochs = 40  # MAE's
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
resume = True
