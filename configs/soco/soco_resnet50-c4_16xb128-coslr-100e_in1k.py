# SoCo R50-C4, 100 epochs on ImageNet-1k (official tools/SoCo_C4_100ep.sh): two views (V1 224
# whole image, V2 224 crop with scale (0.6, 1), cutout), boxes RoI-aligned 14x14 on C4 (stride 16),
# the backbone's own res5 run on each RoI, average-pooled to 2048-d, projector 2048-4096-256.
# The res5 weights stay under backbone.layer4, so the checkpoint is a plain ResNet-50 for
# Mask R-CNN R50-C4.
_base_ = './soco_resnet50-fpn_16xb128-coslr-100e_in1k.py'

model = dict(
    backbone=dict(out_indices=(3, )),
    neck=None,
    roi_head=None,
    res5_roi_head=True,
    roi_align=dict(output_size=14, sampling_ratio=0, aligned=True),
    projector=dict(in_channels=2048))

train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline_c4))
# the official C4 script saves every 10 epochs
default_hooks = dict(checkpoint=dict(interval=10))
