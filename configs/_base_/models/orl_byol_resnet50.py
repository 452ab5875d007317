# ORL's BYOL network (spec 2.2-2.3; official configs/selfsup/orl/coco/stage1/r50_bs512_ep800.py
# and stage3/), shared by stage 1 (mmpretrain's BYOL as is) and stage 3 (which switches `type` to
# ORL): SyncBN ResNet-50; projector and predictor 2048/256 -> 4096 -> 256, no bias, no last BN
# (OpenSelfSup NonLinearNeckSimCLR with_bias=False), kaiming fan-in Linear init; EMA tau 0.99 -> 1.
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
