# Stock mmpretrain MAE on the toy benchmark (docs/toy_benchmark.md): mmpretrain's
# mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py (MAEViT, mask ratio 0.75, normalised-pixel L2,
# AdamW betas (0.9, 0.95), wd 0.05, warm-up then cosine) on the protocol's ViT (4 layers, 192
# wide, 16 px patches at 128 px: 8x8 tokens) and its 6,000 unlabelled images; a 2-block 128-wide
# pixel decoder, random-resized crops (0.2, 1) to 128 px, batch 64, 24 epochs (2,250
# iterations); lr 1e-3 (MAE's 1.5e-4 x 64 / 256 = 3.75e-5 barely moves a ViT in so few
# iterations); fp32 on the CPU.
_base_ = [
    'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py',
    './_base_/toybench_protocol.py',
]
custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)

img_size = _base_.toybench_img_size
# the protocol's ViT with MAE's pixel decoder (shared with MUG)
model = _base_.toybench_mae_model

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    # a fresh dict: the one inherited through `mmpretrain::` carries a `_scope_` key that
    # mmengine would pass on to default_collate
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=_base_.toybench_data_root,
        data_prefix='train2017/',
        ann_file='',
        with_label=False,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                type='RandomResizedCrop',
                scale=img_size,
                crop_ratio_range=(0.2, 1.0),
                backend='pillow',
                interpolation='bicubic'),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackInputs'),
        ]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(_base_.optim_wrapper.optimizer, lr=1e-3),
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
max_epochs = 24
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
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
auto_scale_lr = dict(base_batch_size=64)
