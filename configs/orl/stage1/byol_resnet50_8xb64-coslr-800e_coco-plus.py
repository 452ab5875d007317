# ORL stage 1 on COCO+ = train2017 + unlabeled2017 (241,690 images; official
# configs/selfsup/orl/cocoplus/stage1/r50_bs512_ep800.py): the COCO recipe on both splits, in
# one folder data/cocoplus/trainplus2017/ (e.g. symlinks), the layout stage 2 also reads.
_base_ = './byol_resnet50_8xb64-coslr-800e_coco.py'

train_dataloader = dict(dataset=dict(_delete_=True, **_base_.train_dataset_coco_plus))
