# VQAv2 fine-tuning data of the semantic-visual-loss VLP (Yang et al., TMM 2023, IV-B1): the
# official VQAv2 questions / annotations on COCO 2014 images, read by mmpretrain's COCOVQA
# (gt_answer = the distinct raw answers, gt_answer_weight = each one's share of the 10
# annotators). Standard ablation split: train2014 for training, val2014 for validation (VQAAcc,
# key 'VQA/acc'); test-dev2015 answers are written for the EvalAI server by ReportVQA
# (`tools/test.py CONFIG CKPT`). For a final model train on train + val (a ConcatDataset of the
# two COCOVQA entries) and keep the test split.
# Layout: data/coco/{train2014,val2014,test2015}/COCO_*_<12-digit id>.jpg (COCOVQA finds images by
# the 12-digit id in the file name); data/coco/annotations/v2_OpenEnded_mscoco_*_questions.json,
# v2_mscoco_{train,val}2014_annotations.json (visualqa.org) and the answer vocabulary:
#   python tools/data/build_vqa_answer_vocab.py \
#       data/coco/annotations/v2_mscoco_train2014_annotations.json \
#       data/coco/annotations/v2_mscoco_val2014_annotations.json \
#       --min-count 9 --out data/coco/annotations/vqav2_answer_vocab_min9.json   # 3,129 answers
# No augmentation in fine-tuning (paper): a plain img_size x img_size resize. The paper fine-tunes
# VQA at 800 px (final Table) and 600 px (ablations); we keep the pretraining size 384 (ViT-B/32:
# the 12x12 grid it was pretrained on; mmpretrain's ViT interpolates its position embedding, so
# img_size=608 gives a 19x19 grid at ~2.5x the cost). Questions: bert-base-uncased WordPiece,
# [CLS] question [SEP] padded to question_max_length = 20 (LXMERT's).
img_size = 384
question_max_length = 20
tokenizer = dict(type='AutoTokenizer', name_or_path='bert-base-uncased')
vqa_data_root = 'data/coco/'
answer_vocab = vqa_data_root + 'annotations/vqav2_answer_vocab_min9.json'
vqa_batch_size = 32  # per GPU
test_result_file = 'work_dirs/vqav2_test-dev2015_results.json'

vqa_algorithm_keys = ['input_ids', 'attention_mask', 'question', 'gt_answer', 'gt_answer_weight']
vqa_meta_keys = ['question_id', 'image_id', 'img_path', 'ori_shape', 'img_shape', 'text']
vqa_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(
        type='TokenizeCaption',
        tokenizer=tokenizer,
        max_length=question_max_length,
        caption_key='question',
        swap_left_right_on_flip=False),
    dict(type='PackInputs', algorithm_keys=vqa_algorithm_keys, meta_keys=vqa_meta_keys),
]

train_dataloader = dict(
    batch_size=vqa_batch_size,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    # one (B, 3, H, W) image tensor, as SelfSupDataPreprocessor expects
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='COCOVQA',
        data_root=vqa_data_root,
        data_prefix='train2014',
        question_file='annotations/v2_OpenEnded_mscoco_train2014_questions.json',
        ann_file='annotations/v2_mscoco_train2014_annotations.json',
        pipeline=vqa_pipeline))
val_dataloader = dict(
    batch_size=vqa_batch_size * 2,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    # one (B, 3, H, W) image tensor, as SelfSupDataPreprocessor expects
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCOVQA',
        data_root=vqa_data_root,
        data_prefix='val2014',
        question_file='annotations/v2_OpenEnded_mscoco_val2014_questions.json',
        ann_file='annotations/v2_mscoco_val2014_annotations.json',
        pipeline=vqa_pipeline))
val_evaluator = dict(type='VQAAcc')
test_dataloader = dict(
    batch_size=vqa_batch_size * 2,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    # one (B, 3, H, W) image tensor, as SelfSupDataPreprocessor expects
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCOVQA',
        data_root=vqa_data_root,
        data_prefix='test2015',
        question_file='annotations/v2_OpenEnded_mscoco_test-dev2015_questions.json',
        pipeline=vqa_pipeline))
test_evaluator = dict(type='ReportVQA', file_path=test_result_file)
