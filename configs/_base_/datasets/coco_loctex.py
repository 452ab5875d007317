# LocTex pretraining data (spec 2.3-2.6): COCO train2017 images with their Localized Narratives
# (the 4 official shards, 134,272 narratives; an image with several narratives is one sample
# per narrative). VirTex's augmentation (spec 2.6): random resized crop 224, scale (0.2, 1),
# ratio (3/4, 4/3); horizontal flip with the left/right word swap; colour jitter
# (0.4, 0.4, 0.4, 0.1) with p 0.8. Trace maps: 224 px raster, 1 px lines, sigma 224/32 = 7 px,
# area-pooled to the 7x7 C5 grid of a ResNet at 224; one row per utterance (max 32).
# Captions: the joined utterances, bert-base-uncased WordPiece, 64 tokens.
# Layout: data/coco/{train2017,val2017}/ and
# data/coco/annotations/coco_*_localized_narratives*.jsonl
# (https://storage.googleapis.com/localized-narratives/annotations/). Each jsonl gets a byte-offset
# index cache `<file>.lnindex.npz` next to it (or in ~/.cache/mmvisrep/ln_index if read-only).
dataset_type = 'LocalizedNarrativesDataset'
data_root = 'data/coco/'
crop_size = 224
attention_grid = (7, 7)  # ResNet C5 at 224 px (stride 32)
max_length = 64
max_utterances = 32
# The model builds the same tokenizer (vocab size, pad id): both
# mmvisrep.datasets.transforms.captions.build_tokenizer and mmpretrain's TOKENIZER accept it.
tokenizer = dict(type='AutoTokenizer', name_or_path='bert-base-uncased')
coco_image_templates = {
    'mscoco_train2017': 'train2017/{image_id:012d}.jpg',
    'mscoco_val2017': 'val2017/{image_id:012d}.jpg',
}

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# The fields the LocTex model reads from each data sample (all fixed-size torch tensors).
loctex_algorithm_keys = [
    'input_ids', 'attention_mask', 'utterance_token_mask', 'trace_maps', 'utterance_valid'
]
loctex_meta_keys = [
    'sample_idx', 'img_path', 'ori_shape', 'img_shape', 'flip', 'flip_direction', 'dataset_id',
    'image_id', 'annotator_id', 'utterances', 'text', 'num_utterances', 'ann_source'
]

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='LNRandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.2, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.)),
    dict(type='LNRandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomApply',
        transforms=[
            dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RenderTraceMaps',
        grid=attention_grid,
        render_size=None,
        sigma=None,
        line_width=1,
        pad=0.0,
        max_utterances=max_utterances),
    dict(
        type='TokenizeUtterances',
        tokenizer=tokenizer,
        max_length=max_length,
        max_utterances=max_utterances),
    dict(type='PackInputs', algorithm_keys=loctex_algorithm_keys, meta_keys=loctex_meta_keys),
]
# No augmentation (attention visualisation on val2017): squash to crop_size; a plain resize
# keeps the normalised trace coordinates, so the traces need no change.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='RenderTraceMaps', grid=attention_grid, max_utterances=max_utterances),
] + train_pipeline[-2:]  # tokenised and packed as in training

train_dataset_coco = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file=[
        'annotations/coco_train_localized_narratives-00000-of-00004.jsonl',
        'annotations/coco_train_localized_narratives-00001-of-00004.jsonl',
        'annotations/coco_train_localized_narratives-00002-of-00004.jsonl',
        'annotations/coco_train_localized_narratives-00003-of-00004.jsonl',
    ],
    data_prefix='',
    image_templates=coco_image_templates,
    pipeline=train_pipeline)
val_dataset_coco = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/coco_val_localized_narratives.jsonl',
    data_prefix='',
    image_templates=coco_image_templates,
    test_mode=True,
    pipeline=test_pipeline)

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=train_dataset_coco)
