# UperNet on ADE20K (512x512 crops, 160k iterations, 8 GPUs x 2 images) with the MUG ViT-B/16
# encoder. The paper uses "the default setting provided in mmsegmentation": for an MAE-style ViT
# that is mmseg's MAE recipe (mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py), kept
# unchanged: the `MAE` backbone (BEiT-style layers, layer scales initialised to 1.0, drop path
# 0.1, features of layers 4/6/8/12 through Feature2Pyramid x4/x2/x1/x0.5), UPerHead 768
# channels, AdamW lr 1e-4, weight decay 0.05, layer decay 0.65, 1500 warm-up iterations then
# linear (poly 1.0) decay, slide inference (stride 341).
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH, where PATH is
#   written for this config's MAE backbone by
#     python tools/model_converters/extract_weights.py CKPT PATH --target mmseg-mae \
#         --seg-config configs/mug/benchmarks/upernet_mae-base_8xb2-amp-160k_ade20k-512x512.py
#   (bare keys, as mmseg's MAE.init_weights loads the whole file non-strictly and ignores
#   `prefix`; layer scales gamma_1/gamma_2 = 1 and zero relative-position tables for the 32 x 32
#   grid added; configs/mug/README.md, "Transfer"). mmseg's own VisionTransformer recipe
#   instead: configs/benchmarks/mmsegmentation/upernet_vit-b16_mln_8xb2-160k_ade20k-512x512.py
#   with extract_weights.py --target mmseg.
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = 'mmseg::mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

model = dict(
    # the stock recipe points `pretrained` at a local file of the official MAE weights
    pretrained=None,
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='')))
