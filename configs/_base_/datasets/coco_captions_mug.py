# MUG image-text data (spec 3.3-3.5) on COCO Captions train2017: one sample per image with a
# caption drawn at random per visit (CocoCaptionsDataset, sample_per='image': epochs count
# images, as the MAE recipe does). Image side = MAE's recipe (mmpretrain imagenet_bs512_mae.py):
# RandomResizedCrop 224, area (0.2, 1), pillow bicubic; horizontal flip 0.5 (with the VirTex
# left/right word swap in the caption). Text side: bert-base-uncased WordPiece,
# [CLS] caption [SEP] padded to 32 tokens (a choice of ours: MUG's tokenizer/length are [NF]).
# Data contract (what the MUG model reads from each DataSample, via PackInputs):
#   inputs: uint8 image (3, crop, crop), BGR -> to_rgb in data_preprocessor;
#   input_ids: torch.int64 (max_length,); attention_mask: torch.int64 (max_length,), 1 = token.
# Layout: data/coco/{train2017,val2017}/, data/coco/annotations/captions_{train,val}2017.json.
dataset_type = 'CocoCaptionsDataset'
data_root = 'data/coco/'
crop_size = 224
max_length = 32
# The model builds the same tokenizer (vocab size, pad id) from this dict: both
# mmvisrep.datasets.transforms.captions.build_tokenizer and mmpretrain's TOKENIZER accept it.
tokenizer = dict(type='AutoTokenizer', name_or_path='bert-base-uncased')

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

mug_algorithm_keys = ['input_ids', 'attention_mask']
mug_meta_keys = [
    'sample_idx', 'img_path', 'ori_shape', 'img_shape', 'flip', 'flip_direction', 'text',
    'ann_source'
]
# Everything after image loading; tar shards (ImageTextShardDataset) decode the image
# themselves and use this list as their whole pipeline.
mug_transforms = [
    dict(
        type='RandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='TokenizeCaption', tokenizer=tokenizer, max_length=max_length),
    dict(type='PackInputs', algorithm_keys=mug_algorithm_keys, meta_keys=mug_meta_keys),
]
train_pipeline = [dict(type='LoadImageFromFile')] + mug_transforms
# Deterministic view (caption/reconstruction visualisation): short side 256, centre crop.
val_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=crop_size * 8 // 7,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='TokenizeCaption', tokenizer=tokenizer, max_length=max_length),
    dict(type='PackInputs', algorithm_keys=mug_algorithm_keys, meta_keys=mug_meta_keys),
]

train_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/captions_train2017.json',
    data_prefix='train2017/',
    sample_per='image',
    pipeline=train_pipeline)
val_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/captions_val2017.json',
    data_prefix='val2017/',
    sample_per='image',
    test_mode=True,
    pipeline=val_pipeline)

train_dataloader = dict(
    batch_size=512,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=train_dataset)
