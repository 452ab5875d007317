# ORL stage 1 data (spec 2.3, official configs/selfsup/orl/coco/stage1/r50_bs512_ep800.py): two
# asymmetric BYOL views of COCO train2017 images. RandomResizedCrop 224, scale (0.08, 1),
# *bilinear* (torchvision interpolation=2, PIL backend); flip; colour jitter p 0.8; grayscale
# p 0.2; Gaussian blur p 1.0 / 0.1 and solarize p 0 / 0.2 for view 1 / view 2. Images are
# loaded 0-255 BGR and normalised by the data preprocessor with 0-255 ImageNet mean/std.
# `train_dataset_coco_plus` is COCO+ = train2017 + unlabeled2017 (241,690 images) in the official
# layout that stage 2 also reads: one folder data/cocoplus/trainplus2017/ holding both splits
# (e.g. symlinks), used as
#     train_dataloader = dict(dataset=_base_.train_dataset_coco_plus)
dataset_type = 'mmpretrain.CustomDataset'
data_root = 'data/coco/'
crop_size = 224

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

view_pipeline1 = [
    dict(
        type='RandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.08, 1.),
        interpolation='bilinear',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[
            dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.),
    dict(type='Solarize', thr=128, prob=0.),
]
# view 2: the same with blur p 0.1 and solarize p 0.2
view_pipeline2 = view_pipeline1[:-2] + [
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs'),
]

train_dataset_coco = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix='train2017/',
    ann_file='',
    with_label=False,
    pipeline=train_pipeline)
train_dataset_coco_plus = dict(
    train_dataset_coco, data_root='data/cocoplus/', data_prefix='trainplus2017/')

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=train_dataset_coco)
