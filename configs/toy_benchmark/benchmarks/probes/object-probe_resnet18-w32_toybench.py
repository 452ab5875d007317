# Object probes of a frozen toy-benchmark ResNet-18 (width 32): RoIAlign (3x3 bins, kept) of every
# ground-truth box on C2 and C3 (strides 4 and 8 of the 128 px images; deeper maps are 8x8 and 4x4
# cells whose receptive fields cover the whole image), concatenated ((32 + 64) x 9 = 864-d); a
# linear probe (logistic regression, C by 3-fold CV on the labelled objects) and a weighted cosine
# kNN (k=20, T=0.07). Labelled: the objects of the first 200 train2017 images; test: every object
# of val2017. docs/toy_benchmark.md measures these choices.
#   python tools/benchmarks/object_probe.py THIS_CONFIG CHECKPOINT|random|pixel-stats
_base_ = ['../../_base_/toybench_protocol.py', '../../../_base_/default_runtime.py']

model = dict(
    type='ImageClassifier',
    backbone=dict(_base_.toybench_resnet, out_indices=(0, 1)),
    neck=None,
    head=None)
data_preprocessor = dict(
    type='ClsDataPreprocessor', mean=_base_.toybench_mean, std=_base_.toybench_std, to_rgb=True)

object_probe = dict(
    data_root=_base_.toybench_data_root,
    train=dict(
        ann_file=_base_.toybench_labelled_ann_file,
        img_prefix='train2017/',
        num_images=_base_.toybench_num_labelled),
    test=dict(ann_file='annotations/instances_val2017.json', img_prefix='val2017/'),
    roi_size=3,
    keep_bins=True,
    batch_size=64,
    linear=dict(cs=(0.01, 0.1, 1.0, 10.0, 100.0), folds=3),
    knn=dict(k=20, temperature=0.07),
    pixel_stats=dict(bins=4))
