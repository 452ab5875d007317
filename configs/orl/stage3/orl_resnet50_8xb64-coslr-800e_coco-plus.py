# ORL stage 3 on COCO+ (official configs/selfsup/orl/cocoplus/stage3/r50_bs512_ep800.py): the
# COCO recipe on data/cocoplus/trainplus2017/ (train2017 + unlabeled2017 in one folder) with
# stage 2's data/cocoplus/meta/trainplus2017_10nn_instance_correspondence.json.
_base_ = './orl_resnet50_8xb64-coslr-800e_coco.py'

train_dataloader = dict(dataset=dict(_delete_=True, **_base_.train_dataset_coco_plus))
