# Stock mmpretrain BYOL on the toy benchmark (docs/toy_benchmark.md): the recipe of
# configs/byol/byol_resnet18_1xb32-toy-10e_toyscenes.py (mmpretrain's BYOL, LARS, cosine) on the
# protocol's ResNet-18 of width 32 and its 6,000 unlabelled 96 px images, 64 px views, batch 64.
_base_ = ['../byol/byol_resnet18_1xb32-toy-10e_toyscenes.py', './_base_/toybench_protocol.py']

model = dict(
    backbone=dict(_delete_=True, **_base_.toybench_resnet),
    neck=dict(in_channels=_base_.toybench_resnet_channels[-1], hid_channels=512),
    head=dict(predictor=dict(hid_channels=512)))

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(data_root=_base_.toybench_data_root))

optimizer = dict(lr=1.0)
optim_wrapper = dict(optimizer=optimizer)
max_epochs = 8
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=64)
