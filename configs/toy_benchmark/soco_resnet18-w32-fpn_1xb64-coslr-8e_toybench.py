# SoCo (FPN, 4conv1fc head) on the toy benchmark (docs/toy_benchmark.md): the toy recipe of
# configs/soco/soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py (itself the 100-epoch ImageNet recipe
# scaled down) on the protocol's ResNet-18 of width 32 and its 6,000 unlabelled 96 px images with
# their selective-search proposals; views 64 / 64 / 32 px, batch 64, 8 epochs; FPN and 4conv1fc
# head of 32 channels with a 128-d fc (halved with the backbone); SoCo's LARS at the
# benchmark BYOL's lr 1.0 (the toy recipe's 2.0 also drives the un-adapted BN / bias group, and
# with it the FPN and head BN that a detector inherits, twice as hard).
_base_ = [
    '../soco/soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py', './_base_/toybench_protocol.py'
]

# FPN and head halved with the backbone (the toy recipe's 64 / 64 / 256 for the width-64
# ResNet-18): the head's 4 convs on the 7x7 RoIs of 3 views x 2 networks dominate a step
fpn_channels = 32
model = dict(
    backbone=dict(
        base_channels=_base_.toybench_resnet_width, stem_channels=_base_.toybench_resnet_width),
    neck=dict(in_channels=_base_.toybench_resnet_channels, out_channels=fpn_channels),
    roi_head=dict(
        bbox_head=dict(
            in_channels=fpn_channels, conv_out_channels=fpn_channels, fc_out_channels=128)),
    projector=dict(in_channels=128))

optim_wrapper = dict(optimizer=dict(lr=1.0))
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(
        data_root=_base_.toybench_data_root,
        proposal_file='proposals/train2017_ratio3size0308post.json'))

max_epochs = 8
param_scheduler = [
    dict(_base_.param_scheduler[0]),
    dict(_base_.param_scheduler[1], T_max=max_epochs - 1, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=64)
