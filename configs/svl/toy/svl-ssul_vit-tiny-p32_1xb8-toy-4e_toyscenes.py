# Toy + SSUL (mirror of ../svl-ssul_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py): 32x32 patches =
# the toy ViT's 4x4 grid cells, masked with p = 0.15.
_base_ = './svl_vit-tiny-p32_1xb8-toy-4e_toyscenes.py'

model = dict(
    ssul=dict(
        patch_size=32,
        mask_prob=0.15,
        feature='cross_modal',
        fill_value=0.,
        loss=dict(type='SSULLoss', loss_weight=1.0)))
