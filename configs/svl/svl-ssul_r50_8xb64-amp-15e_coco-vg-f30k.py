# + SSUL with the ResNet-50 branch: 32x32 patches = the 12x12 C5 cells (stride 32), as the ViT.
_base_ = './svl_r50_8xb64-amp-15e_coco-vg-f30k.py'

model = dict(
    ssul=dict(
        patch_size=32,
        mask_prob=0.15,
        feature='cross_modal',
        fill_value=0.,
        loss=dict(type='SSULLoss', loss_weight=1.0)))
