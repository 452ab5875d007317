# LocTex on the toy benchmark (docs/toy_benchmark.md): the toy recipe
# (configs/loctex/loctex_resnet18_1xb16-toy-10e_toyscenes.py: image-caption InfoNCE + trace
# attention loss, SGD with the backbone at 200x the head lr, warm-up then cosine) on the protocol's
# ResNet-18 of width 32 and the Localized Narratives of its 6,000 unlabelled 128 px images; crops
# of 128 px (a 4x4 C5 attention grid), batch 64, 8 epochs.
_base_ = [
    '../loctex/loctex_resnet18_1xb16-toy-10e_toyscenes.py', './_base_/toybench_protocol.py'
]

crop_size = _base_.toybench_img_size
attention_grid = (crop_size // 32, crop_size // 32)
tokenizer = _base_.tokenizer
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='RenderTraceMaps', grid=attention_grid, max_utterances=_base_.max_utterances),
    *_base_.test_pipeline[3:],  # tokenise, pack
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(_base_.train_pipeline[1], scale=crop_size),  # LNRandomResizedCrop
    *_base_.train_pipeline[2:4],  # LNRandomFlip, colour jitter
] + test_pipeline[2:]

model = dict(
    backbone=dict(
        base_channels=_base_.toybench_resnet_width, stem_channels=_base_.toybench_resnet_width))

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(data_root=_base_.toybench_data_root, pipeline=train_pipeline))

max_epochs = 8
param_scheduler = [
    dict(_base_.param_scheduler[0]),
    dict(_base_.param_scheduler[1], T_max=max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=64)
