# SoCo's ImageNet-1k pretraining data (spec 1.3; official tools/SoCo_*.sh + contrast/data/).
# Images: data/imagenet/train/<wnid>/<name>.JPEG listed by meta/train.txt (mmpretrain layout);
# proposals: the filtered selective-search json of tools/data/selective_search.py
# ({basename: [[x, y, w, h], ...]}, the official train_ratio3size0308post.json format).
# `train_pipeline` is SoCo R50-FPN 100 ep (with cutout); the other recipes pick
# `train_pipeline_fpn_400e` (no cutout), `train_pipeline_fpn_star` (SoCo*, 4 views) or
# `train_pipeline_c4` (2 views, crop scale 0.6, no jitter, no levels):
#     train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline_c4))
dataset_type = 'SoCoProposalDataset'
data_root = 'data/imagenet/'
proposal_file = 'proposals/train_ratio3size0308post.json'

# Views are uint8 BGR until here; the preprocessor converts to RGB and normalises.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# SoCo's colour augmentation (contrast/data/transform.py): torchvision ColorJitter(0.4, 0.4,
# 0.2, 0.1) p 0.8, RandomGrayscale p 0.2, PIL Gaussian blur sigma ~ U(0.1, 2), PIL solarize 128.
# V1 ("post_1"): blur always, never solarize.
colour_view1 = [
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
# V2, V3, V4 ("post_2"): blur p 0.1, solarize p 0.2.
colour_other_views = [
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
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]

# Cutout (FPN 100 ep and C4) paints the dataset mean; cutout_float=True keeps those views in
# float32 so that the painted pixels normalise to exactly 0, as in the official code.
# Arguments shared by all recipes (--select_strategy random --select_k 4 --padding_k 4
# --max_tries 5 --jitter_ratio 0.1, aware_range [48, 96, 192, 224], PIL bilinear resizes).
soco_views_common = dict(
    type='SoCoViews',
    crop_ratio=(3. / 4., 4. / 3.),
    select_k=4,
    padding_k=4,
    max_tries=5,
    jitter_ratio=0.1,
    aware_range=(48, 96, 192, 224),
    flip_prob=0.5,
    cutout_ratio=(0.1, 0.3),
    colour_pipelines=[colour_view1, colour_other_views],
    interpolation='bilinear',
    backend='pillow')

# SoCo R50-FPN 100 ep: ImageAsymBboxAwareMultiJitter1Cutout, V1 224 / V2 224 / V3 112.
soco_views_fpn = dict(
    **soco_views_common,
    variant='fpn',
    view_sizes=(224, 224, 112),
    crop_scale=(0.5, 1.),
    jitter_prob=0.5,
    cutout_prob=0.5,
    cutout_float=True)
# SoCo R50-FPN 400 ep: ImageAsymBboxAwareMultiJitter1, the same without cutout.
soco_views_fpn_400e = dict(
    **soco_views_common,
    variant='fpn',
    view_sizes=(224, 224, 112),
    crop_scale=(0.5, 1.),
    jitter_prob=0.5,
    cutout_prob=0.)
# SoCo* R50-FPN 400 ep: ImageAsymBboxAwareMulti3ResizeExtraJitter1, V1 224 / V2 224 / V3 192 /
# V4 = V2 resized to 112; no cutout.
soco_views_fpn_star = dict(
    **soco_views_common,
    variant='fpn_star',
    view_sizes=(224, 224, 192, 112),
    crop_scale=(0.5, 1.),
    jitter_prob=0.5,
    cutout_prob=0.)
# SoCo R50-C4: ImageAsymBboxCutout, V1 224 / V2 224 with crop scale 0.6, no jitter, no levels.
soco_views_c4 = dict(
    **soco_views_common,
    variant='c4',
    view_sizes=(224, 224),
    crop_scale=(0.6, 1.),
    jitter_prob=0.,
    cutout_prob=0.5,
    cutout_float=True)

pack_inputs = dict(type='PackInputs', algorithm_keys=['soco_boxes', 'soco_ids'])
train_pipeline_fpn = [dict(type='LoadImageFromFile'), soco_views_fpn, pack_inputs]
train_pipeline_fpn_400e = [dict(type='LoadImageFromFile'), soco_views_fpn_400e, pack_inputs]
train_pipeline_fpn_star = [dict(type='LoadImageFromFile'), soco_views_fpn_star, pack_inputs]
train_pipeline_c4 = [dict(type='LoadImageFromFile'), soco_views_c4, pack_inputs]
train_pipeline = train_pipeline_fpn

# 128 images per GPU x 16 GPUs in the paper; drop_last as the official loader.
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train/',
        proposal_file=proposal_file,
        pipeline=train_pipeline))
