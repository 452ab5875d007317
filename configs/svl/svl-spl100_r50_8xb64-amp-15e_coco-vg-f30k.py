# + SPL(100) with the ResNet-50 branch.
_base_ = './svl-spl36_r50_8xb64-amp-15e_coco-vg-f30k.py'

num_queries = 100
model = dict(spl=dict(head=dict(num_queries=num_queries)))
