# VOC07 linear SVM on frozen ResNet-50 res5 features ("feat5"), full (trainval -> test mAP) and
# low-shot (k = 1 ... 96 positives per class, 5 runs), the FAIR self-supervision benchmark as
# OpenSelfSup/mmselfsup run it (ORL reports its low-shot numbers with it). Not a training config:
#   python tools/benchmarks/voc07_svm.py THIS_CONFIG CHECKPOINT [--n-jobs N]
# CHECKPOINT: a full pretraining checkpoint (online `backbone.`), an
# `extract_weights.py --target mmpretrain` file, or `random`. Protocol and sources:
# docs/svm_voc07.md.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

# the backbone whose last stage (res5) is pooled; weights come from the checkpoint argument
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        norm_cfg=dict(type='BN')),
    neck=None,
    head=None)
# RGB ImageNet mean/std on 0-255 pixels (OpenSelfSup: ToTensor + Normalize with the same values)
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# mmselfsup "feat5": AvgPool2d(6, stride 1) on the 7x7 res5 map of a 224x224 image -> 2x2x2048 =
# 8192-d (MultiPooling 'specified'; the FAIR benchmark's ~9k-d pooling of every stage).
# `tools/benchmarks/voc07_svm.py --global-pool` uses global average pooling (2048-d) instead.
svm_extract = dict(
    pool=dict(type='AvgPool2d', kernel_size=6, stride=1, padding=0), feature_name='feat5')

# OpenSelfSup benchmarks/extract_info/voc07.py: Resize(256) (short side) then Resize((224, 224))
# without keeping the aspect ratio, PIL bilinear.
svm_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False, backend='pillow'),
    dict(type='PackInputs'),
]
data_root = 'data/VOCdevkit/VOC2007/'
# images the SVMs are trained on (VOC07 trainval, 5011) and tested on (VOC07 test, 4952); labels
# 1 / 0 / -1 (difficult only) per class from the annotations (mmpretrain VOC)
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='VOC', data_root=data_root, split='trainval', pipeline=svm_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='VOC', data_root=data_root, split='test', pipeline=svm_pipeline))

# svm_helper.parse_cost_list("1.0,10.0,100.0"): 1, 10, 100 and 2^-4 ... 2^-19
svm = dict(
    costs=[
        1.0, 10.0, 100.0, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625, 0.001953125,
        0.0009765625, 0.00048828125, 0.000244140625, 0.0001220703125, 6.103515625e-05,
        3.0517578125e-05, 1.52587890625e-05, 7.62939453125e-06, 3.814697265625e-06,
        1.9073486328125e-06
    ],
    cv=3,  # full protocol: cost per class by 3-fold cross-validated AP on trainval
    positive_weight=2.0,  # class_weight={1: 2, -1: 1}
    tol=1e-4,
    max_iter=2000,
    random_state=0,  # liblinear's dual coordinate descent shuffles; the benchmark left it unseeded
    difficult_in_train='negative',  # train_svm_kfold.py keeps difficult (-1) as negatives
    low_shot=dict(k=[1, 2, 4, 8, 16, 32, 64, 96], runs=5, seed=0))
