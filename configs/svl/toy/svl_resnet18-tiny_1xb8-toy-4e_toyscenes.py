# Toy baseline with the ResNet branch (mirror of ../svl_r50_8xb64-amp-15e_coco-vg-f30k.py): a
# random-init ResNet-18 with 16 base channels (C5: 128 x 4 x 4 on 128 px crops) + the learned
# 2-D grid position embedding, otherwise ./svl_vit-tiny-p32_1xb8-toy-4e_toyscenes.py.
_base_ = './svl_vit-tiny-p32_1xb8-toy-4e_toyscenes.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        base_channels=16,
        stem_channels=16,
        out_indices=(3, ),
        norm_eval=False),
    visual_pos_embed=dict(type='GridPositionEmbedding2D', channels=128),
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]))
