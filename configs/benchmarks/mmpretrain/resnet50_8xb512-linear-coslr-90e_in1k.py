# Linear probe of a frozen ResNet-50 on ImageNet-1k: mmpretrain's self-supervised linear protocol
# (byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py: all four stages frozen with BN in
# eval mode, LARS lr 1.6 at batch 4096, cosine over 90 epochs, RandomResizedCrop 224 /
# resize 256 + centre crop 224), evaluated on val every epoch (top-1, top-5).
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   (PATH from tools/model_converters/extract_weights.py CKPT PATH --target mmpretrain)
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = 'mmpretrain::byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        frozen_stages=4, init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))
