# VQAv2 fine-tuning (Yang et al., TMM 2023, IV-B1, Tables IV-VI) of the paper's best model, ViT
# + SEGL (../svl-segl_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k.py): its checkpoint initialises
# every encoder weight (the SEGL / MLM / ITM heads are left out), a two-layer MLP on the [CLS]
# feature answers over the 3,129 VQAv2 answers (tools/data/build_vqa_answer_vocab.py), no
# augmentation. Trained on train2014, validated on val2014 (VQAAcc: 'VQA/acc', the best epoch is
# kept); `tools/test.py` writes test-dev2015 answers for EvalAI. 8 GPUs x 32 = batch 256.
# Ours (the paper gives none): lr / schedule (../../_base_/schedules/svl_vqa_adamw_linear_10e.py,
# ViLT's recipe), batch 256, 384 px (paper: 800 / 600; `img_size` of the dataset base), the
# soft-score targets and loss scaling (../../_base_/models/svl-vqa_vit-b32-l9.py).
# Another pretraining checkpoint: --cfg-options model.init_cfg.checkpoint=PATH.
_base_ = [
    '../../_base_/datasets/vqav2_svl.py',
    '../../_base_/models/svl-vqa_vit-b32-l9.py',
    '../../_base_/schedules/svl_vqa_adamw_linear_10e.py',
    '../../_base_/default_runtime.py',
]

pretrained_checkpoint = 'work_dirs/svl-segl_vit-b32-l9_8xb64-amp-15e_coco-vg-f30k/epoch_15.pth'
model = dict(
    answer_vocab=_base_.answer_vocab,
    tokenizer=_base_.tokenizer,
    init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint))

train_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=1e-4 * 256 / 256))

default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=2, save_best='VQA/acc', rule='greater'))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
