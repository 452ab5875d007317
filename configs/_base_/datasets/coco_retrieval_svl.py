# Zero-shot image<->text retrieval of the semantic-visual-loss VLP on the Karpathy COCO 5k test
# split (5,000 images, ~25k captions): SemanticVLP.predict_all scores every image-caption pair
# with the ITM match probability (no contrastive first stage: 125M cross-modal passes, split by
# image over the GPUs); metrics i2t/retrieval/Recall@{1,5,10} and t2i/retrieval/Recall@{1,5,10}.
# Data: mmpretrain's Flickr30kRetrieval reads Karpathy's dataset_coco.json (caption_datasets.zip)
# as it is: it keeps the images of `split` and joins their `filename` to data_prefix. Karpathy's
# val and test images all come from COCO val2014 (train2014 only feeds his train split, the rest
# of val2014 is 'restval'; see karpathy/neuraltalk2#192, kuanghuei/SCAN#13), so the test split
# needs data/coco/val2014/ only.
# Layout: data/coco/val2014/COCO_val2014_*.jpg, data/coco/annotations/dataset_coco.json.
# Eval view: a plain 384x384 resize (no crop, no flip); the model tokenises the captions itself
# (its `tokenizer`, `retrieval_max_length`). Variables are prefixed `retrieval_` so that this
# file can sit beside a training data base in one _base_ list.
retrieval_data_root = 'data/coco/'
retrieval_ann_file = 'annotations/dataset_coco.json'
retrieval_data_prefix = 'val2014'
retrieval_split = 'test'
retrieval_img_size = 384
retrieval_topk = (1, 5, 10)
retrieval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='Resize',
        scale=(retrieval_img_size, retrieval_img_size),
        backend='pillow',
        interpolation='bicubic'),
    # one sample per image: its captions (`text`), their indices and the image index
    dict(
        type='PackInputs',
        algorithm_keys=['text', 'gt_text_id', 'gt_image_id'],
        meta_keys=['image_id', 'img_path', 'ori_shape', 'img_shape']),
]
retrieval_dataset = dict(
    type='Flickr30kRetrieval',
    data_root=retrieval_data_root,
    ann_file=retrieval_ann_file,
    data_prefix=retrieval_data_prefix,
    split=retrieval_split,
    test_mode=True,
    pipeline=retrieval_pipeline)

val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=retrieval_dataset)
# mmpretrain's RetrievalRecall with a numpy-2 fix and k capped at the gallery size (same keys)
val_evaluator = dict(type='ImageTextRecall', topk=retrieval_topk)
val_cfg = dict(type='RetrievalValLoop')

test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict(type='RetrievalTestLoop')
