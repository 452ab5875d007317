# MUG data on the toy scenes (tools/data/make_toy_scenes.py: 128 px images, 5 captions each in
# annotations/captions_train2017.json): coco_captions_mug.py with 64 px crops, the offline
# WordPiece vocab in tests/data/bert_vocab (covers every toy caption word) and small batches.
_base_ = './coco_captions_mug.py'

data_root = 'data/toy_scenes/'
crop_size = 64
max_length = 40  # toy captions reach 37 WordPiece tokens with [CLS]/[SEP]
tokenizer = dict(type='AutoTokenizer', name_or_path='tests/data/bert_vocab')

mug_transforms = [
    dict(
        type='RandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='TokenizeCaption', tokenizer=tokenizer, max_length=max_length),
    dict(
        type='PackInputs',
        algorithm_keys={{_base_.mug_algorithm_keys}},
        meta_keys={{_base_.mug_meta_keys}}),
]
train_pipeline = [dict(type='LoadImageFromFile')] + mug_transforms
val_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size), backend='pillow', interpolation='bicubic'),
    dict(type='TokenizeCaption', tokenizer=tokenizer, max_length=max_length),
    dict(
        type='PackInputs',
        algorithm_keys={{_base_.mug_algorithm_keys}},
        meta_keys={{_base_.mug_meta_keys}}),
]
train_dataset = dict(data_root=data_root, pipeline=train_pipeline)
val_dataset = dict(data_root=data_root, pipeline=val_pipeline)

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
