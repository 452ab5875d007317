# MUG model (configs/mug/README.md): mmpretrain's MAE ViT-B/16 unchanged (mae_vit-base-p16.py:
# MAEViT with mask ratio 0.75, the 8-block 512-wide pixel decoder, normalised-pixel L2 on the
# masked patches, Xavier/LayerNorm init) plus a caption decoder whose layers self-attend
# causally over the caption and cross-attend to the encoder's visible latents ([CLS] included),
# L = recon_weight * L_rec + cap_weight * L_cap (the paper's Algorithm 1).
# Values marked "ours" are not known from the paper (README, "Unknown values").
_base_ = 'mmpretrain::_base_/models/mae_vit-base-p16.py'

model = dict(
    type='MUG',
    # random-init BERT decoder (is_decoder + cross-attention, LM head tied to the word
    # embeddings), 4 layers x 512 wide, 8 heads, FFN 2048 (ours); vocab: bert-base-uncased
    # WordPiece, the data config's tokenizer ([CLS]=101 starts, [SEP]=102 ends, [PAD]=0).
    # A pretrained BERT instead: --cfg-options model.text_decoder.pretrained=bert-base-uncased
    # model.text_decoder.config=None
    text_decoder=dict(
        type='MUGTextDecoder',
        config=dict(
            vocab_size=30522,
            hidden_size=512,
            num_hidden_layers=4,
            num_attention_heads=8,
            intermediate_size=2048,
            hidden_act='gelu',
            hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1,
            max_position_embeddings=512,
            pad_token_id=0),
        bos_token_id=101,
        eos_token_id=102,
        pad_token_id=0),
    recon_weight=1.0,  # ours (the paper's Table 10 value is not known)
    cap_weight=1.0,  # ours
    caption_latents='visible')  # Algorithm 1: the caption attends to the masked view's latents
