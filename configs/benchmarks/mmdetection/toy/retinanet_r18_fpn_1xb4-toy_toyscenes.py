# Toy mirror of ../retinanet_r50_fpn_1x_coco.py: trains and evaluates (COCO bbox AP) on toy
# scenes on the CPU in minutes. Changed are only the sizes (ResNet-18, 128 px images, 128-channel
# FPN and head, anchors for small objects), the data and the schedule; BN replaces SyncBN because
# SyncBN needs a GPU.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../retinanet_r50_fpn_1x_coco.py',
    '../../../_base_/datasets/toy_scenes_instance.py',
]

norm_cfg = dict(type='BN', requires_grad=True)
channels = 128
model = dict(
    backbone=dict(depth=18, norm_cfg=norm_cfg),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels, norm_cfg=norm_cfg),
    bbox_head=dict(
        num_classes=len(_base_.toy_classes),
        in_channels=channels,
        feat_channels=channels,
        # objects are 15-60 px: anchors from 16 px on P3 instead of 32
        anchor_generator=dict(octave_base_scale=2)),
    test_cfg=dict(nms_pre=500))

train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(_delete_=True, **_base_.toy_train_dataset))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(_delete_=True, **_base_.toy_val_dataset))
# a dict of its own: a shared one would lose `_delete_` to whichever of the two merges first
test_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(_delete_=True, **_base_.toy_val_dataset))
val_evaluator = dict(_base_.toy_val_evaluator, metric='bbox')
test_evaluator = dict(_base_.toy_val_evaluator, metric='bbox')

# schedule: 1x's shape (warm-up, two lr steps at 2/3 and 11/12 of training), a few epochs
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1)
]

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
log_processor = dict(window_size=10)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
