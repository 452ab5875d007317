# Toy SoCo R18-FPN: the 100-epoch ImageNet recipe (soco_resnet50-fpn_16xb128-coslr-100e_in1k.py)
# scaled to run on the CPU in minutes. Changed are only the sizes (ResNet-18, 64-channel FPN and
# 4conv1fc head with a 256-d fc -- the toy Mask R-CNN's, so the head transfers -- 512-64 MLPs,
# views 64 / 64 / 32 px with level bounds scaled by 64/224), the data (toy scenes with
# tools/data/selective_search.py proposals), the schedule (10 epochs, 1 warm-up, batch 32, lr 2.0:
# the linear-scaled 1.0 x 32 / 256 = 0.125 moves LARS weights by only ~1.6 % in 120 iterations,
# see configs/benchmarks/README.md) and the FPN / box-head initialisation (below); BN replaces
# SyncBN and plain fp32 replaces AMP for the CPU (gloo). `make demo` runs this config.
_base_ = './soco_resnet50-fpn_16xb128-coslr-100e_in1k.py'

norm_cfg = dict(type='BN', requires_grad=True)
channels = 64
# FPN and box head start from mmdet's own initialisation (FPN: xavier-uniform convs; box head:
# ConvModule's kaiming convs, xavier-uniform fc), the one the random-init Mask R-CNN baseline
# gets, instead of the official kaiming FPN / PyTorch-default head. 120 toy iterations with
# LARS (relative step lr x eta = 0.002) leave these layers near their initial scale, and a
# PyTorch-default head (2.4x smaller weights) fine-tunes worse than mmdet's init whatever was
# learnt (measured: rescaling only the head's conv weights moved bbox AP from 0.164 to 0.204);
# with this init the demo compares what SoCo learnt, not two initialisations.
fpn_init_cfg = dict(_delete_=True, type='Xavier', layer='Conv2d', distribution='uniform')
head_init_cfg = [
    dict(
        type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu',
        distribution='normal'),
    dict(type='Xavier', layer='Linear', distribution='uniform'),
]
model = dict(
    backbone=dict(depth=18, norm_cfg=norm_cfg),
    neck=dict(
        in_channels=[64, 128, 256, 512],
        out_channels=channels,
        norm_cfg=norm_cfg,
        init_cfg=fpn_init_cfg),
    roi_head=dict(
        bbox_head=dict(
            in_channels=channels,
            conv_out_channels=channels,
            fc_out_channels=256,
            norm_cfg=norm_cfg,
            init_cfg=head_init_cfg)),
    projector=dict(
        in_channels=256, hid_channels=512, out_channels=64, norm_cfg=dict(type='BN1d')),
    predictor=dict(in_channels=64, hid_channels=512, out_channels=64, norm_cfg=dict(type='BN1d')))

# toy scenes are 128 px: views 224 -> 64 and 112 -> 32, levels (48, 96, 192, 224) * 64 / 224
data_root = 'data/toy_scenes/'
toy_aware_range = (14, 27, 55, 64)
toy_views = dict(_base_.soco_views_fpn, view_sizes=(64, 64, 32), aware_range=toy_aware_range)
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    pin_memory=False,
    dataset=dict(
        _delete_=True,
        type='SoCoProposalDataset',
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017/',
        proposal_file='proposals/train2017_ratio3size0308post.json',
        pipeline=[dict(type='LoadImageFromFile'), toy_views, _base_.pack_inputs]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='SoCoLARSOptimWrapperConstructor',
    optimizer=dict(
        type='SoCoLARS', lr=2.0, momentum=0.9, weight_decay=1e-5, eta=0.001, eps=1e-8))

max_epochs = 10
warmup_epochs = 1
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
train_cfg = dict(max_epochs=max_epochs)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=32)
