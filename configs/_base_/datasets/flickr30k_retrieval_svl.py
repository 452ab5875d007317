# Zero-shot image<->text retrieval of the semantic-visual-loss VLP on the Karpathy Flickr30k 1k
# test split (1,000 images, 5,000 captions): the COCO retrieval setup (coco_retrieval_svl.py:
# every pair scored by the ITM head, 5M cross-modal passes; i2t/ and t2i/retrieval/Recall@k)
# on Karpathy's dataset_flickr30k.json, mmpretrain's Flickr30k layout.
# Layout: data/flickr30k/images/*.jpg, data/flickr30k/annotations/dataset_flickr30k.json.
_base_ = './coco_retrieval_svl.py'

retrieval_data_root = 'data/flickr30k/'
retrieval_ann_file = 'annotations/dataset_flickr30k.json'
retrieval_data_prefix = 'images'
retrieval_dataset = dict(
    data_root=retrieval_data_root, ann_file=retrieval_ann_file, data_prefix=retrieval_data_prefix)

val_dataloader = dict(dataset=retrieval_dataset)
test_dataloader = val_dataloader
