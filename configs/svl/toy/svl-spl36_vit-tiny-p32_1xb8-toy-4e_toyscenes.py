# Toy + SPL(36) (mirror of ../svl-spl36_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py): the pseudo-
# labels are the 8 toy shape classes found by the toy detector
# (../detector/faster-rcnn_r18_fpn_1xb4-toy_toyscenes.py, tools/data/extract_pseudo_labels.py).
_base_ = './svl_vit-tiny-p32_1xb8-toy-4e_toyscenes.py'

num_queries = 36
model = dict(
    spl=dict(
        head=dict(
            type='SetPredictor',
            num_classes=8,
            num_queries=num_queries,
            embed_dims=_base_.svl_toy_width,
            num_layers=1,
            num_heads=_base_.svl_toy_heads,
            feedforward_channels=2 * _base_.svl_toy_width,
            dropout=0.1,
            no_object=False),
        loss=dict(type='SetPredictionLoss', loss_weight=1.0)))
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.svl_train_dataset))
