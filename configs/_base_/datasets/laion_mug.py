# MUG data on web-scale pairs (LAION-style, spec 3.1-3.2) in webdataset tar shards as
# img2dataset or tools/data/make_image_text_shards.py write them ({key}.jpg + {key}.txt/.json).
# ImageTextShardDataset is an IterableDataset: `sampler=None` (mmengine's build_dataloader
# needs the key; torch refuses a sampler for iterable data). Each epoch, shards are permuted
# with seed (seed, epoch) and shared out over rank x dataloader worker; a worker streams its
# shards with a 1000-sample shuffle buffer. repeat=True chains epochs, so train with
# IterBasedTrainLoop (the model config's train_cfg). Skipped samples (unreadable image, empty
# caption, missing pair, corrupt shard) are counted and logged per worker.
_base_ = './coco_captions_mug.py'

data_root = 'data/laion/'
# A manifest .json from make_image_text_shards.py, a brace pattern or a glob.
laion_shards = '{00000..41407}.tar'
# Nominal sample count (img2dataset prints it): only sets len() for logs/ETA. None counts the
# tar headers at start-up (slow for tens of thousands of shards).
laion_num_samples = 400_000_000

train_dataset = dict(
    _delete_=True,
    type='ImageTextShardDataset',
    data_root=data_root,
    shards=laion_shards,
    num_samples=laion_num_samples,
    shuffle_shards=True,
    shuffle_buffer=1000,
    repeat=True,
    seed=0,
    pipeline={{_base_.mug_transforms}})

train_dataloader = dict(
    num_workers=8, persistent_workers=True, sampler=None, dataset=train_dataset)
