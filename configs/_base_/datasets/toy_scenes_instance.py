# Toy scenes (tools/data/make_toy_scenes.py) in the COCO instance layout, for mmdet configs:
# mmdet's coco_instance.py scaled down to small images, with the toy thing classes.
# Every name starts with `toy_` so that a config can list this file next to a real benchmark
# config among its bases (mmengine refuses keys defined by two bases) and swap the data in:
#     _base_ = ['../mask-rcnn_r50_fpn_syncbn-1x_coco.py',
#               '../../../_base_/datasets/toy_scenes_instance.py']
#     train_dataloader = dict(dataset=dict(_delete_=True, **_base_.toy_train_dataset))
# The paths are built at parse time, so a different data root needs the dataset `data_root`s and
# the evaluator `ann_file` overridden (see configs/benchmarks/README.md).
toy_data_root = 'data/toy_scenes/'
# The thing classes of mmvisrep/datasets/toy_scenes/classes.py (THING_CLASSES, COCO ids 1..8 in
# this order); tests/test_configs/test_benchmark_configs.py keeps the two equal.
toy_classes = ('circle', 'square', 'triangle', 'star', 'ring', 'cross', 'hexagon', 'ellipse')
toy_metainfo = dict(classes=toy_classes)
# (long side, short side) as in mmdet's Resize; the toy images are square.
toy_img_scale = (128, 128)

toy_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=toy_img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
toy_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=toy_img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]

toy_train_dataset = dict(
    type='CocoDataset',
    data_root=toy_data_root,
    metainfo=toy_metainfo,
    ann_file='annotations/instances_train2017.json',
    data_prefix=dict(img='train2017/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=8),
    pipeline=toy_train_pipeline)
toy_val_dataset = dict(
    type='CocoDataset',
    data_root=toy_data_root,
    metainfo=toy_metainfo,
    ann_file='annotations/instances_val2017.json',
    data_prefix=dict(img='val2017/'),
    test_mode=True,
    pipeline=toy_test_pipeline)

toy_val_evaluator = dict(
    type='CocoMetric',
    ann_file=toy_data_root + 'annotations/instances_val2017.json',
    metric=['bbox', 'segm'],
    format_only=False)
