# ORL stage 3: object-level BYOL on COCO train2017, 8 GPUs x 64 = 512, 800 epochs (spec 2.5;
# official configs/selfsup/orl/coco/stage3/r50_bs512_ep800.py). Backbone, projector, predictor,
# optimiser, schedule, EMA and fp16 are stage 1's (byol_resnet50_8xb64-coslr-800e_coco.py);
# three predictor heads (global, intra-RoI, inter-RoI), loss weights 1 : 1 : 1. Data: the
# stage-2 correspondence json, data/coco/meta/train2017_10nn_instance_correspondence.json.
# As released, stage 3 trains from scratch. To start from stage 1 instead:
#     model = dict(init_cfg=dict(type='Pretrained', checkpoint='STAGE1/epoch_800.pth'))
# (ORL then restarts the EMA: the first update copies the online network into the target).
_base_ = [
    '../../_base_/datasets/coco_orl_stage3.py',
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
    type='ORL',
    # mmpretrain CosineEMA convention (1 - tau): tau 0.99 -> 1 is momentum 0.01 -> 0
    base_momentum=0.01,
    end_momentum=0.,
    global_loss_weight=1.,
    intra_loss_weight=1.,
    inter_loss_weight=1.,
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
    # global head; intra_head / inter_head=None build two more heads from this config
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
    intra_head=None,
    inter_head=None,
)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=1e-4))

max_epochs = 800
warmup_epochs = 4
param_scheduler = [
    # mmcv's linear warm-up (x 1e-4 -> 1 over 4 epochs, per iteration), chained with the
    # per-epoch cosine to 0 over all 800 epochs, as the official CosineAnnealing lr_config
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
auto_scale_lr = dict(base_batch_size=512)
