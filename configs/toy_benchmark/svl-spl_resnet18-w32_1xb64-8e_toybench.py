# SVL + SPL(36) on the toy benchmark: a 36-query set predictor on the C5 grid, Hungarian-matched
# to the pseudo-labels of an offline detector (the toy Faster R-CNN trained on the 200 labelled
# images, ./benchmarks/detection/
# faster-rcnn_resnet18-w32_fpn_1xb8-12e_toybench-labelled200.py, run by
# tools/data/extract_pseudo_labels.py over train2017).
# Unlike the paper-size configs (configs/svl/, matched pairs only), the set predictor has DETR's
# "no object" class: with 8 classes and 36 queries, CE on matched pairs alone is solved without
# the image (each query keeps one class, and any label multiset finds its queries), which the
# driver's pretraining-lever table shows (loss_spl falls to ~0 with the matched-pairs loss);
# with the no-object class, the queries must say which and how many objects the image holds.
_base_ = './svl_resnet18-w32_1xb64-8e_toybench.py'

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
            no_object=True),
        loss=dict(type='SetPredictionLoss', loss_weight=1.0)))
train_dataloader = dict(dataset=dict(pipeline=_base_.spl_pipeline))
