# Toy mirror of ../resnet50_1xb32-svm-feat5_voc07.py: the same SVM protocol on the toy scenes'
# dominant-class labels (meta/{train,val}.txt as one-hot rows, no difficult images), with only the
# sizes changed: ResNet-18, 112x112 inputs (res5 4x4, pooled 3x3 stride 1 to the paper's 2x2 grid:
# 2x2x512 = 2048-d; --global-pool gives 512-d), k up to 32 (toy classes have 37-59 train images).
#   python tools/benchmarks/voc07_svm.py THIS_CONFIG CHECKPOINT|random
_base_ = [
    '../resnet50_1xb32-svm-feat5_voc07.py',
    '../../../_base_/datasets/toy_scenes_cls.py',
]

model = dict(backbone=dict(depth=18))
svm_extract = dict(pool=dict(kernel_size=3), feature_name='feat5')

toy_svm_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=_base_.toy_resize_edge, edge='short', backend='pillow'),
    dict(
        type='Resize',
        scale=(_base_.toy_crop_size, _base_.toy_crop_size),
        keep_ratio=False,
        backend='pillow'),
    dict(type='PackInputs'),
]
toy_svm_dataset = dict(
    type='CustomDataset',
    data_root=_base_.toy_data_root,
    data_prefix='',
    with_label=True,
    classes=_base_.toy_classes,
    pipeline=toy_svm_pipeline)
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(_delete_=True, ann_file='meta/train.txt', **toy_svm_dataset))
test_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(_delete_=True, ann_file='meta/val.txt', test_mode=True, **toy_svm_dataset))

svm = dict(low_shot=dict(k=[1, 2, 4, 8, 16, 32]))
