# Semantic-visual-loss VLP optimisation. The paper gives only "pretrain the models for a maximum
# of 15 epochs and choose the checkpoint with the lowest validation loss"; everything else is
# ours, after LXMERT's BertAdam recipe (spec 4.3): AdamW lr 1e-4 for batch 256, weight decay 0.01
# (none on biases, LayerNorms and position embeddings), linear warm-up over the first 5 % of
# the iterations, then linear decay to 0, gradient clipping at norm 1.0.
max_epochs = 15
warmup_ratio = 0.05

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0),
    # biases and every norm layer (found by type) without decay; the MLM decoder shares the
    # word-embedding matrix, which `bypass_duplicate` adds to the optimizer once
    paramwise_cfg=dict(
        bias_decay_mult=0.,
        norm_decay_mult=0.,
        bypass_duplicate=True,
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.),
            'position_embeddings': dict(decay_mult=0.),
            'row_embed': dict(decay_mult=0.),
            'col_embed': dict(decay_mult=0.)
        }))
auto_scale_lr = dict(base_batch_size=256)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=max_epochs * warmup_ratio,
        convert_to_iter_based=True),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=True,
        begin=max_epochs * warmup_ratio,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
