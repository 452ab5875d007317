# End-to-end fine-tuning of the MUG ViT-B/16 encoder on ImageNet-1k. The paper follows "the
# widely used fine-tuning recipe introduced by Bao et al. (2022); He et al. (2022)"; its Table 11
# could not be read, so this is mmpretrain's MAE recipe unchanged
# (mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py): 100 epochs (5 warm-up), AdamW
# lr 2e-3 at batch 1024 (5e-4 x 1024 / 256), layer decay 0.65, weight decay 0.05, drop path 0.1,
# RandAugment m9 mstd0.5, random erasing 0.25, Mixup 0.8 / CutMix 1.0, label smoothing 0.1,
# average-pooled patch tokens (final_norm=False, as MAE's global pool).
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH, where PATH is the
#   MUG training checkpoint itself (its `backbone.` keys are mmpretrain ViT keys) or the export of
#   tools/model_converters/extract_weights.py CKPT PATH --target mmpretrain.
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))
