# + SPL(100): as svl-spl36 with 100 queries, the adaptive 10-100 detections per image
# (score >= 0.2) of the pseudo-label tool's defaults.
_base_ = './svl-spl36_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py'

num_queries = 100
model = dict(spl=dict(head=dict(num_queries=num_queries)))
