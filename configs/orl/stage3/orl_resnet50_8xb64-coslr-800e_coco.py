# ORL stage 3: object-level BYOL on COCO train2017, 8 GPUs x 64 = 512, 800 epochs (spec 2.5;
# official configs/selfsup/orl/coco/stage3/r50_bs512_ep800.py). Backbone, projector, predictor,
# optimiser, schedule, EMA and fp16 are stage 1's (byol_resnet50_8xb64-coslr-800e_coco.py, via
# the same configs/_base_/models/orl_byol_resnet50.py and schedules/orl_sgd_coslr_800e.py);
# three predictor heads (global, intra-RoI, inter-RoI), loss weights 1 : 1 : 1. Data: the
# stage-2 correspondence json, data/coco/meta/train2017_10nn_instance_correspondence.json.
# As released, stage 3 trains from scratch. To start from stage 1 instead:
#     model = dict(init_cfg=dict(type='Pretrained', checkpoint='STAGE1/epoch_800.pth'))
# (ORL then restarts the EMA: the first update copies the online network into the target).
_base_ = [
    '../../_base_/datasets/coco_orl_stage3.py',
    '../../_base_/models/orl_byol_resnet50.py',
    '../../_base_/schedules/orl_sgd_coslr_800e.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    type='ORL',
    end_momentum=0.,
    global_loss_weight=1.,
    intra_loss_weight=1.,
    inter_loss_weight=1.,
    # `head` is the global head; intra_head / inter_head=None build two more heads from it
    intra_head=None,
    inter_head=None)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
