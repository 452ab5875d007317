# UperNet R50 on ADE20K (512x512 crops, 160k iterations, 4 GPUs x 4 images), mmseg's recipe for
# transfer from our checkpoints: the backbone is a plain ``ResNet`` (7x7 stem, the layout of the
# mmpretrain/mmdet ResNets we pretrain) instead of the stock deep-stem ``ResNetV1c``, whose stem
# would silently stay random; SyncBN and unfrozen BN come with the stock recipe.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   (PATH from tools/model_converters/extract_weights.py CKPT PATH --target mmseg)
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = 'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

model = dict(
    # the stock `pretrained='open-mmlab://resnet50_v1c'` would download at init
    pretrained=None,
    backbone=dict(
        type='ResNet', init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))
