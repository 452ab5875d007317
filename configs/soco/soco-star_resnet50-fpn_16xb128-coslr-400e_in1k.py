# SoCo* R50-FPN, 400 epochs (official tools/SoCo_FPN_Star_400ep.sh): a fourth view -- V3 is a
# 192 crop and V4 is V2 resized to 112 -- so three view pairs (V1,V2), (V1,V3), (V1,V4); no cutout.
# The model is SoCo-FPN's: it reads the number of view pairs from the data samples.
_base_ = './soco_resnet50-fpn_16xb128-coslr-400e_in1k.py'

train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline_fpn_star))
