# LocTex's COCO instance-segmentation transfer with 10% of the training images: Mask R-CNN
# R50-FPN with the 2x protocol (configs/benchmarks/mmdetection/mask-rcnn_r50_fpn_syncbn-2x_coco.py,
# the full-data setting) trained on the first 11727 of the 117,266 annotated train2017 images
# (round(0.10 x 117,266)). mmengine's stock dataset option `indices` keeps the first N entries
# after mmdet's filtering (images without objects removed), i.e. a fixed prefix of
# instances_train2017.json's image order. The schedule stays 24 epochs: the paper scales the
# number of iterations linearly with the data size (supplementary A.3), and an epoch of the
# subset is 10% of the iterations.
# Pretrained backbone: --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   (PATH from tools/model_converters/extract_weights.py LOCTEX_CKPT PATH --target mmdet)
_base_ = '../../benchmarks/mmdetection/mask-rcnn_r50_fpn_syncbn-2x_coco.py'

train_dataloader = dict(dataset=dict(indices=11727))
