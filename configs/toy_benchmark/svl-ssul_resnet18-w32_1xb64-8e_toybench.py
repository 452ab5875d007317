# SVL + SSUL (masked mean colour of 32x32 patches = the 4x4 C5 cells) on the toy benchmark.
_base_ = './svl_resnet18-w32_1xb64-8e_toybench.py'

model = dict(
    ssul=dict(
        patch_size=32,
        mask_prob=0.15,
        feature='cross_modal',
        fill_value=0.,
        loss=dict(type='SSULLoss', loss_weight=1.0)))
