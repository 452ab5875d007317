# The offline detector of SVL + SPL on the toy benchmark (docs/toy_benchmark.md): the toy
# pseudo-label detector (configs/svl/detector/faster-rcnn_r18_fpn_1xb4-toy-8e_toyscenes.py) on the
# protocol's ResNet-18 of width 32, trained from random init on the 200 labelled train2017 images
# (the only boxes the benchmark lets any method see) for 12 epochs; its detections on train2017
# are SPL's pseudo-labels (tools/data/extract_pseudo_labels.py).
_base_ = [
    '../../../svl/detector/faster-rcnn_r18_fpn_1xb4-toy-8e_toyscenes.py',
    '../../_base_/toybench_protocol.py'
]

data_root = _base_.toybench_data_root
model = dict(
    backbone=dict(
        base_channels=_base_.toybench_resnet_width, stem_channels=_base_.toybench_resnet_width),
    neck=dict(in_channels=_base_.toybench_resnet_channels))
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
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=1, max_keep_ckpts=1))
