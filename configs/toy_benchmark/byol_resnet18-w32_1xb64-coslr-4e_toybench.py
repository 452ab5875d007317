# The toy benchmark's stock BYOL at half its iterations (4 epochs of the 6,000 unlabelled images):
# `make demo`'s pretraining. The benchmark's levers measure it against random init over seeds
# 0-2 (docs/toy_benchmark.md, "pretraining epochs").
_base_ = ['./byol_resnet18-w32_1xb64-coslr-8e_toybench.py']

max_epochs = 4
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
