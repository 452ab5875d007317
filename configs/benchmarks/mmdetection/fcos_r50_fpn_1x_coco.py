# FCOS R50-FPN (GN head) 1x on COCO for transfer. mmdet's stock FCOS expects a caffe-style
# ResNet with BGR, mean-only input; our checkpoints are pytorch-style ResNets trained on RGB
# normalised by the ImageNet mean/std, so this switches the style and the normalisation, and
# fine-tunes the backbone as in the Mask R-CNN protocol (SyncBN, no frozen stages, BN statistics
# updated) with SyncBN in the FPN. The head keeps its stock GroupNorm.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        style='pytorch',
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    neck=dict(norm_cfg=norm_cfg))
