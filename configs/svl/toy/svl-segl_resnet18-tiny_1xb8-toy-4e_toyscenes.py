# Toy + SEGL with the ResNet branch (mirror of ../svl-segl_r50_8xb64-amp-15e_coco-vg-f30k.py): the
# logits of the 4x4 grid are up-sampled to 8x8 (the paper: 12x12 -> 24x24).
_base_ = './svl_resnet18-tiny_1xb8-toy-4e_toyscenes.py'

model = dict(
    segl=dict(
        feature='backbone',
        feature_size=(8, 8),
        loss=dict(
            type='SEGLLoss', num_classes=172, ignore_index=255, downsample='mode',
            loss_weight=1.0)))
