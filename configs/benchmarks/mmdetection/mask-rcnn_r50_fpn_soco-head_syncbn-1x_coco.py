# Mask R-CNN R50-FPN 1x on COCO initialised from a whole SoCo export: backbone, FPN and the shared
# convs/fc of the 4conv1fc box head, as SoCo's detectron2 recipe (SoCo_FPN_*.yaml, spec 1.8) and
# its mmdet converter do. The 1x transfer protocol of ./mask-rcnn_r50_fpn_syncbn-1x_coco.py
# (SyncBN in backbone, FPN, box and mask heads, nothing frozen, multi-scale 640-800) plus SoCo's
# fine-tuning weight decay 2.5e-5. fc_cls/fc_reg, the RPN and the mask head start random.
# Export:   python tools/model_converters/extract_weights.py SOCO_CKPT soco_mmdet.pth \
#               --target mmdet
#           (a SoCo checkpoint is recognised: backbone. + neck. + roi_head.bbox_head.shared_*)
# SoCo:     --cfg-options load_from=soco_mmdet.pth    (the whole file, loaded after init)
# Random-init baseline: --cfg-options load_from=None
# Detectron2's precise BN has no mmdet counterpart and is not used.
_base_ = './mask-rcnn_r50_fpn_syncbn-1x_coco.py'

model = dict(
    # everything pretrained comes from load_from (the file holds backbone., neck. and
    # roi_head.bbox_head. keys), so no part loads a checkpoint of its own
    backbone=dict(init_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            # SoCo's FastRCNNConvFCHead: 4 x conv3x3 256 (+ SyncBN), fc 256*7*7 -> 1024
            in_channels=256,
            conv_out_channels=256,
            roi_feat_size=7,
            fc_out_channels=1024)))

optim_wrapper = dict(optimizer=dict(weight_decay=2.5e-5))

# required: the extract_weights.py output of a SoCo checkpoint, or None for random init
load_from = ''
