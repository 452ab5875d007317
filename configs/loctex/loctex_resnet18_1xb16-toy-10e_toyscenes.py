# Toy LocTex: the COCO recipe (loctex_resnet50_8xb32-coslr-600e_coco.py: the same model, loss and
# optimisation bases) scaled to run on the CPU in minutes. Changed are only the sizes (ResNet-18,
# a 1-layer 128-wide BERT over the small offline vocab of tests/data/bert_vocab, 128-d embedding
# and attention, 96 px crops -> 3x3 C5 grid), the data (toy scenes, configs/_base_/datasets/
# toy_scenes_loctex.py) and the schedule (10 epochs, 1 warm-up epoch, batch 16); BN replaces
# SyncBN and plain fp32 replaces AMP for the CPU (gloo).
_base_ = [
    '../_base_/datasets/toy_scenes_loctex.py',
    '../_base_/models/loctex_resnet50.py',
    '../_base_/schedules/loctex_sgd_coslr.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    text_encoder=dict(
        tokenizer=_base_.tokenizer,  # vocab_size and pad id from the toy vocab
        config=dict(
            vocab_size=None,
            hidden_size=128,
            num_attention_heads=2,
            intermediate_size=512,
            max_position_embeddings=_base_.max_length)),
    embed_dim=128,
    attention_head=dict(attn_channels=128))

train_dataloader = dict(batch_size=16, num_workers=1, persistent_workers=False)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=_base_.optim_wrapper.optimizer,
    clip_grad=_base_.optim_wrapper.clip_grad,
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)

max_epochs = 10
warmup_epochs = 1
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
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
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=16)
