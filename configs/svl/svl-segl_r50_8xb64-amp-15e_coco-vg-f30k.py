# + SEGL with the ResNet-50 branch (Table II/III "ResNet + SEGL"): "For ResNet 50, we resize the
# feature map to 24x24": the 1x1-conv logits of the 12x12 C5 grid are bilinearly up-sampled to
# 24x24 and the stuff map is mode-down-sampled to 24x24.
_base_ = './svl_r50_8xb64-amp-15e_coco-vg-f30k.py'

model = dict(
    segl=dict(
        feature='backbone',
        feature_size=(24, 24),
        loss=dict(
            type='SEGLLoss', num_classes=172, ignore_index=255, downsample='mode',
            loss_weight=1.0)))
