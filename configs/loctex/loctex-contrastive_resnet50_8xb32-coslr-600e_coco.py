# Ablation: LocTex without the trace-attention loss (image-caption contrastive loss only), the
# COCO 600-epoch recipe otherwise unchanged. The pipeline still renders the trace maps (unused).
_base_ = './loctex_resnet50_8xb32-coslr-600e_coco.py'

model = dict(attention_head=None, attention_loss=None)
