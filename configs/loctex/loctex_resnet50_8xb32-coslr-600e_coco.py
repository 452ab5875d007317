# LocTex R50 pretrained on COCO train2017 (118K images, 134,272 Localized Narratives) for 600
# epochs (the supplementary's COCO-only run, Table A2 "118K"), 8 GPUs x 32 = batch 256.
# Model: configs/_base_/models/loctex_resnet50.py; optimisation: configs/_base_/schedules/
# loctex_sgd_coslr.py; data: configs/_base_/datasets/coco_loctex.py.
_base_ = [
    '../_base_/datasets/coco_loctex.py',
    '../_base_/models/loctex_resnet50.py',
    '../_base_/schedules/loctex_sgd_coslr.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=32)

max_epochs = 600
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=_base_.warmup_iters),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
