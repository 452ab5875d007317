# Toy ORL stage 3: the COCO recipe (orl_resnet50_8xb64-coslr-800e_coco.py) scaled to run on the
# CPU in minutes. Changed are only the sizes (ResNet-18, 1024-128 MLPs, 64 px global views,
# 32 px patches), the data and the schedule (10 epochs, 1 warm-up, batch 32,
# lr 0.4 x 32 / 512); BN replaces SyncBN and plain fp32 replaces AMP for the CPU (gloo).
# Data: toy scenes (tools/data/make_toy_scenes.py) and the toy stage 2's correspondence json
# (tools/data/orl_knn.py + tools/data/orl_correspondence.py on the toy stage-1 checkpoint),
# expected at data/toy_scenes/meta/train2017_10nn_instance_correspondence.json with file names
# relative to data/toy_scenes/train2017/.
_base_ = './orl_resnet50_8xb64-coslr-800e_coco.py'

norm_cfg = dict(type='BN')
model = dict(
    backbone=dict(depth=18, norm_cfg=norm_cfg),
    neck=dict(in_channels=512, hid_channels=1024, out_channels=128, norm_cfg=dict(type='BN1d')),
    head=dict(
        predictor=dict(
            in_channels=128, hid_channels=1024, out_channels=128, norm_cfg=dict(type='BN1d'))))

# toy scenes are 128 px: global views 224 -> 64, patches 96 -> 32
crop_size = 64
patch_size = 32
data_root = 'data/toy_scenes/'
view_pipeline1 = [dict(_base_.view_pipeline1[0], scale=crop_size)] + _base_.view_pipeline1[1:]
view_pipeline2 = [dict(_base_.view_pipeline2[0], scale=crop_size)] + _base_.view_pipeline2[1:]
crop_patch = dict(_base_.crop_patch, size=patch_size)
orl_views = dict(
    _base_.orl_views,
    transforms=[
        view_pipeline1,
        view_pipeline2,
        [dict(crop_patch, box_key='ibox1', img_key='img')] + _base_.patch_pipeline1,
        [dict(crop_patch, box_key='ibox2', img_key='img')] + _base_.patch_pipeline2,
        [dict(crop_patch, box_key='kbox1', img_key='img')] + _base_.patch_pipeline1,
        [dict(crop_patch, box_key='kbox2', img_key='knn_img')] + _base_.patch_pipeline2,
    ])
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadORLNeighbour'),
            _base_.orl_roi_pairs,
            orl_views,
            dict(type='PackInputs'),
        ]))

# the paper's SGD (lr scaled to batch 32) and schedule, shortened to 10 epochs
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(_base_.optim_wrapper.optimizer, lr=0.4 * 32 / 512))
max_epochs = 10
warmup_epochs = 1
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(_base_.param_scheduler[1], T_max=max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
auto_scale_lr = dict(base_batch_size=32)
