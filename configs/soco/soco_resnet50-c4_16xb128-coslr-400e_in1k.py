# SoCo R50-C4, 400 epochs (official tools/SoCo_C4_400ep.sh): the 100-epoch C4 recipe, longer.
_base_ = './soco_resnet50-c4_16xb128-coslr-100e_in1k.py'

max_epochs = 400
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        end_factor=1.,
        by_epoch=True,
        begin=0,
        end=_base_.warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - _base_.warmup_epochs,
        eta_min=1e-6,
        by_epoch=True,
        begin=_base_.warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
