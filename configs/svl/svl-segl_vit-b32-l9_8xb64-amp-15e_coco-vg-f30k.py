# + SEGL (semantic segmentation loss, Table II/III "Baseline + SEGL", the paper's best model of
# Tables IV-VI): a 1x1 conv maps the 12x12 ViT grid to the 172 COCO-Stuff classes; the
# stuffthingmaps label map (training ids 0..170 through mmseg's table, 255 unlabeled and
# ignored) is down-sampled to 12x12 by taking each cell's most frequent label ("we resize the
# groundtruth annotations to 12x12"). Only the COCO images have maps (about half the images,
# 10 % of the pairs); the others contribute no SEGL.
_base_ = './svl_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py'

model = dict(
    segl=dict(
        feature='backbone',
        feature_size=None,
        loss=dict(
            type='SEGLLoss', num_classes=172, ignore_index=255, downsample='mode',
            loss_weight=1.0)))
