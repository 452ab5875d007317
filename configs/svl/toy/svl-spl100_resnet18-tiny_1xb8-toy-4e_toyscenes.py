# Toy + SPL(100) with the ResNet branch.
_base_ = './svl-spl36_resnet18-tiny_1xb8-toy-4e_toyscenes.py'

num_queries = 100
model = dict(spl=dict(head=dict(num_queries=num_queries)))
