# Toy mirror of ../resnet50_8xb512-linear-coslr-90e_in1k.py: a linear probe of the frozen
# backbone (all four stages and their BN frozen) that trains and evaluates (top-1) on the toy
# scenes' dominant-class labels (meta/{train,val}.txt) on the CPU in minutes. Changed are only
# the sizes (ResNet-18, 112 px crops, 8 classes), the data and the schedule (LARS, cosine).
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../resnet50_8xb512-linear-coslr-90e_in1k.py',
    '../../../_base_/datasets/toy_scenes_cls.py',
]

model = dict(
    backbone=dict(depth=18),
    head=dict(in_channels=512, num_classes=len(_base_.toy_classes), topk=(1, 5)))
data_preprocessor = dict(num_classes=len(_base_.toy_classes))

train_dataloader = dict(_base_.toy_loader, dataset=dict(_delete_=True, **_base_.toy_train_dataset))
val_dataloader = dict(_base_.toy_loader, dataset=dict(_delete_=True, **_base_.toy_val_dataset))
test_dataloader = dict(_base_.toy_loader, dataset=dict(_delete_=True, **_base_.toy_val_dataset))
val_evaluator = _base_.toy_val_evaluator
test_evaluator = _base_.toy_val_evaluator

# schedule: the protocol's LARS with cosine decay, a few epochs
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)
]

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
