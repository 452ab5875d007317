# Toy mirror of ../resnet50_8xb256-finetune-100e_in1k.py: end-to-end fine-tuning (SparK / RSB
# recipe: TrivialAugment, random erasing, Mixup/CutMix, LAMB) that trains and evaluates (top-1)
# on the toy scenes' dominant-class labels on the CPU in minutes. Changed are only the sizes
# (ResNet-18, 112 px crops, 8 classes), the data and the schedule; BN replaces SyncBN because
# SyncBN needs a GPU.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../resnet50_8xb256-finetune-100e_in1k.py',
    '../../../_base_/datasets/toy_scenes_cls.py',
]

model = dict(
    backbone=dict(depth=18, norm_cfg=dict(type='BN', requires_grad=True)),
    head=dict(in_channels=512, num_classes=len(_base_.toy_classes), topk=(1, 5)))
data_preprocessor = dict(num_classes=len(_base_.toy_classes))

# the recipe's augmentation at the toy crop size
bgr_mean = _base_.data_preprocessor['mean'][::-1]
bgr_std = _base_.data_preprocessor['std'][::-1]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=_base_.toy_crop_size,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(
        type='torchvision/TrivialAugmentWide',
        num_magnitude_bins=31,
        interpolation='bicubic',
        fill=None),
    dict(type='PILToNumpy', to_bgr=True),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=bgr_mean,
        fill_std=bgr_std),
    dict(type='PackInputs'),
]
test_pipeline = _base_.toy_test_pipeline_bicubic

train_dataloader = dict(
    _base_.toy_loader,
    dataset=dict(_base_.toy_train_dataset, _delete_=True, pipeline=train_pipeline))
val_dataloader = dict(
    _base_.toy_loader, dataset=dict(_base_.toy_val_dataset, _delete_=True, pipeline=test_pipeline))
test_dataloader = dict(
    _base_.toy_loader, dataset=dict(_base_.toy_val_dataset, _delete_=True, pipeline=test_pipeline))
val_evaluator = _base_.toy_val_evaluator
test_evaluator = _base_.toy_val_evaluator

# schedule: the recipe's warm-up then cosine decay, a few epochs
max_epochs = 10
warmup_epochs = 1
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.0001,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=1.0e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs)
]
# mmpretrain's layer-wise lr decay knows the stage depths of ResNet-50/101/152 only (ResNet-18's
# get_layer_depth raises NotImplementedError), so the toy keeps the recipe's LAMB and its
# no-decay rules for norms and biases without the per-layer lr scaling.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Lamb', lr=0.004, weight_decay=0.02),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0))

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=32)
