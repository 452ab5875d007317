# LocTex model (spec 2.3): ResNet-50 C5 grid + a BERT-style text encoder; global image and caption
# embeddings with a symmetric InfoNCE over the global batch; utterance queries attend over the
# 7x7 C5 grid and the attention is supervised with the rendered mouse traces (KL).
# Values marked "ours" are not known from the paper (configs/loctex/README.md, "Unknown values").
model = dict(
    type='LocTex',
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(3, ),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        zero_init_residual=True),  # VirTex's torchvision resnet50(zero_init_residual=True)
    # random init at VirTex's base textual-head size L1_H1024_A16_F4096 (ours for LocTex);
    # vocab: bert-base-uncased WordPiece (the data config's tokenizer). A pretrained BERT instead:
    # --cfg-options model.text_encoder.pretrained=bert-base-uncased model.text_encoder.config=None
    text_encoder=dict(
        type='HFTextEncoder',
        config=dict(
            vocab_size=30522,
            hidden_size=1024,
            num_hidden_layers=1,
            num_attention_heads=16,
            intermediate_size=4096,
            hidden_act='gelu',
            hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1,
            max_position_embeddings=512,
            pad_token_id=0)),
    embed_dim=512,  # ours
    text_pooling='mean',  # ours ('cls' also possible)
    # tau 0.07 fixed (ours, CLIP's initial value); learnable_temperature=True learns log(1/tau)
    contrastive_loss=dict(
        type='InfoNCELoss', temperature=0.07, learnable_temperature=False, gather=True),
    attention_head=dict(type='CrossModalAttentionHead', attn_channels=512, num_heads=1),  # ours
    # lambda_att = loss_weight (ours: 1.0); mode 'kl' (ours), or 'ce' / 'mse'
    attention_loss=dict(type='TraceAttentionLoss', mode='kl', loss_weight=1.0))
