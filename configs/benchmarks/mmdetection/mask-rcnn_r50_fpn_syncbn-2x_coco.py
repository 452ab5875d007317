# Mask R-CNN R50-FPN 2x on COCO: the 1x transfer protocol (SyncBN everywhere, 4conv1fc box head,
# multi-scale 640-800) with mmdet's 2x schedule (24 epochs, lr steps at 16 and 22), as in ORL's
# R_50_FPN_2x_infomin (180k iterations at batch 16).
_base_ = './mask-rcnn_r50_fpn_syncbn-1x_coco.py'

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[16, 22], gamma=0.1)
]
