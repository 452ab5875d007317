# ORL stage 1: image-level BYOL on COCO train2017, 8 GPUs x 64 = 512, 800 epochs (spec 2.2-2.3;
# official configs/selfsup/orl/coco/stage1/r50_bs512_ep800.py). mmpretrain's BYOL as is, with
# ORL's recipe: SyncBN; projector and predictors 2048/256 -> 4096 -> 256, no bias, no last BN
# (OpenSelfSup NonLinearNeckSimCLR with_bias=False), kaiming fan-in Linear init; SGD lr 0.4,
# momentum 0.9, wd 1e-4 on all parameters; 4 linear warm-up epochs from lr x 1e-4 (per
# iteration) under a per-epoch cosine to 0 over all 800 epochs (mmcv's CosineAnnealing with
# warmup_by_epoch); EMA tau 0.99 -> 1 (cosine, per iteration); fp16 as the official apex.
# Model and optimisation: configs/_base_/models/orl_byol_resnet50.py and
# configs/_base_/schedules/orl_sgd_coslr_800e.py (shared with stage 3).
# Its checkpoint feeds stage 2 (tools/data/orl_knn.py, tools/data/orl_correspondence.py).
_base_ = [
    '../../_base_/datasets/coco_orl_stage1.py',
    '../../_base_/models/orl_byol_resnet50.py',
    '../../_base_/schedules/orl_sgd_coslr_800e.py',
    '../../_base_/default_runtime.py',
]

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
