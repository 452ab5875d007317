# Toy mirror of ../mask-rcnn_r50_fpn_soco-head_syncbn-1x_coco.py: the toy Mask R-CNN
# (./mask-rcnn_r18_fpn_1xb4-toy_toyscenes.py: R18, 64-channel FPN, 4conv1fc head with 64-channel
# convs and a 256-d fc, BN) initialised from a whole toy SoCo export -- backbone, FPN and box-head
# shared convs/fc -- with SoCo's fine-tuning weight decay 2.5e-5. The box head has the dimensions
# of the toy SoCo's (configs/soco/soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py), so it loads.
# SoCo:     --cfg-options load_from=PATH (extract_weights.py CKPT PATH --target mmdet)
# Random-init baseline: --cfg-options load_from=None
_base_ = './mask-rcnn_r18_fpn_1xb4-toy_toyscenes.py'

channels = 64
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            in_channels=channels, conv_out_channels=channels, roi_feat_size=7,
            fc_out_channels=256)))

optim_wrapper = dict(optimizer=dict(weight_decay=2.5e-5))

# required: the extract_weights.py output of a toy SoCo checkpoint, or None for random init
load_from = ''
