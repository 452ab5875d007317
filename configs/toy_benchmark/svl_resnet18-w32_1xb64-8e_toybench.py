# Semantic-visual-loss VLP baseline (MLM + ITM) on the toy benchmark (docs/toy_benchmark.md): the
# toy ResNet-branch recipe (configs/svl/toy/svl_resnet18-tiny_1xb8-toy-4e_toyscenes.py: a
# random-init ResNet + learned 2-D grid position embedding, a 1-layer 64-wide BERT, 2
# cross-modality layers, AdamW with linear warm-up and decay) on the protocol's ResNet-18 of width
# 32 and its 6,000 unlabelled 128 px images with one of their 5 captions per visit (and the
# COCO-Stuff map, read by +SEGL); crops of 128 px (a 4x4 C5 grid), batch 64, 8 epochs.
# BERT's init std 0.02 is scaled to the 64-wide toy streams (0.02 x sqrt(768 / 64) ~ 0.07): at
# 0.02 each attention / feed-forward branch adds ~2 % to its stream, the cross-modal [CLS] hardly
# varies with its inputs and ITM sits on its ln 2 plateau for the whole toy schedule
# (docs/toy_benchmark.md, "SVL's ITM").
# The visual-loss variants (svl-ssul_, svl-segl_, svl-spl_) add one loss each.
_base_ = [
    '../svl/toy/svl_resnet18-tiny_1xb8-toy-4e_toyscenes.py', './_base_/toybench_protocol.py'
]

data_root = _base_.toybench_data_root
crop_size = _base_.toybench_img_size
pseudo_label_file = data_root + 'pseudo_labels/train2017.json'
# the toy data base's pipelines, rebuilt for this data root (they are built at parse time)
geometric_transforms = _base_.svl_geometric_transforms
load_pseudo_labels = dict(
    type='LoadPseudoLabels',
    label_file=pseudo_label_file,
    data_prefix=data_root + 'train2017/',
    max_labels=_base_.svl_max_labels)
load_maps = [
    dict(type='LoadImageFromFile'),
    dict(
        type='LoadStuffMap', stuff_map_prefix=data_root + 'stuffthingmaps/',
        img_prefix=data_root),
]
svl_pipeline = load_maps + geometric_transforms + _base_.svl_text_transforms
spl_pipeline = load_maps + geometric_transforms + [load_pseudo_labels] + _base_.svl_text_transforms
train_dataset = dict(
    type='CocoCaptionsDataset',
    data_root=data_root,
    ann_file='annotations/captions_train2017.json',
    data_prefix='train2017/',
    sample_per='image',
    pipeline=svl_pipeline)

svl_init_std = 0.07
model = dict(
    text_encoder=dict(config=dict(initializer_range=svl_init_std)),
    cross_modal_encoder=dict(initializer_range=svl_init_std),
    backbone=dict(
        base_channels=_base_.toybench_resnet_width,
        stem_channels=_base_.toybench_resnet_width,
        norm_cfg=dict(type='BN')),
    visual_pos_embed=dict(channels=_base_.toybench_resnet_channels[-1]))

train_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    dataset=dict(_delete_=True, **train_dataset))
# retrieval on the toy val split stays off: the probes evaluate the backbone
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

max_epochs = 8
param_scheduler = [
    dict(_base_.param_scheduler[0]),
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=64)
