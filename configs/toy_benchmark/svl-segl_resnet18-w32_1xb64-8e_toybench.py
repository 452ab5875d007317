# SVL + SEGL (COCO-Stuff segmentation from the 4x4 C5 grid, logits up-sampled to 8x8) on the toy
# benchmark; every image has its stuff map.
_base_ = './svl_resnet18-w32_1xb64-8e_toybench.py'

model = dict(
    segl=dict(
        feature='backbone',
        feature_size=(8, 8),
        loss=dict(
            type='SEGLLoss', num_classes=172, ignore_index=255, downsample='mode',
            loss_weight=1.0)))
