# End-to-end fine-tuning of a pretrained ResNet-50 on ImageNet-1k. mmpretrain ships one recipe
# for fine-tuning a self-supervised ResNet-50, SparK's (spark/benchmarks/
# resnet50_8xb256-coslr-300e_in1k.py: ResNet strikes back A2-style augmentation with
# TrivialAugment, random erasing, Mixup 0.1 / CutMix 1.0, BCE with label smoothing, LAMB lr 0.016
# at batch 2048 with layer-wise lr decay 0.7, drop path 0.05, SyncBN). We keep that recipe and
# shorten it to the 100 epochs of ResNet strikes back A3 (5 warm-up epochs, cosine to 1e-6 over
# the remaining 95), so that a run costs a third of SparK's.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   (PATH from tools/model_converters/extract_weights.py CKPT PATH --target mmpretrain)
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = 'mmpretrain::spark/benchmarks/resnet50_8xb256-coslr-300e_in1k.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))

max_epochs = 100
warmup_epochs = 5
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.0001,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=1.0e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
