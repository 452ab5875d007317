# Toy scenes (tools/data/make_toy_scenes.py) as image classification by their dominant thing
# class (meta/{train,val}.txt: "train2017/000000000001.jpg <class index>"), for mmpretrain
# configs: mmpretrain's imagenet_bs32_pil_resize.py scaled down to small images.
# Every name starts with `toy_` so that a config can list this file next to a real benchmark
# config among its bases and swap the data in (see toy_scenes_instance.py).
toy_data_root = 'data/toy_scenes/'
# meta/classes.txt of the generator, one name per line in class-index order;
# tests/test_configs/test_benchmark_configs.py keeps the two equal.
toy_classes = ('circle', 'square', 'triangle', 'star', 'ring', 'cross', 'hexagon', 'ellipse')
toy_crop_size = 112
# short side before the centre crop: 112 * 256 / 224, ImageNet's resize-to-crop ratio
toy_resize_edge = 128

toy_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=toy_crop_size, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
toy_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=toy_resize_edge, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=toy_crop_size),
    dict(type='PackInputs'),
]

toy_train_dataset = dict(
    type='CustomDataset',
    data_root=toy_data_root,
    ann_file='meta/train.txt',
    data_prefix='',
    with_label=True,
    classes=toy_classes,
    pipeline=toy_train_pipeline)
toy_val_dataset = dict(
    type='CustomDataset',
    data_root=toy_data_root,
    ann_file='meta/val.txt',
    data_prefix='',
    with_label=True,
    classes=toy_classes,
    test_mode=True,
    pipeline=toy_test_pipeline)

toy_val_evaluator = dict(type='Accuracy', topk=(1, 5))

# what the toy train / val / test loaders share (CPU, one worker, mmpretrain's collate)
toy_loader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=False,
    collate_fn=dict(type='default_collate'))
# the fine-tuning recipes' evaluation: bicubic short-side resize, centre crop
toy_test_pipeline_bicubic = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=toy_resize_edge,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=toy_crop_size),
    dict(type='PackInputs'),
]
