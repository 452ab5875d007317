# Mask R-CNN R50-FPN 1x on COCO, the detection transfer protocol of SoCo and ORL: SyncBN in the
# backbone (no frozen stages, BN statistics updated), the FPN and both heads, a 4conv1fc box head
# (the head SoCo pretrains) and multi-scale training (short side 640-800). This is mmpretrain's
# byol/benchmarks/mask-rcnn_r50_fpn_ms-1x_coco.py plus the pretrained backbone slot below.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   (PATH from tools/model_converters/extract_weights.py CKPT PATH --target mmdet)
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
# SoCo parity: optim_wrapper.optimizer.weight_decay=2.5e-5 (ORL keeps the default 1e-4).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
