# Semantic-visual-loss VLP, ResNet-50 branch (section IV-A1): the C5 map of an ImageNet
# ResNet-50 (torchvision weights) at 384x384 -> a (2048, 12, 12) grid plus a learned 2-D position
# embedding (row + column, ours: the paper does not say how the grid is positioned), then the
# same language branch and 5 cross-modality layers as the ViT model (svl_vit-b32-l9.py).
_base_ = './svl_vit-b32-l9.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        out_indices=(3, ),
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    visual_pos_embed=dict(type='GridPositionEmbedding2D', channels=2048),
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]))
