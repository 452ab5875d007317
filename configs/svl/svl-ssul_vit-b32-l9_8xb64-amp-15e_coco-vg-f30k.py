# + SSUL (self-supervised visual loss, Table II/III "Baseline + SSUL"): every 32x32 input patch
# (one 12x12 grid cell) is masked with p = 0.15 (pixels set to 0 after normalisation = the mean
# colour) and the cross-modal visual output of its cell predicts the patch's mean RGB (L2).
# The head (Linear-GELU-LN-Linear) and reading the cross-modal stream are ours.
_base_ = './svl_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py'

model = dict(
    ssul=dict(
        patch_size=32,
        mask_prob=0.15,
        feature='cross_modal',
        fill_value=0.,
        loss=dict(type='SSULLoss', loss_weight=1.0)))
