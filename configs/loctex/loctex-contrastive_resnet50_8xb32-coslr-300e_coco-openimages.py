# Ablation: LocTex without the trace-attention loss on COCO + Open Images (300 epochs).
_base_ = './loctex_resnet50_8xb32-coslr-300e_coco-openimages.py'

model = dict(attention_head=None, attention_loss=None)
