# Toy + SPL(100) (mirror of ../svl-spl100_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py).
_base_ = './svl-spl36_vit-tiny-p32_1xb8-toy-4e_toyscenes.py'

num_queries = 100
model = dict(spl=dict(head=dict(num_queries=num_queries)))
