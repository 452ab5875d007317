# Zero-shot image<->text retrieval on the Flickr30k Karpathy 1k test split (Table V) of the
# ViT + SEGL pretraining checkpoint: the pretraining config with its COCO 5k test split swapped
# for Flickr30k's (the paths of configs/_base_/datasets/flickr30k_retrieval_svl.py).
#   python tools/test.py \
#       configs/svl/retrieval/svl-segl_vit-b32-l9_zeroshot-retrieval_flickr30k.py CKPT
# Another pretraining config: change _base_. COCO 5k (Table VI): tools/test.py on the pretraining
# config itself.
_base_ = '../svl-segl_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py'

test_dataloader = dict(
    dataset=dict(
        data_root='data/flickr30k/',
        ann_file='annotations/dataset_flickr30k.json',
        data_prefix='images'))
