# UperNet ViT-B/16 with MultiLevelNeck on ADE20K (512x512 crops, 160k iterations, 8 GPUs x 2
# images): mmseg's own ViT recipe (AdamW lr 6e-5, linear warm-up 1500 iterations then poly decay)
# in its final-norm variant (vit_vit-b16-ln_mln_...), because mmpretrain ViTs (ours included) end
# with a LayerNorm (`ln1`) that the converted checkpoint carries.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   (PATH from tools/model_converters/extract_weights.py CKPT PATH --target mmseg, which renames
#   the mmpretrain ViT to mmseg's VisionTransformer and writes bare keys: mmseg's
#   VisionTransformer.init_weights ignores `init_cfg.prefix` and loads the whole state dict,
#   resizing `pos_embed` to the 512x512 grid, so this init_cfg has no `prefix`).
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = 'mmseg::vit/vit_vit-b16-ln_mln_upernet_8xb2-160k_ade20k-512x512.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

model = dict(
    # the stock recipe points `pretrained` at a local timm file
    pretrained=None,
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='')))
