# Mask R-CNN R50-C4 1x on COCO for the SoCo-C4 variant, initialised from a whole SoCo-C4 export:
# stem..res4 as the backbone and res5 as the RoI head's shared head, the detectron2 C4 recipe of
# SoCo (Base-RCNN-C4-BN.yaml, spec 1.8): SyncBN in the backbone and res5 head, nothing frozen,
# BN statistics updated, multi-scale training 640-800, weight decay 2.5e-5. mmdet's
# mask-rcnn_r50-caffe-c4_1x_coco.py is caffe style (stride in the 1x1 conv, BGR input with mean
# subtraction only); SoCo's ResNet is pytorch style on RGB mean/std input, so both are switched.
# The extra norm after res5 of detectron2's Res5ROIHeadsExtraNorm has no mmdet counterpart and is
# not used; neither is precise BN.
# Export:   python tools/model_converters/extract_weights.py SOCO_C4_CKPT soco_c4_mmdet.pth \
#               --target mmdet
#           (a SoCo-C4 checkpoint is recognised: backbone.layer4 -> roi_head.shared_head.layer4;
#            --c4-shared-head does the same for any ResNet checkpoint)
# SoCo:     --cfg-options load_from=soco_c4_mmdet.pth
# Random-init baseline: --cfg-options load_from=None
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        # everything pretrained comes from load_from (backbone. + roi_head.shared_head. keys)
        init_cfg=None),
    roi_head=dict(
        # mmdet's ResLayer registers res5 as `layer4`: keys roi_head.shared_head.layer4.*
        shared_head=dict(style='pytorch', norm_cfg=norm_cfg, norm_eval=False)))

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

optim_wrapper = dict(optimizer=dict(weight_decay=2.5e-5))

# required: the extract_weights.py output of a SoCo-C4 checkpoint, or None for random init
load_from = ''
