# ORL stage 3 on the toy benchmark (docs/toy_benchmark.md): the toy stage-3 recipe
# (configs/orl/stage3/orl_resnet18_1xb32-toy-coslr-10e_toyscenes.py: ORL's three BYOL losses,
# SGD, cosine) on the protocol's ResNet-18 of width 32, 64 px global views and 32 px RoI patches,
# batch 64, 8 epochs, lr 0.4 x 64 / 512. Stage 1 is the benchmark's BYOL run of the same seed
# (./byol_resnet18-w32_1xb64-coslr-8e_toybench.py) and stage 2 its kNN images and RoI pairs
# (tools/orl_pipeline.py, called by tools/benchmarks/toy_benchmark.py with the per-seed
# correspondence file as train_dataloader.dataset.ann_file).
_base_ = [
    '../orl/stage3/orl_resnet18_1xb32-toy-coslr-10e_toyscenes.py', './_base_/toybench_protocol.py'
]

model = dict(
    backbone=dict(
        base_channels=_base_.toybench_resnet_width, stem_channels=_base_.toybench_resnet_width,
        zero_init_residual=False),
    neck=dict(in_channels=_base_.toybench_resnet_channels[-1], hid_channels=512),
    head=dict(predictor=dict(hid_channels=512)))

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(
        data_root=_base_.toybench_data_root,
        ann_file='meta/train2017_10nn_instance_correspondence.json'))

optim_wrapper = dict(optimizer=dict(lr=0.4 * 64 / 512))
max_epochs = 8
param_scheduler = [
    dict(_base_.param_scheduler[0], end=1),
    dict(_base_.param_scheduler[1], T_max=max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=64)
