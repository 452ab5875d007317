# Toy pseudo-label detector for SPL: the offline detector `tools/data/extract_pseudo_labels.py`
# runs over the pretraining images (the paper: Bottom-Up Attention's Faster R-CNN with 1600
# Visual Genome classes). Here mmdet's Faster R-CNN R50-FPN 1x scaled to the toy scenes on the CPU:
# a random-init ResNet-18 with BN, 64-channel FPN and box head, small anchors, 8 toy shape
# classes, 8 epochs. The tests and the toy SPL pipeline train it, then extract the labels:
#   python tools/train.py configs/svl/detector/faster-rcnn_r18_fpn_1xb4-toy-8e_toyscenes.py \
#       --work-dir work_dirs/svl_toy_detector
#   python tools/data/extract_pseudo_labels.py extract \
#       configs/svl/detector/faster-rcnn_r18_fpn_1xb4-toy-8e_toyscenes.py \
#       work_dirs/svl_toy_detector/epoch_8.pth --img-dir data/toy_scenes/train2017 \
#       --ann-file data/toy_scenes/annotations/instances_train2017.json \
#       --out data/toy_scenes/pseudo_labels/train2017.json
_base_ = [
    'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    '../../_base_/datasets/toy_scenes_instance.py',
]

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

norm_cfg = dict(type='BN', requires_grad=True)
channels = 64
model = dict(
    backbone=dict(depth=18, frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels, norm_cfg=norm_cfg),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        # objects are 15-60 px: anchors of 16-256 px on P2-P6 instead of 32-512
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            in_channels=channels, fc_out_channels=256, num_classes=len(_base_.toy_classes))),
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
test_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(_delete_=True, **_base_.toy_val_dataset))
val_evaluator = dict(_base_.toy_val_evaluator, metric='bbox')
test_evaluator = val_evaluator

max_epochs = 8
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
optim_wrapper = dict(optimizer=dict(lr=0.02))

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
log_processor = dict(window_size=10)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
