# SoCo views on the toy scenes (tools/data/make_toy_scenes.py, 128 px images): the ImageNet
# recipe (imagenet_soco.py) with every size scaled by 64/224 -- views 64 / 64 / 32 (SoCo*:
# 64 / 64 / 55 / 32) and level bounds round((48, 96, 192, 224) * 64 / 224) = (14, 27, 55, 64).
# Proposals: tools/data/selective_search.py on train2017/, filtered, in data_root.
_base_ = './imagenet_soco.py'

data_root = 'data/toy_scenes/'
proposal_file = 'proposals/train2017_ratio3size0308post.json'
toy_aware_range = (14, 27, 55, 64)

soco_views_fpn = dict(_base_.soco_views_fpn, view_sizes=(64, 64, 32), aware_range=toy_aware_range)
soco_views_fpn_400e = dict(
    _base_.soco_views_fpn_400e, view_sizes=(64, 64, 32), aware_range=toy_aware_range)
soco_views_fpn_star = dict(
    _base_.soco_views_fpn_star, view_sizes=(64, 64, 55, 32), aware_range=toy_aware_range)
soco_views_c4 = dict(_base_.soco_views_c4, view_sizes=(64, 64))

pack_inputs = _base_.pack_inputs
train_pipeline_fpn = [dict(type='LoadImageFromFile'), soco_views_fpn, pack_inputs]
train_pipeline_fpn_400e = [dict(type='LoadImageFromFile'), soco_views_fpn_400e, pack_inputs]
train_pipeline_fpn_star = [dict(type='LoadImageFromFile'), soco_views_fpn_star, pack_inputs]
train_pipeline_c4 = [dict(type='LoadImageFromFile'), soco_views_c4, pack_inputs]
train_pipeline = train_pipeline_fpn

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    pin_memory=False,
    dataset=dict(
        _delete_=True,
        type='SoCoProposalDataset',
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017/',
        proposal_file=proposal_file,
        pipeline=train_pipeline))
