# VQA fine-tuning schedule of the semantic-visual-loss VLP. The paper gives no fine-tuning
# hyper-parameters: all values are ours, after ViLT's VQAv2 recipe (the closest end-to-end
# ViT-B/32 model): AdamW lr 1e-4 at batch 256 (scaled linearly with --auto-scale-lr), weight
# decay 0.01 (none on biases, norms and position embeddings), the randomly initialised answer
# head at 10x the lr (its biases and LayerNorm then decay too: mmengine's custom keys override
# the bias / norm rules), 10 epochs, linear warm-up over the first 10 % of the iterations then
# linear decay to 0; gradient clipping at norm 1.0 and fp16 AMP as in our pretraining.
max_epochs = 10
warmup_ratio = 0.1

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(
        bias_decay_mult=0.,
        norm_decay_mult=0.,
        custom_keys={
            'vqa_head': dict(lr_mult=10.),
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
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
