# Mask R-CNN R50-FPN 2x on COCO initialised from a whole SoCo export (backbone, FPN, box-head
# shared convs/fc): ./mask-rcnn_r50_fpn_soco-head_syncbn-1x_coco.py with the 2x schedule of
# ./mask-rcnn_r50_fpn_syncbn-2x_coco.py (24 epochs, lr steps at 16 and 22; SoCo's 2x = 180k
# iterations at batch 16).
# SoCo: --cfg-options load_from=soco_mmdet.pth; random-init baseline: --cfg-options load_from=None
_base_ = './mask-rcnn_r50_fpn_soco-head_syncbn-1x_coco.py'

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[16, 22], gamma=0.1)
]
