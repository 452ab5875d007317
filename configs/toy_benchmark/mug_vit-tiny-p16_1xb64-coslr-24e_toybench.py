# MUG on the toy benchmark (docs/toy_benchmark.md): the toy recipe
# (configs/mug/mug_vit-tiny-p16_1xb16-toy-10e_toyscenes.py: mmpretrain's MAE plus a caption
# decoder over the visible latents, AdamW, warm-up then cosine) on the protocol's ViT (4 layers,
# 192 wide, 16 px patches at 128 px) and its 6,000 unlabelled images with one of their 5 captions
# per visit; the pixel decoder and lr of the benchmark's stock MAE
# (./mae_vit-tiny-p16_1xb64-coslr-24e_toybench.py), batch 64, 24 epochs.
_base_ = ['../mug/mug_vit-tiny-p16_1xb16-toy-10e_toyscenes.py', './_base_/toybench_protocol.py']

img_size = _base_.toybench_img_size
# the protocol's ViT with MAE's pixel decoder (shared with MUG)
model = _base_.toybench_mae_model

# the toy data base's train pipeline at the benchmark's crop size
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(_base_.mug_transforms[0], scale=img_size),  # RandomResizedCrop (0.2, 1)
    *_base_.mug_transforms[1:],  # flip, tokenise, pack
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(data_root=_base_.toybench_data_root, pipeline=train_pipeline))

max_epochs = 24
param_scheduler = [
    dict(_base_.param_scheduler[0]),
    dict(_base_.param_scheduler[1], T_max=max_epochs - 1, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=64)
