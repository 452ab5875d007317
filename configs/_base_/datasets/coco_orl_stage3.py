# ORL stage 3 data (spec 2.5, official configs/selfsup/orl/coco/stage3/r50_bs512_ep800.py and
# datasets/orl.py): per image, six views packed in this order for the ORL model:
#   0, 1  global pair: two 224 px views of the image with the stage-1 pipelines;
#   2, 3  intra-RoI pair: a random stage-2 box `ibox1` and its augmented copy `ibox2` (area
#         x U(0.5, 2), log-uniform aspect in [0.5, 2], centre shift U(-0.5, 0.5) x (w, h),
#         accepted inside the image with IoU > 0.5, 200 attempts, else ibox1);
#   4, 5  inter-RoI pair: a random RoI pair (kbox1 in the image, kbox2 in a kNN image drawn
#         uniformly from the top 10).
# Patches are cropped and resized to 96 px (bilinear, PIL) and get the patch pipelines:
# flip -> jitter p 0.8 -> gray 0.2 -> blur p 1.0 (patch view 1) / 0.1 (patch view 2) ->
# solarize p 0 / 0.2; ipatch1 and kpatch1 use pipeline 1, ipatch2 and kpatch2 pipeline 2.
# The correspondence json is stage 2's output (tools/data/orl_correspondence.py), expected at
# data/coco/meta/train2017_10nn_instance_correspondence.json with file names relative to
# data/coco/train2017/. COCO+ (`train_dataset_coco_plus`) reads the official layout: a
# data/cocoplus/trainplus2017/ folder holding train2017 + unlabeled2017 (e.g. symlinks) and
# data/cocoplus/meta/trainplus2017_10nn_instance_correspondence.json.
_base_ = './coco_orl_stage1.py'

patch_size = 96
# the patch pipelines are the global views' without their random resized crop
patch_pipeline1 = _base_.view_pipeline1[1:]
patch_pipeline2 = _base_.view_pipeline2[1:]
crop_patch = dict(type='ORLCropPatch', size=patch_size, interpolation='bilinear', backend='pillow')
orl_roi_pairs = dict(
    type='ORLSampleRoIPairs',
    shift=(-0.5, 0.5),
    scale=(0.5, 2.),
    ratio=(0.5, 2.),
    iou_thr=0.5,
    attempt_num=200)
orl_views = dict(
    type='MultiView',
    num_views=[1, 1, 1, 1, 1, 1],
    transforms=[
        _base_.view_pipeline1,
        _base_.view_pipeline2,
        [dict(crop_patch, box_key='ibox1', img_key='img')] + patch_pipeline1,
        [dict(crop_patch, box_key='ibox2', img_key='img')] + patch_pipeline2,
        [dict(crop_patch, box_key='kbox1', img_key='img')] + patch_pipeline1,
        [dict(crop_patch, box_key='kbox2', img_key='knn_img')] + patch_pipeline2,
    ])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadORLNeighbour'),
    orl_roi_pairs,
    orl_views,
    dict(type='PackInputs'),
]

train_dataset_coco = dict(
    type='ORLDataset',
    data_root=_base_.data_root,
    ann_file='meta/train2017_10nn_instance_correspondence.json',
    data_prefix='train2017/',
    topk_knn=10,
    pipeline=train_pipeline)
train_dataset_coco_plus = dict(
    train_dataset_coco,
    data_root='data/cocoplus/',
    ann_file='meta/trainplus2017_10nn_instance_correspondence.json',
    data_prefix='trainplus2017/')

train_dataloader = dict(dataset=dict(_delete_=True, **train_dataset_coco))
