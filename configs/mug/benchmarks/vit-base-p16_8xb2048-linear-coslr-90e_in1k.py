# Linear probing of the frozen MUG ViT-B/16 encoder on ImageNet-1k. The paper's Table 12 could
# not be read; this is mmpretrain's MAE protocol unchanged
# (mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py): [CLS] token after the final
# norm, a BatchNorm without affine before the linear head, LARS lr 6.4 at batch 16384
# (0.1 x 16384 / 256), no weight decay, 90 epochs (10 warm-up), cosine decay.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH (the MUG training
#   checkpoint or its --target mmpretrain export, as for the fine-tuning config).
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))
