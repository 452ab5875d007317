# ORL's optimisation, stages 1 and 3 (spec 2.3 and 2.5): SGD lr 0.4 at batch 512, momentum 0.9,
# wd 1e-4 on all parameters, fp16 (dynamic loss scale, as the official apex); 4 linear warm-up
# epochs from lr x 1e-4 (per iteration) under a per-epoch cosine to 0 over all 800 epochs
# (mmcv's CosineAnnealing with warmup_by_epoch).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=1e-4))

max_epochs = 800
warmup_epochs = 4
param_scheduler = [
    # mmcv's linear warm-up multiplies the regular lr by 1e-4 -> 1 over the first 4 epochs,
    # per iteration; chained (multiplicatively) with the per-epoch cosine below
    dict(
        type='LinearLR',
        start_factor=1e-4,
        end_factor=1.,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=0,
        end=max_epochs),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# lr 0.4 is for 8 x 64 = 512 images per iteration (`--auto-scale-lr` rescales it)
auto_scale_lr = dict(base_batch_size=512)
