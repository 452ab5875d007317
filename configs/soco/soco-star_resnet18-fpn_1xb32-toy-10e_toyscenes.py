# Toy SoCo* R18-FPN: the toy SoCo-FPN (sizes, data, schedule) with the SoCo* views of
# soco-star_resnet50-fpn_16xb128-coslr-400e_in1k.py -- V1 64 / V2 64 / V3 55 / V4 = V2 at 32 px
# (224 / 192 / 112 scaled by 64/224), no cutout, three view pairs.
_base_ = './soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py'

toy_views = dict(
    _base_.soco_views_fpn_star, view_sizes=(64, 64, 55, 32), aware_range=_base_.toy_aware_range)
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='LoadImageFromFile'), toy_views, _base_.pack_inputs]))
