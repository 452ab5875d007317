# Toy mirror of ../upernet_mae-base_8xb2-amp-160k_ade20k-512x512.py (mmseg's MAE recipe): trains
# and evaluates (mIoU over the 8 thing and 8 stuff classes) on toy scenes on the CPU in minutes.
# Changed are only the sizes (the toy MUG ViT: 192-d, 4 layers, 3 heads, 16 px patches, features
# of all 4 layers; 128x128 crops, 128-channel UPerHead), the data and the schedule (as the toy
# UperNet ViT, configs/benchmarks/mmsegmentation/toy/upernet_vit-tiny_mln_1xb4-toy_toyscenes.py);
# BN replaces SyncBN in the heads and fp32 replaces AMP because the CPU has neither.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH, PATH from
#   extract_weights.py CKPT PATH --target mmseg-mae --seg-config <this config> (see the paper
#   config)
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../upernet_mae-base_8xb2-amp-160k_ade20k-512x512.py',
    '../../../_base_/datasets/toy_scenes_stuff.py',
]

norm_cfg = dict(type='BN', requires_grad=True)
embed_dims = 192
num_layers = 4
model = dict(
    data_preprocessor=dict(size=_base_.toy_crop_size),
    backbone=dict(
        img_size=_base_.toy_crop_size,
        embed_dims=embed_dims,
        num_layers=num_layers,
        num_heads=3,
        out_indices=(0, 1, 2, 3)),
    neck=dict(embed_dim=embed_dims, norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=[embed_dims] * 4,
        channels=128,
        num_classes=_base_.toy_num_classes,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=embed_dims, channels=64, num_classes=_base_.toy_num_classes,
        norm_cfg=norm_cfg),
    test_cfg=dict(_delete_=True, mode='whole'))

train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(_delete_=True, **_base_.toy_train_dataset))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(_delete_=True, **_base_.toy_val_dataset))
# a dict of its own: a shared one would lose `_delete_` to whichever of the two merges first
test_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(_delete_=True, **_base_.toy_val_dataset))
val_evaluator = _base_.toy_val_evaluator
test_evaluator = _base_.toy_val_evaluator

optim_wrapper = dict(paramwise_cfg=dict(num_layers=num_layers))
max_iters = 400
warmup_iters = 40
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=warmup_iters,
        end=max_iters,
        by_epoch=False,
    )
]

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
