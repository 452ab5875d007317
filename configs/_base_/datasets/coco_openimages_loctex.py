# LocTex data on COCO + Open Images (the paper's larger pretraining set, spec 2.2): the COCO
# train2017 narratives of coco_loctex.py plus the 10 Open Images V6 train shards (507,444
# narratives), same pipeline. Open Images layout: data/openimages/train/<image_id>.jpg and
# data/openimages/annotations/open_images_train_v6_localized_narratives-0000{0..9}-of-00010.jsonl.
# The Open Images `dataset_id` string is not verified here, so its template matches any id in
# those files ('*').
_base_ = './coco_loctex.py'

openimages_data_root = 'data/openimages/'
train_dataset_openimages = dict(
    type='LocalizedNarrativesDataset',
    data_root=openimages_data_root,
    ann_file=[
        f'annotations/open_images_train_v6_localized_narratives-0000{i}-of-00010.jsonl'
        for i in range(10)
    ],
    data_prefix='',
    image_templates={'*': 'train/{image_id}.jpg'},
    pipeline={{_base_.train_pipeline}})

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[{{_base_.train_dataset_coco}}, train_dataset_openimages]))
