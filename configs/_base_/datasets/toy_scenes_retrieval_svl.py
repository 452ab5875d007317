# Zero-shot image<->text retrieval on the toy scenes' val split: coco_retrieval_svl.py (same
# dataset class, loops and metric) on a Karpathy-format copy of the toy val captions, made by
#   python tools/data/coco_captions_to_karpathy.py \
#       data/toy_scenes/annotations/captions_val2017.json \
#       data/toy_scenes/annotations/karpathy_val2017.json --split test
# Images are resized to retrieval_crop_size. The model needs a tokenizer covering the toy
# captions: dict(type='AutoTokenizer', name_or_path='tests/data/bert_vocab') (offline WordPiece;
# toy captions reach 37 tokens with [CLS]/[SEP], below the default retrieval_max_length of 40).
_base_ = './coco_retrieval_svl.py'

retrieval_data_root = 'data/toy_scenes/'
retrieval_ann_file = 'annotations/karpathy_val2017.json'
retrieval_data_prefix = 'val2017'
retrieval_crop_size = 128  # the toy SVL crops (toy_scenes_svl.py crop_size)
retrieval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='Resize',
        scale=(retrieval_crop_size, retrieval_crop_size),
        backend='pillow',
        interpolation='bicubic'),
    dict(
        type='PackInputs',
        algorithm_keys=['text', 'gt_text_id', 'gt_image_id'],
        meta_keys=['image_id', 'img_path', 'ori_shape', 'img_shape']),
]
retrieval_dataset = dict(
    data_root=retrieval_data_root,
    ann_file=retrieval_ann_file,
    data_prefix=retrieval_data_prefix,
    pipeline=retrieval_pipeline)

val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=retrieval_dataset)
test_dataloader = val_dataloader
