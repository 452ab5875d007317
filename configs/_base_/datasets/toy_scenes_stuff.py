# Toy scenes (tools/data/make_toy_scenes.py) as semantic segmentation of their COCO-Stuff style
# stuffthingmaps, for mmseg configs: mmseg's ade20k.py scaled down to small images.
# `ToySceneStuffDataset` (mmvisrep/datasets, registered in mmseg's DATASETS) maps the PNG values
# (COCO-Stuff label id - 1, 255 = unlabeled) of the toy things and stuff kinds to contiguous ids,
# so a config using this file needs custom_imports=dict(imports=['mmvisrep'], ...).
# Every name starts with `toy_` so that a config can list this file next to a real benchmark
# config among its bases and swap the data in (see toy_scenes_instance.py).
toy_data_root = 'data/toy_scenes/'
# 8 things + 8 stuff kinds (seg_class_names() of mmvisrep/datasets/toy_scenes/classes.py);
# tests/test_configs/test_benchmark_configs.py keeps it equal to the dataset's class count.
toy_num_classes = 16
toy_crop_size = (128, 128)
# (long side, short side) of the test-time resize, the counterpart of ADE20K's (2048, 512).
toy_img_scale = (128, 128)

toy_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=toy_img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=toy_crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
toy_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=toy_img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]

toy_train_dataset = dict(
    type='ToySceneStuffDataset',
    data_root=toy_data_root,
    data_prefix=dict(img_path='train2017', seg_map_path='stuffthingmaps/train2017'),
    pipeline=toy_train_pipeline)
toy_val_dataset = dict(
    type='ToySceneStuffDataset',
    data_root=toy_data_root,
    data_prefix=dict(img_path='val2017', seg_map_path='stuffthingmaps/val2017'),
    pipeline=toy_test_pipeline)

toy_val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
