# Low-label detection probe of the toy benchmark (docs/toy_benchmark.md): the toy Mask R-CNN
# (../../../benchmarks/mmdetection/toy/mask-rcnn_r18_fpn_1xb4-toy_toyscenes.py: R50-FPN SyncBN 1x
# protocol, 4conv1fc head, BN everywhere, nothing frozen) on the protocol's ResNet-18 of width 32,
# fine-tuned on the 200 labelled train2017 images for 12 epochs and evaluated on val2017.
# Pretrained backbone: --cfg-options load_from=EXPORT (extract_weights.py CKPT EXPORT --target
# mmdet --no-auto); random init: load_from=None.
_base_ = [
    '../../../benchmarks/mmdetection/toy/mask-rcnn_r18_fpn_1xb4-toy_toyscenes.py',
    '../../_base_/toybench_protocol.py'
]

data_root = _base_.toybench_data_root
model = dict(
    backbone=dict(
        base_channels=_base_.toybench_resnet_width,
        stem_channels=_base_.toybench_resnet_width,
        init_cfg=None),
    neck=dict(in_channels=_base_.toybench_resnet_channels))

# the base pipelines resize to 128 px, the benchmark's image size
train_dataloader = dict(
    batch_size=8, dataset=dict(data_root=data_root, ann_file=_base_.toybench_labelled_ann_file))
val_dataloader = dict(batch_size=8, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02))
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=1, max_keep_ckpts=1))
load_from = None
