# ORL stage 1: image-level BYOL on COCO train2017, 8 GPUs x 64 = 512, 800 epochs (spec 2.2-2.3;
# official configs/selfsup/orl/coco/stage1/r50_bs512_ep800.py). mmpretrain's BYOL as is, with
# ORL's recipe: SyncBN; projector and predictors 2048/256 -> 4096 -> 256, no bias, no last BN
# (OpenSelfSup NonLinearNeckSimCLR with_bias=False), kaiming fan-in Linear init; SGD lr 0.4,
# momentum 0.9, wd 1e-4 on all parameters; 4 linear warm-up epochs from lr x 1e-4 (per
# iteration) under a per-epoch cosine to 0 over all 800 epochs (mmcv's CosineAnnealing with
# warmup_by_epoch); EMA tau 0.99 -> 1 (cosine, per iteration); fp16 as the official apex.
# Its checkpoint feeds stage 2 (tools/data/orl_knn.py, tools/data/orl_correspondence.py).
_base_ = [
    '../../_base_/datasets/coco_orl_stage1.py',
    '../../_base_/default_runtime.py',
]

norm_cfg = dict(type='SyncBN')
# OpenSelfSup's init_linear='kaiming': kaiming-normal fan-in (ReLU gain) Linear, zero bias
mlp_init_cfg = [
    dict(
        type='Kaiming', layer='Linear', mode='fan_in', nonlinearity='relu', distribution='normal'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
]
model = dict(
    type='BYOL',
    # mmpretrain CosineEMA convention (1 - tau): tau 0.99 -> 1 is momentum 0.01 -> 0
    base_momentum=0.01,
    backbone=dict(type='ResNet', depth=50, norm_cfg=norm_cfg, zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_bias=False,
        with_last_bn=False,
        with_last_bias=False,
        with_avg_pool=True,
        norm_cfg=norm_cfg,
        init_cfg=mlp_init_cfg),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,
            hid_channels=4096,
            out_channels=256,
            num_layers=2,
            with_bias=False,
            with_last_bn=False,
            with_last_bias=False,
            with_avg_pool=False,
            norm_cfg=norm_cfg,
            init_cfg=mlp_init_cfg)),
)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=1e-4))

max_epochs = 800
warmup_epochs = 4
param_scheduler = [
    # mmcv's linear warm-up multiplies the regular lr by 1e-4 -> 1 over the first 4 epochs,
    # per iteration; chained (multiplicatively) with the per-epoch cosine below
    dict(
        type='LinearLR',
        start_factor=1e-4,
        end_factor=1.,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=0,
        end=max_epochs),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
# lr 0.4 is for 8 x 64 = 512 images per iteration (`--auto-scale-lr` rescales it)
auto_scale_lr = dict(base_batch_size=512)
