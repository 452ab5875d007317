# Toy + SEGL (mirror of ../svl-segl_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py): the 172 COCO-Stuff
# classes of the toy stuffthingmaps (real COCO-Stuff values), mode-down-sampled to the 4x4 grid;
# the toy caption list without maps contributes no SEGL.
_base_ = './svl_vit-tiny-p32_1xb8-toy-4e_toyscenes.py'

model = dict(
    segl=dict(
        feature='backbone',
        feature_size=None,
        loss=dict(
            type='SEGLLoss', num_classes=172, ignore_index=255, downsample='mode',
            loss_weight=1.0)))
