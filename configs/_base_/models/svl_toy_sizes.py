# Sizes of the toy semantic-visual-loss VLP (CPU mirrors on toy scenes), shared by the toy
# pretraining configs (configs/svl/toy/) and the toy VQA fine-tuning (configs/svl/vqa/toy/), so
# that a toy pretraining checkpoint always fits the toy VQA model. Names start with `svl_toy_`
# so that this file can sit next to a dataset base among a config's bases. Use as
#   model = dict(backbone=dict(arch=dict(_delete_=True, **_base_.svl_toy_vit_arch), ...),
#                text_encoder=dict(_delete_=True, tokenizer=_base_.tokenizer,
#                                  **_base_.svl_toy_text_encoder), tokenizer=_base_.tokenizer, ...)
# the tokenizer comes from the toy dataset base, so that model and pipeline always share it
svl_toy_width = 64
svl_toy_heads = 2
# a 2-layer ViT (32 px patches: a 4x4 grid on the toy 128 px images)
svl_toy_vit_arch = dict(
    embed_dims=svl_toy_width,
    num_layers=2,
    num_heads=svl_toy_heads,
    feedforward_channels=2 * svl_toy_width)
# a random-init 1-layer BERT (vocabulary size from the dataset base's tokenizer)
svl_toy_text_encoder = dict(
    type='HFTextEncoder',
    config=dict(
        vocab_size=None,
        hidden_size=svl_toy_width,
        num_hidden_layers=1,
        num_attention_heads=svl_toy_heads,
        intermediate_size=2 * svl_toy_width,
        max_position_embeddings=64,
        pad_token_id=None))
# 2 cross-modality layers
svl_toy_cross_modal = dict(
    hidden_size=svl_toy_width,
    num_layers=2,
    num_heads=svl_toy_heads,
    intermediate_size=2 * svl_toy_width)
