# MUG data on Conceptual Captions 3M (the web set MUG benchmarks on, spec 3.1) as an
# image-caption list: data/cc3m/train.tsv with a header line naming the columns `image`
# (path relative to data/cc3m/, or absolute) and `caption` (JSONL with the same keys works
# too: ann_file='train.jsonl'). Read through a byte-offset index cached next to the file;
# malformed lines, empty captions and undownloaded/unreadable images are counted and skipped
# with log lines. Same pipeline and contract as coco_captions_mug.py; map-style, so the
# DefaultSampler and epoch-based schedules apply. (img2dataset tar output: see laion_mug.py.)
_base_ = './coco_captions_mug.py'

data_root = 'data/cc3m/'
train_dataset = dict(
    _delete_=True,
    type='ImageTextFileDataset',
    data_root=data_root,
    ann_file='train.tsv',
    data_prefix='',
    image_key='image',
    caption_key='caption',
    pipeline={{_base_.train_pipeline}})
val_dataset = dict(
    _delete_=True,
    type='ImageTextFileDataset',
    data_root=data_root,
    ann_file='val.tsv',
    data_prefix='',
    test_mode=True,
    pipeline={{_base_.val_pipeline}})

train_dataloader = dict(dataset=train_dataset)
