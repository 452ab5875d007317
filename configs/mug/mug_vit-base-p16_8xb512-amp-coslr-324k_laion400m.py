# MUG ViT-B/16 pretrained on LAION-400M (the paper's scaling experiments train on CC3M and
# LAION-400M), 8 GPUs x 512 = batch 4096, from webdataset tar shards
# (configs/_base_/datasets/laion_mug.py: an endless, shard-shuffled stream, so the schedule is
# counted in iterations). The paper's LAION schedule is not known: ours is 324K iterations,
# the samples seen by the 400-epoch CC3M run (400 x 3,318,333 / 4096 = 324,056), i.e. about
# 3.3 passes over 400M pairs, with MAE's warm-up share (40 of 400 epochs -> 32.4K iterations).
# Model and optimisation as mug_vit-base-p16_8xb512-amp-coslr-400e_cc3m.py.
_base_ = [
    '../_base_/datasets/laion_mug.py',
    '../_base_/models/mug_vit-base-p16.py',
    '../_base_/schedules/mug_adamw_coslr.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=512)

max_iters = 324_000
warmup_iters = 32_400
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - warmup_iters,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3))
# hands the epoch to the shard dataset (a no-op with repeat=True, kept for epoch-based reuse)
custom_hooks = [dict(type='DatasetEpochHook')]
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
resume = True
