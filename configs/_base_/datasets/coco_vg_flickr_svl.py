# Semantic-VLP (SVL) pretraining data: COCO + Visual Genome + Flickr30k image-caption pairs,
# with COCO-Stuff maps on the COCO part (SEGL) and offline detector pseudo-labels on every part
# (SPL). None of the COCO or Flickr30k Karpathy val/test images (zero-shot retrieval) is used.
# Lists (tools/data/svl_caption_lists.py, one JSONL line per pair, ImageTextFileDataset):
#   COCO Karpathy train + restval, 113,287 images x ~5 captions, COCO 2017 names;
#   VG region phrases (repeats within an image dropped), minus VG images of COCO/Flickr30k
#   Karpathy val/test; Flickr30k Karpathy train, 29,000 images x 5 captions.
# Sources are concatenated pair by pair (VG phrases are the bulk, as in UNITER / ViLT).
# Layout (the commands: docstring of tools/data/svl_caption_lists.py):
#   data/coco/{train2017,val2017}/, data/coco/stuffthingmaps/{train2017,val2017}/*.png (the
#   official stuffthingmaps_trainval2017.zip), data/coco/annotations/dataset_coco.json,
#   data/coco/meta/svl_coco_karpathy_train.jsonl, data/coco/meta/svl_pseudo_labels_coco.json
#   (extract_pseudo_labels.py --img-dir data/coco --file-list <list>.images.txt);
#   data/vg/images/{VG_100K,VG_100K_2}/, data/vg/meta/svl_vg_regions.jsonl,
#   data/vg/meta/svl_pseudo_labels_vg.json (--img-dir data/vg/images);
#   data/flickr30k/images/, data/flickr30k/meta/svl_flickr30k_train.jsonl,
#   data/flickr30k/meta/svl_pseudo_labels_flickr30k.json
#   (--img-dir data/flickr30k/images).
# Augmentation (paper): description-aware horizontal flip (p 0.5, never when the caption holds
# left/right or another direction word), random resize 0.8-1.2, crop_size crop. Base size (ours):
# shorter side crop_size (long side <= 5/3 crop_size, ViLT's 384/640), times U(0.8, 1.2); crops
# of smaller images are padded (image 0, map 255 = ignored). The map follows the image through
# mmcv RandomResize (nearest) / mmseg RandomCrop / mmcv Pad via gt_seg_map. Fine-tuning and
# evaluation: a plain crop_size x crop_size resize (svl_test_pipeline), no augmentation.
# Text: bert-base-uncased WordPiece, [CLS] caption [SEP] padded to max_length = 40 tokens (ours;
# LXMERT used 20; 40 keeps nearly all COCO / Flickr30k captions whole, longer ones are cut and
# counted by TokenizeCaption).
# Data contract of SemanticVLP (PackInputs algorithm_keys = svl_algorithm_keys): input_ids,
# attention_mask; stuff_map (uint8, crop x crop, train ids 0..170, 255) + has_stuff_map (False on
# VG/Flickr30k); pseudo_labels (svl_max_labels,) padded -1 + num_pseudo_labels. The ITM image
# identity is the img_path meta key. Configs without SPL may use svl_train_dataset_no_spl
# (no pseudo-label files needed): train_dataloader = dict(dataset=dict(_delete_=True,
# **_base_.svl_train_dataset_no_spl)).
crop_size = 384
max_length = 40
tokenizer = dict(type='AutoTokenizer', name_or_path='bert-base-uncased')
svl_batch_size = 64  # per GPU
svl_max_labels = 100  # pseudo-labels per image (the extraction tool keeps 10..100)

svl_coco_root = 'data/coco/'
svl_vg_root = 'data/vg/'
svl_flickr_root = 'data/flickr30k/'

svl_algorithm_keys = [
    'input_ids', 'attention_mask', 'stuff_map', 'has_stuff_map', 'pseudo_labels',
    'num_pseudo_labels'
]
svl_meta_keys = [
    'sample_idx', 'img_path', 'ori_shape', 'img_shape', 'flip', 'flip_direction', 'text',
    'ann_source'
]

# after loading (and LoadStuffMap): flip, resize, crop, pad, then hand the map over
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
svl_text_transforms = [
    dict(type='TokenizeCaption', tokenizer=tokenizer, max_length=max_length),
    dict(type='PackInputs', algorithm_keys=svl_algorithm_keys, meta_keys=svl_meta_keys),
]
svl_load_stuff_map = dict(
    type='LoadStuffMap',
    stuff_map_prefix=svl_coco_root + 'stuffthingmaps/',
    img_prefix=svl_coco_root)


def _pseudo_labels(label_file, img_dir):
    return dict(
        type='LoadPseudoLabels',
        label_file=label_file,
        data_prefix=img_dir,
        max_labels=svl_max_labels,
        preload=True)


svl_coco_pipeline = [dict(type='LoadImageFromFile'), svl_load_stuff_map] + \
    svl_geometric_transforms + \
    [_pseudo_labels(svl_coco_root + 'meta/svl_pseudo_labels_coco.json', svl_coco_root)] + \
    svl_text_transforms
svl_vg_pipeline = [dict(type='LoadImageFromFile')] + svl_geometric_transforms + \
    [_pseudo_labels(svl_vg_root + 'meta/svl_pseudo_labels_vg.json',
                    svl_vg_root + 'images/')] + svl_text_transforms
svl_flickr_pipeline = [dict(type='LoadImageFromFile')] + svl_geometric_transforms + \
    [_pseudo_labels(svl_flickr_root + 'meta/svl_pseudo_labels_flickr30k.json',
                    svl_flickr_root + 'images/')] + svl_text_transforms
del _pseudo_labels

svl_coco_dataset = dict(
    type='ImageTextFileDataset',
    data_root=svl_coco_root,
    ann_file='meta/svl_coco_karpathy_train.jsonl',
    data_prefix='',
    pipeline=svl_coco_pipeline)
svl_vg_dataset = dict(
    type='ImageTextFileDataset',
    data_root=svl_vg_root,
    ann_file='meta/svl_vg_regions.jsonl',
    data_prefix='images/',
    pipeline=svl_vg_pipeline)
svl_flickr_dataset = dict(
    type='ImageTextFileDataset',
    data_root=svl_flickr_root,
    ann_file='meta/svl_flickr30k_train.jsonl',
    data_prefix='images/',
    pipeline=svl_flickr_pipeline)

svl_train_dataset = dict(
    type='ConcatDataset',
    datasets=[svl_coco_dataset, svl_vg_dataset, svl_flickr_dataset],
    ignore_keys=['dataset_name'])
# the same without LoadPseudoLabels (baseline / SSUL / SEGL need no detector run)
svl_train_dataset_no_spl = dict(
    type='ConcatDataset',
    datasets=[
        dict(d, pipeline=[t for t in d['pipeline'] if t['type'] != 'LoadPseudoLabels'])
        for d in (svl_coco_dataset, svl_vg_dataset, svl_flickr_dataset)
    ],
    ignore_keys=['dataset_name'])

# fine-tuning / evaluation view: a plain resize, no augmentation (stuff maps not loaded)
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
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # stacks the images into one (B, 3, crop, crop) view, as SelfSupDataPreprocessor expects;
    # data samples stay a list
    collate_fn=dict(type='default_collate'),
    dataset=svl_train_dataset)
