# Semantic-visual-loss VLP, ViT branch (Yang et al., TMM 2023, IV-A1; configs/svl/README.md):
# a 9-layer ViT-B/32 on raw 384x384 pixels (the 12x12 = 144 patch tokens are the grid; ViT's own
# position embeddings), a BERT-base language branch ([CLS] caption [SEP], WordPiece) and 5
# LXMERT cross-modality layers (one shared cross-attention for both directions, self-attention
# and FFN per stream). "We load pretrained weights for language branch and vision backbones":
# bert-base-uncased and the first 9 blocks of mmpretrain's ImageNet-21k -> 1k ViT-B/32 at 384 px
# (blocks 10-12 of the checkpoint are reported as unused). Losses: MLM (15 %, 80/10/10, matched
# pairs only) + ITM (50 % captions of other images); the +SSUL / +SEGL / +SPL configs add one
# visual loss each. Values marked "ours" are not given by the paper.
vit_checkpoint = 'https://download.openmmlab.com/mmclassification/v0/vit/finetune/' \
    'vit-base-p32_in21k-pre-3rdparty_ft-64xb64_in1k-384_20210928-9cea8599.pth'
text_model = 'bert-base-uncased'

model = dict(
    type='SemanticVLP',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=768, num_layers=9, num_heads=12, feedforward_channels=3072),
        img_size=384,
        patch_size=32,
        out_type='featmap',
        final_norm=True,
        init_cfg=dict(type='Pretrained', checkpoint=vit_checkpoint, prefix='backbone.')),
    text_encoder=dict(type='HFTextEncoder', pretrained=text_model),
    tokenizer=dict(type='AutoTokenizer', name_or_path=text_model),
    cross_modal_encoder=dict(
        type='CrossModalEncoder',
        hidden_size=768,
        num_layers=5,
        num_heads=12,
        intermediate_size=3072,
        hidden_dropout=0.1,
        attention_dropout=0.1),
    mlm_prob=0.15,
    mlm_on_mismatched=False,  # ours (the paper is silent; LXMERT computes it on both)
    itm_neg_prob=0.5,
    mlm_loss_weight=1.0,
    itm_loss_weight=1.0,
    # ssul / segl / spl: None here (the baseline); the +SSUL / +SEGL / +SPL configs add one
    # the ViT-B/32 checkpoint's normalisation; SSUL fills masked patches with 0 = the mean colour
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True))
