# MUG optimisation: the MAE pre-training recipe (mmpretrain mae_vit-base-p16_8xb512-amp-coslr-
# *e_in1k.py, He et al. 2022), which the paper says its Table 10 "mainly follows"; the table's
# own values could not be read, so every number here is MAE's (README, "Unknown values"):
# AdamW betas (0.9, 0.95), weight decay 0.05, lr 1.5e-4 x batch / 256 at batch 4096, AMP,
# no weight decay on norms, biases, position embeddings, mask/cls tokens (and, for the text
# decoder, its LayerNorms). The epoch-dependent parts (param_scheduler, train_cfg) and hooks are
# in each config; MAE warms up for 40 epochs, then cosine decay. The text decoder's LM head
# shares its weight with the word embeddings (and its bias with the prediction head's):
# `bypass_duplicate` adds each shared parameter to the optimizer once.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        bypass_duplicate=True,
        custom_keys={
            'ln': dict(decay_mult=0.0),
            'LayerNorm': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
auto_scale_lr = dict(base_batch_size=4096)
