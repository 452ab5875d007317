# Toy mirror of ../upernet_r50_4xb4-160k_ade20k-512x512.py: trains and evaluates (mIoU over the
# 8 thing and 8 stuff classes of the stuffthingmaps) on toy scenes on the CPU in minutes. Changed
# are only the sizes (ResNet-18, 128x128 crops, 128-channel UPerHead), the data and the schedule;
# BN replaces SyncBN because SyncBN needs a GPU.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../upernet_r50_4xb4-160k_ade20k-512x512.py',
    '../../../_base_/datasets/toy_scenes_stuff.py',
]

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=_base_.toy_crop_size),
    backbone=dict(depth=18, norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=[64, 128, 256, 512],
        channels=128,
        num_classes=_base_.toy_num_classes,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=256, channels=64, num_classes=_base_.toy_num_classes, norm_cfg=norm_cfg))

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

# schedule: 160k's poly decay, a few hundred iterations
max_iters = 400
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)
]

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
