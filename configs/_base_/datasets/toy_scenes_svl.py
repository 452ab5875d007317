# SVL pretraining data on the toy scenes (tools/data/make_toy_scenes.py: 128 px COCO-layout
# images, 5 captions each, ~25% naming left/right, real COCO-Stuff stuffthingmaps): the recipe of
# coco_vg_flickr_svl.py at toy sizes, in two parts so that only part of the samples have maps:
#   1. COCO captions of train2017 (CocoCaptionsDataset, one sample per image and visit, a random
#      caption) WITH stuff maps -> SEGL;
#   2. the same images' captions as a JSONL list (ImageTextFileDataset, one sample per caption,
#      as the real COCO / VG / Flickr30k lists) WITHOUT maps (has_stuff_map=False), made by
#        python tools/data/svl_caption_lists.py coco-captions \
#            data/toy_scenes/annotations/captions_train2017.json \
#            --out data/toy_scenes/meta/svl_captions_train2017.jsonl
# Both parts read the toy detector's pseudo-labels (svl_pseudo_label_file, written by
# tools/data/extract_pseudo_labels.py --img-dir data/toy_scenes/train2017; see
# configs/svl/detector/). Crops of crop_size = 128 px (the full toy image; the model configs
# read crop_size for their grid): shorter side 128 x U(0.8, 1.2), 128 crop, pad.
# Tokenizer: the offline WordPiece vocab of tests/data/bert_vocab (covers every toy word);
# max_length 40 (toy captions reach 37 tokens with [CLS]/[SEP]).
# Children changing a size or a path must rebuild the pipelines (values are computed here).
crop_size = 128
max_length = 40
tokenizer = dict(type='AutoTokenizer', name_or_path='tests/data/bert_vocab')
svl_batch_size = 8
svl_max_labels = 100

svl_data_root = 'data/toy_scenes/'
svl_pseudo_label_file = svl_data_root + 'pseudo_labels/train2017.json'
svl_caption_list = 'meta/svl_captions_train2017.jsonl'  # relative to svl_data_root

svl_algorithm_keys = [
    'input_ids', 'attention_mask', 'stuff_map', 'has_stuff_map', 'pseudo_labels',
    'num_pseudo_labels'
]
svl_meta_keys = [
    'sample_idx', 'img_path', 'ori_shape', 'img_shape', 'flip', 'flip_direction', 'text',
    'ann_source'
]
svl_geometric_transforms = [
    dict(type='DescriptionAwareFlip', prob=0.5),
    dict(
        type='RandomResize',
        scale=(crop_size * 5 // 3, crop_size),
        ratio_range=(0.8, 1.2),
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=crop_size),
    dict(type='Pad', size=(crop_size, crop_size), pad_val=dict(img=0, seg=255)),
    dict(type='PackStuffMap'),
]
svl_load_pseudo_labels = dict(
    type='LoadPseudoLabels',
    label_file=svl_pseudo_label_file,
    data_prefix=svl_data_root + 'train2017/',
    max_labels=svl_max_labels)
svl_text_transforms = [
    dict(type='TokenizeCaption', tokenizer=tokenizer, max_length=max_length),
    dict(type='PackInputs', algorithm_keys=svl_algorithm_keys, meta_keys=svl_meta_keys),
]
svl_map_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='LoadStuffMap',
        stuff_map_prefix=svl_data_root + 'stuffthingmaps/',
        img_prefix=svl_data_root),
] + svl_geometric_transforms + [svl_load_pseudo_labels] + svl_text_transforms
svl_nomap_pipeline = [dict(type='LoadImageFromFile')] + svl_geometric_transforms + \
    [svl_load_pseudo_labels] + svl_text_transforms

svl_map_dataset = dict(
    type='CocoCaptionsDataset',
    data_root=svl_data_root,
    ann_file='annotations/captions_train2017.json',
    data_prefix='train2017/',
    sample_per='image',
    pipeline=svl_map_pipeline)
svl_nomap_dataset = dict(
    type='ImageTextFileDataset',
    data_root=svl_data_root,
    ann_file=svl_caption_list,
    data_prefix='train2017/',
    pipeline=svl_nomap_pipeline)
svl_train_dataset = dict(
    type='ConcatDataset',
    datasets=[svl_map_dataset, svl_nomap_dataset],
    ignore_keys=['dataset_name'])
# the same without LoadPseudoLabels (configs without SPL need no detector run)
svl_train_dataset_no_spl = dict(
    type='ConcatDataset',
    datasets=[
        dict(d, pipeline=[t for t in d['pipeline'] if t['type'] != 'LoadPseudoLabels'])
        for d in (svl_map_dataset, svl_nomap_dataset)
    ],
    ignore_keys=['dataset_name'])

# fine-tuning / evaluation view: a plain resize, no augmentation
svl_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='TokenizeCaption', tokenizer=tokenizer, max_length=max_length),
    dict(
        type='PackInputs', algorithm_keys=['input_ids', 'attention_mask'],
        meta_keys=svl_meta_keys),
]

train_dataloader = dict(
    batch_size=svl_batch_size,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # stacks the images into one (B, 3, crop, crop) view, as SelfSupDataPreprocessor expects;
    # data samples stay a list
    collate_fn=dict(type='default_collate'),
    dataset=svl_train_dataset)
