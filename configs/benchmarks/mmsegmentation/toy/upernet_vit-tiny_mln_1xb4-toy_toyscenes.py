# Toy mirror of ../upernet_vit-b16_mln_8xb2-160k_ade20k-512x512.py: trains and evaluates (mIoU
# over the 8 thing and 8 stuff classes) on toy scenes on the CPU in minutes. Changed are only the
# sizes (a 4-layer, 192-wide ViT with 16 px patches on 128x128 crops, 128-channel UPerHead), the
# data and the schedule; BN replaces SyncBN in the heads because SyncBN needs a GPU.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   (--target mmseg export of an mmpretrain ViT with the same embed_dims / num_layers / patch)
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../upernet_vit-b16_mln_8xb2-160k_ade20k-512x512.py',
    '../../../_base_/datasets/toy_scenes_stuff.py',
]

norm_cfg = dict(type='BN', requires_grad=True)
embed_dims = 192
model = dict(
    data_preprocessor=dict(size=_base_.toy_crop_size),
    backbone=dict(
        img_size=_base_.toy_crop_size,
        embed_dims=embed_dims,
        num_layers=4,
        num_heads=3,
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[embed_dims] * 4, out_channels=embed_dims),
    decode_head=dict(
        in_channels=[embed_dims] * 4,
        channels=128,
        num_classes=_base_.toy_num_classes,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=embed_dims, channels=64, num_classes=_base_.toy_num_classes,
        norm_cfg=norm_cfg))

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

# schedule: the recipe's linear warm-up then linear (power 1) poly decay, few hundred iterations
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
