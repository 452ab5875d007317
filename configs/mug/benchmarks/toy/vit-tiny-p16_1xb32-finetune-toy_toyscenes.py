# Toy mirror of ../vit-base-p16_8xb128-coslr-100e_in1k.py: MAE-recipe fine-tuning of the toy MUG
# ViT (configs/mug/mug_vit-tiny-p16_1xb16-toy-10e_toyscenes.py: 192-d, 4 layers, 3 heads, 16 px
# patches) on the toy scenes' dominant-class labels, trains and evaluates (top-1) on the CPU in
# minutes. Changed are only the sizes (112 px crops, 8 classes), the data and the schedule
# (10 epochs, 1 warm-up; lr 1e-3: the recipe's 5e-4 x 32 / 256 is too small for 10 epochs).
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH (the toy MUG
#   checkpoint; pos_embed is resized from its 64 px grid)
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../vit-base-p16_8xb128-coslr-100e_in1k.py',
    '../../../_base_/datasets/toy_scenes_cls.py',
]

embed_dims = 192
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=4 * embed_dims),
        img_size=_base_.toy_crop_size),
    head=dict(in_channels=embed_dims, num_classes=len(_base_.toy_classes), topk=(1, 5)))
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
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
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

optim_wrapper = dict(optimizer=dict(lr=1e-3))
max_epochs = 10
warmup_epochs = 1
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        eta_min=1e-6,
        convert_to_iter_based=True)
]

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
