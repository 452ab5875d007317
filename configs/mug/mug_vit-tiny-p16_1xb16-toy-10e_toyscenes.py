# Toy MUG: the CC3M recipe (mug_vit-base-p16_8xb512-amp-coslr-400e_cc3m.py: the same model,
# loss and optimisation bases) scaled to run on the CPU in minutes. Changed are only the sizes
# (a 4-layer 192-wide ViT with 16 px patches on the toy data's 64 px crops -- the ViT of the
# toy UperNet/ViT benchmarks, configs/mug/benchmarks/toy/ --, a 2-block 128-wide pixel decoder,
# a 2-layer 128-wide text decoder over the offline vocab of tests/data/bert_vocab), the data
# (toy scenes' COCO-style captions, configs/_base_/datasets/toy_scenes_mug.py) and the schedule
# (10 epochs, 1 warm-up epoch, batch 16); plain fp32 replaces AMP for the CPU (gloo).
_base_ = [
    '../_base_/datasets/toy_scenes_mug.py',
    '../_base_/models/mug_vit-base-p16.py',
    '../_base_/schedules/mug_adamw_coslr.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True, embed_dims=192, num_layers=4, num_heads=3, feedforward_channels=768),
        img_size=_base_.crop_size,
        patch_size=16),
    neck=dict(
        num_patches=(_base_.crop_size // 16)**2,
        embed_dim=192,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4),
    text_decoder=dict(
        tokenizer=_base_.tokenizer,  # vocab size and special ids from the toy vocab
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        config=dict(
            vocab_size=None,
            hidden_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=512,
            max_position_embeddings=_base_.max_length,
            pad_token_id=None)))

train_dataloader = dict(batch_size=16, num_workers=1, persistent_workers=False)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    # lr: MAE's 1.5e-4 x batch / 256 would be 9e-6 at batch 16, too small for 10 epochs
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)

max_epochs = 10
warmup_epochs = 1
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=16)
