# SoCo pretraining on COCO (the paper's Table 9): the ImageNet recipe's views and pipelines
# (imagenet_soco.py) on COCO train2017, images listed by the instances json (annotations
# unused). `train_dataset_coco_plus` is COCO+ = train2017 + unlabeled2017, the set the official
# code reads for --dataset COCO (trainunlabeled2017):
#     train_dataloader = dict(dataset=_base_.train_dataset_coco_plus)
# Proposals: tools/data/selective_search.py run on each split, filtered, written to
# data/coco/proposals/{train,unlabeled}2017_ratio3size0308post.json.
_base_ = './imagenet_soco.py'

data_root = 'data/coco/'
proposal_file = 'proposals/train2017_ratio3size0308post.json'

train_dataset_coco = dict(
    type='SoCoProposalDataset',
    data_root=data_root,
    ann_file='annotations/instances_train2017.json',
    data_prefix='train2017/',
    proposal_file=proposal_file,
    pipeline=_base_.train_pipeline)
train_dataset_coco_plus = dict(
    type='ConcatDataset',
    datasets=[
        train_dataset_coco,
        dict(
            type='SoCoProposalDataset',
            data_root=data_root,
            ann_file='annotations/image_info_unlabeled2017.json',
            data_prefix='unlabeled2017/',
            proposal_file='proposals/unlabeled2017_ratio3size0308post.json',
            pipeline=_base_.train_pipeline),
    ])

train_dataloader = dict(dataset=dict(_delete_=True, **train_dataset_coco))
