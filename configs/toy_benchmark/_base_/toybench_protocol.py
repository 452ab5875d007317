# The toy benchmark protocol (docs/toy_benchmark.md): what every pretraining and probe config of
# configs/toy_benchmark/ shares. Data: toy scenes of 128 px with 1-3 large shapes whose surface
# pattern is drawn per object (only the outline tells a shape's class), written by
# tools/benchmarks/toy_benchmark.py into data/toy_benchmark/ (or $TOYBENCH_DATA_ROOT): train2017
# (6,000 images) is the unlabelled pretraining pool, its first toybench_num_labelled images are
# the labelled set of the probes, val2017 (500 images) is the test set.
# Backbones: a ResNet-18 of width toybench_resnet_width for the ResNet methods, a 4-layer
# 192-wide ViT with 16 px patches (8x8 tokens) for the ViT methods.
# Every name starts with `toybench_` so that this file can sit next to a method's own bases.
toybench_data_root = '{{$TOYBENCH_DATA_ROOT:data/toy_benchmark/}}'
toybench_img_size = 128
toybench_num_labelled = 200
toybench_labelled_ann_file = 'annotations/instances_train2017_labelled200.json'
toybench_mean = [123.675, 116.28, 103.53]
toybench_std = [58.395, 57.12, 57.375]

toybench_resnet_width = 32
toybench_resnet = dict(
    type='ResNet',
    depth=18,
    base_channels=toybench_resnet_width,
    stem_channels=toybench_resnet_width,
    norm_cfg=dict(type='BN'),
    zero_init_residual=False)
# channels of C2..C5
toybench_resnet_channels = [toybench_resnet_width * 2**i for i in range(4)]

toybench_vit_patch = 16
toybench_vit_arch = dict(embed_dims=192, num_layers=4, num_heads=3, feedforward_channels=768)
# the ViT with MAE's pixel decoder (a 2-block, 128-wide decoder) as MAEViT / MAEPretrainDecoder /
# MAEPretrainHead overrides: what the MAE and MUG configs share
toybench_mae_model = dict(
    backbone=dict(
        arch=dict(_delete_=True, **toybench_vit_arch),
        img_size=toybench_img_size,
        patch_size=toybench_vit_patch),
    neck=dict(
        num_patches=(toybench_img_size // toybench_vit_patch)**2,
        patch_size=toybench_vit_patch,
        embed_dim=toybench_vit_arch['embed_dims'],
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4),
    head=dict(patch_size=toybench_vit_patch))
