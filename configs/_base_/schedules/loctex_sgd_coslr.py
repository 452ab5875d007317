# LocTex optimisation (ours: the paper's is not known), VirTex's recipe (spec 2.6) without
# Lookahead: SGD momentum 0.9, weight decay 1e-4, lr 0.2 for the visual backbone and 1e-3 for
# everything else (text encoder, projections, attention head), no weight decay on the textual
# LayerNorms and biases nor on a learnable temperature, gradient clipping at 10, AMP, batch 256.
# The epoch-dependent parts (param_scheduler, train_cfg) and hooks are in each config.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0),
    # the longest matching key wins: backbone biases keep weight decay (VirTex decays the CNN's)
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=200.0),
            'LayerNorm': dict(decay_mult=0.0),
            '.bias': dict(decay_mult=0.0),
            'logit_scale': dict(decay_mult=0.0),
        }))
warmup_iters = 10000  # VirTex: 10K linear warm-up iterations, then cosine decay
auto_scale_lr = dict(base_batch_size=256)
