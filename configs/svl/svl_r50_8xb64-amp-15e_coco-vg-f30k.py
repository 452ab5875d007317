# Baseline with the ResNet-50 visual branch (Tables II-III "ResNet"): ImageNet ResNet-50 C5 at
# 384x384 (a 2048 x 12 x 12 grid + a learned 2-D position embedding), otherwise the ViT baseline
# (svl_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py: data, losses, schedule).
_base_ = [
    '../_base_/datasets/coco_vg_flickr_svl.py',
    '../_base_/datasets/coco_retrieval_svl.py',
    '../_base_/models/svl_r50.py',
    '../_base_/schedules/svl_adamw_linear_15e.py',
    '../_base_/default_runtime.py',
]

# no pseudo-labels needed without SPL (the SPL configs switch to svl_train_dataset)
train_dataloader = dict(
    batch_size=64, dataset=dict(_delete_=True, **_base_.svl_train_dataset_no_spl))
# zero-shot retrieval on the COCO Karpathy 5k test split with tools/test.py (every image-caption
# pair through the cross-modal encoder: too slow to run after every epoch, so no val loop)
val_dataloader = None
val_evaluator = None
val_cfg = None
optim_wrapper = dict(optimizer=dict(lr=1e-4 * 512 / 256))

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=-1))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
resume = True
