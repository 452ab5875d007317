# SoCo R50-FPN pretrained on COCO+ (train2017 + unlabeled2017, 241,690 images) for 100 epochs:
# the paper's Table 9 ("Pretraining on non-object-centric dataset"), with the ImageNet recipe
# (soco_resnet50-fpn_16xb128-coslr-100e_in1k.py) unchanged except the data. Proposals come from
# tools/data/selective_search.py run on each split (data/coco/proposals/*_ratio3size0308post.json).
_base_ = './soco_resnet50-fpn_16xb128-coslr-100e_in1k.py'

data_root = 'data/coco/'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type='SoCoProposalDataset',
                data_root=data_root,
                ann_file='annotations/instances_train2017.json',
                data_prefix='train2017/',
                proposal_file='proposals/train2017_ratio3size0308post.json',
                pipeline=_base_.train_pipeline),
            dict(
                type='SoCoProposalDataset',
                data_root=data_root,
                ann_file='annotations/image_info_unlabeled2017.json',
                data_prefix='unlabeled2017/',
                proposal_file='proposals/unlabeled2017_ratio3size0308post.json',
                pipeline=_base_.train_pipeline),
        ]))
