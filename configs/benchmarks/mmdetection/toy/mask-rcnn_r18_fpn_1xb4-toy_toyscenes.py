# Toy mirror of ../mask-rcnn_r50_fpn_syncbn-1x_coco.py that trains and evaluates (COCO bbox and
# segm AP, pycocotools) on toy scenes on the CPU in minutes; `make demo` runs it from a pretrained
# backbone and from random init. Same protocol (4conv1fc box head, BN in backbone, FPN and heads,
# nothing frozen); changed are only the sizes (ResNet-18, 128 px images, 64-channel FPN and
# heads, anchors and RoI sampling for small objects), the data and the schedule. BN replaces SyncBN
# because SyncBN needs a GPU (the toy configs also run distributed on the CPU with gloo).
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../mask-rcnn_r50_fpn_syncbn-1x_coco.py',
    '../../../_base_/datasets/toy_scenes_instance.py',
]

norm_cfg = dict(type='BN', requires_grad=True)
channels = 64
num_classes = len(_base_.toy_classes)
model = dict(
    backbone=dict(depth=18, norm_cfg=norm_cfg),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels, norm_cfg=norm_cfg),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        # objects are 15-60 px: anchors of 16-256 px on P2-P6 instead of 32-512
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            in_channels=channels,
            conv_out_channels=channels,
            fc_out_channels=256,
            num_classes=num_classes,
            norm_cfg=norm_cfg),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            in_channels=channels,
            conv_out_channels=channels,
            num_classes=num_classes,
            norm_cfg=norm_cfg)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300), rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100)))

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
val_evaluator = _base_.toy_val_evaluator
test_evaluator = _base_.toy_val_evaluator

# schedule: 1x's shape (warm-up, lr steps at 2/3 and 11/12 of training), a few epochs
max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[max_epochs * 2 // 3, max_epochs * 11 // 12],
        gamma=0.1)
]
# 1x's lr 0.02 is for batch 16; the small toy model trains stably at it with batch 4
optim_wrapper = dict(optimizer=dict(lr=0.02))

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
log_processor = dict(window_size=10)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
