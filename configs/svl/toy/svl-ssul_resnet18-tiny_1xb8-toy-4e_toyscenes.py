# Toy + SSUL with the ResNet branch: 32x32 patches = the 4x4 C5 cells.
_base_ = './svl_resnet18-tiny_1xb8-toy-4e_toyscenes.py'

model = dict(
    ssul=dict(
        patch_size=32,
        mask_prob=0.15,
        feature='cross_modal',
        fill_value=0.,
        loss=dict(type='SSULLoss', loss_weight=1.0)))
