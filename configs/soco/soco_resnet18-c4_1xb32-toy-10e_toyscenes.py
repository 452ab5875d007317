# Toy SoCo R18-C4: the toy SoCo-FPN (sizes, data, schedule) with the C4 model and views of
# soco_resnet50-c4_16xb128-coslr-100e_in1k.py -- 14x14 RoIAlign on C4, the backbone's res5 as the
# box head, projector from 512-d (ResNet-18's C5), two 64 px views, crop scale (0.6, 1), cutout.
_base_ = './soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py'

model = dict(
    backbone=dict(out_indices=(3, )),
    neck=None,
    roi_head=None,
    res5_roi_head=True,
    roi_align=dict(output_size=14, sampling_ratio=0, aligned=True),
    projector=dict(in_channels=512))

toy_views = dict(_base_.soco_views_c4, view_sizes=(64, 64))
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='LoadImageFromFile'), toy_views, _base_.pack_inputs]))
