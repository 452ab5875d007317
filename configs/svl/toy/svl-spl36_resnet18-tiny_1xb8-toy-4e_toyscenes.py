# Toy + SPL(36) with the ResNet branch.
_base_ = './svl_resnet18-tiny_1xb8-toy-4e_toyscenes.py'

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
