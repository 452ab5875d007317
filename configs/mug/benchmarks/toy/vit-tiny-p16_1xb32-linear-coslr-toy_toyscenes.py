# Toy mirror of ../vit-base-p16_8xb2048-linear-coslr-90e_in1k.py: a linear probe ([CLS] token,
# BatchNorm neck, LARS) of the frozen toy MUG ViT (192-d, 4 layers, 3 heads, 16 px patches) on
# the toy scenes' dominant-class labels, on the CPU in minutes. Changed are only the sizes (112 px
# crops, 8 classes), the data and the schedule (10 epochs, 1 warm-up; lr 0.1: the protocol's
# 0.1 x 32 / 256 is too small for 10 epochs).
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH (the toy MUG
#   checkpoint)
# Random-init baseline: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../vit-base-p16_8xb2048-linear-coslr-90e_in1k.py',
    '../../../_base_/datasets/toy_scenes_cls.py',
]

embed_dims = 192
num_layers = 4
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=num_layers,
            num_heads=3,
            feedforward_channels=4 * embed_dims),
        img_size=_base_.toy_crop_size,
        frozen_stages=num_layers),
    neck=dict(input_features=embed_dims),
    head=dict(in_channels=embed_dims, num_classes=len(_base_.toy_classes), topk=(1, 5)))
data_preprocessor = dict(num_classes=len(_base_.toy_classes))

train_dataloader = dict(
    _base_.toy_loader, drop_last=False, dataset=dict(_delete_=True, **_base_.toy_train_dataset))
val_dataloader = dict(_base_.toy_loader, dataset=dict(_delete_=True, **_base_.toy_val_dataset))
test_dataloader = dict(_base_.toy_loader, dataset=dict(_delete_=True, **_base_.toy_val_dataset))
val_evaluator = _base_.toy_val_evaluator
test_evaluator = _base_.toy_val_evaluator

# LARS as the protocol, fp32 on the CPU
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=0.1))
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
        eta_min=0.0,
        convert_to_iter_based=True)
]

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
