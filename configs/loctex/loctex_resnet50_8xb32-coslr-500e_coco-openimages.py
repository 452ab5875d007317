# LocTex R50 pretrained on COCO train2017 + Open Images V6 train Localized Narratives for 500
# epochs: the 300-epoch recipe (loctex_resnet50_8xb32-coslr-300e_coco-openimages.py, the
# supplementary's COCO + Open Images runs of 300 and 500 epochs) with the cosine over 500 epochs.
_base_ = './loctex_resnet50_8xb32-coslr-300e_coco-openimages.py'

max_epochs = 500
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
