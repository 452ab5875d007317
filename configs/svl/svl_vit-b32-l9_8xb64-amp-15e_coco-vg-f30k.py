# Baseline ("No Visual Loss", Tables II-III): ViT-B/32 (9 layers) + BERT-base + 5 cross-modality
# layers pretrained with MLM + ITM only on COCO + Visual Genome + Flickr30k captions (UNITER's
# splits: no Karpathy val/test image of COCO or Flickr30k is trained on), 384x384, description-
# aware flip, random resize 0.8-1.2 + 384 crop, 15 epochs. 8 GPUs x 64 = batch 512 (ours: the
# paper gives no batch size; the lr scales linearly from 1e-4 at 256 with --auto-scale-lr).
_base_ = [
    '../_base_/datasets/coco_vg_flickr_svl.py',
    '../_base_/datasets/coco_retrieval_svl.py',
    '../_base_/models/svl_vit-b32-l9.py',
    '../_base_/schedules/svl_adamw_linear_15e.py',
    '../_base_/default_runtime.py',
]

# no pseudo-labels needed without SPL (the SPL configs switch to svl_train_dataset)
train_dataloader = dict(
    batch_size=64, dataset=dict(_delete_=True, **_base_.svl_train_dataset_no_spl))
# zero-shot retrieval on the COCO Karpathy 5k test split with tools/test.py (every image-caption
# pair through the cross-modal encoder: too slow to run after every epoch, so no val loop)
val_dataloader = None
val_evaluator = None
val_cfg = None
optim_wrapper = dict(optimizer=dict(lr=1e-4 * 512 / 256))

# the paper keeps the checkpoint with the lowest validation loss: every epoch is saved
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=-1))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
resume = True
