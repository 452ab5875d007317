# RetinaNet R50-FPN 1x on COCO for transfer: mmdet's stock recipe with the backbone fine-tuned as
# in the Mask R-CNN protocol (SyncBN, no frozen stages, BN statistics updated) and SyncBN in the
# FPN; the RetinaHead keeps its stock (norm-free) convolutions.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    neck=dict(norm_cfg=norm_cfg))
