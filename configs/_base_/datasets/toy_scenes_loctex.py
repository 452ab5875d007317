# LocTex data on the toy scenes (tools/data/make_toy_scenes.py, 128 px images with one Localized
# Narrative each, dataset_id mscoco_train2017): coco_loctex.py with the sizes scaled down.
# Crops of 96 px; a ResNet-18's C5 at 96 px is ceil(96 / 32) = 3, so a 3x3 attention grid
# (at 64 px it would be 2x2); trace raster 96 px, sigma 96 / 32 = 3 px. Tokenizer: the small
# offline WordPiece vocab in tests/data/bert_vocab (covers every toy-scene word).
_base_ = './coco_loctex.py'

data_root = 'data/toy_scenes/'
crop_size = 96
attention_grid = (3, 3)
max_length = 64
max_utterances = 32
tokenizer = dict(type='AutoTokenizer', name_or_path='tests/data/bert_vocab')

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='RenderTraceMaps', grid=attention_grid, max_utterances=max_utterances),
    dict(
        type='TokenizeUtterances',
        tokenizer=tokenizer,
        max_length=max_length,
        max_utterances=max_utterances),
    _base_.test_pipeline[-1],  # PackInputs of the LocTex keys
]
# coco_loctex.py's augmentation at crop_size (crop; flip with word swap, colour jitter), then
# traces, tokens and packing as in testing
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(_base_.train_pipeline[1], scale=crop_size),  # LNRandomResizedCrop
    *_base_.train_pipeline[2:4],  # LNRandomFlip, colour jitter
] + test_pipeline[2:]

train_dataset_coco = dict(
    type='LocalizedNarrativesDataset',
    data_root=data_root,
    ann_file='annotations/coco_train_localized_narratives.jsonl',
    data_prefix='',
    image_templates={{_base_.coco_image_templates}},
    pipeline=train_pipeline)
val_dataset_coco = dict(
    type='LocalizedNarrativesDataset',
    data_root=data_root,
    ann_file='annotations/coco_val_localized_narratives.jsonl',
    data_prefix='',
    image_templates={{_base_.coco_image_templates}},
    test_mode=True,
    pipeline=test_pipeline)

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    dataset=dict(_delete_=True, **train_dataset_coco))
