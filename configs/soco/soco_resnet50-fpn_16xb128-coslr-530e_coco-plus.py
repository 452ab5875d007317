# SoCo R50-FPN on COCO+ for 530 epochs, the paper's Table 9 "prolonged" row (ImageNet is 5.3x
# larger than COCO+, so 530 COCO+ epochs see as many images as 100 ImageNet epochs).
_base_ = './soco_resnet50-fpn_16xb128-coslr-100e_coco-plus.py'

max_epochs = 530
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
