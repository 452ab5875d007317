# SoCo R50-FPN, 100 epochs on ImageNet-1k, 16 GPUs x 128 images (official tools/SoCo_FPN_100ep.sh;
# spec 1.3-1.7). Views V1 224 (whole image) / V2 224 / V3 112 with cutout; every box is RoI-aligned
# (7x7, aligned) on P2-P5 and embedded by the 4conv1fc head whose keys are mmdet's
# Shared4Conv1FCBBoxHead; BYOL loss over id-matched boxes across levels; EMA tau 0.99 -> 1.
_base_ = [
    '../_base_/datasets/imagenet_soco.py',
    '../_base_/default_runtime.py',
]

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='SoCo',
    # mmpretrain CosineEMA convention (1 - tau): tau 0.99 -> 1, cosine, per iteration
    base_momentum=0.01,
    end_momentum=0.,
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        zero_init_residual=True),
    # the official FPN never calls init_weights: keep ConvModule's kaiming init (init_cfg=None)
    neck=dict(
        type='mmdet.FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        num_outs=4,
        start_level=0,
        add_extra_convs=False,
        norm_cfg=norm_cfg,
        init_cfg=None),
    roi_align=dict(output_size=7, sampling_ratio=0, aligned=True),
    roi_head=dict(
        type='SoCoRoIHead',
        bbox_head=dict(
            type='SoCoSharedConvFCBBoxHead',
            in_channels=256,
            conv_out_channels=256,
            roi_feat_size=7,
            fc_out_channels=1024,
            norm_cfg=norm_cfg)),
    # Linear(bias) - BN - ReLU - Linear(bias), as the official MLP (contrast/models/mlps.py)
    projector=dict(
        type='NonLinearNeck',
        in_channels=1024,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_last_bias=True,
        with_avg_pool=False,
        norm_cfg=norm_cfg),
    predictor=dict(
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_last_bias=True,
        with_avg_pool=False,
        norm_cfg=norm_cfg),
    loss=dict(type='SoCoCorrespondenceLoss', loss_weight=2.))

# LARS as the official (contrast/lars.py): lr 1.0 x 2048 / 256, wd 1e-5, eta 0.001; every ndim == 1
# parameter (bias, BN) has no weight decay and no trust ratio. AMP as the official apex O1.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='SoCoLARSOptimWrapperConstructor',
    optimizer=dict(type='SoCoLARS', lr=8.0, momentum=0.9, weight_decay=1e-5, eta=0.001, eps=1e-8))

# 10 warm-up epochs from lr / 100, then cosine to 1e-6, stepped every iteration
max_epochs = 100
warmup_epochs = 10
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        end_factor=1.,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=1e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3))
# the official DDP keeps per-rank buffers (broadcast_buffers=False)
model_wrapper_cfg = dict(type='MMDistributedDataParallel', broadcast_buffers=False)
env_cfg = dict(dist_cfg=dict(backend='nccl'))
# lr above is for 16 GPUs x 128; `--auto-scale-lr` rescales it for other batch sizes
auto_scale_lr = dict(base_batch_size=2048)
