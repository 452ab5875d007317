# Toy ablation: the toy LocTex without the trace-attention loss (contrastive only).
_base_ = './loctex_resnet18_1xb16-toy-10e_toyscenes.py'

model = dict(attention_head=None, attention_loss=None)
