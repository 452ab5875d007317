# VQAv2-format fine-tuning data on toy scenes, the CPU mirror of vqav2_svl.py: questions about
# the toy COCO instances ("how many circles are there?", "is there a star?", "what shape is the
# largest object?", 10 noisy answers each) read by the same COCOVQA / VQAAcc. Make them with
#   python tools/data/make_toy_scenes.py data/toy_scenes --num-train 400 --num-val 100
#   python tools/data/make_toy_vqa.py data/toy_scenes
#   python tools/data/build_vqa_answer_vocab.py \
#       data/toy_scenes/vqa/v2_mscoco_train2017_annotations.json \
#       data/toy_scenes/vqa/v2_mscoco_val2017_annotations.json --min-count 1 \
#       --out data/toy_scenes/vqa/answer_vocab.json
# Changed: 128 px (the toy scenes' size), the offline test vocabulary, toy paths; val = test.
img_size = 128
question_max_length = 20
tokenizer = dict(type='AutoTokenizer', name_or_path='tests/data/bert_vocab')
vqa_data_root = 'data/toy_scenes/'
answer_vocab = vqa_data_root + 'vqa/answer_vocab.json'
vqa_batch_size = 8

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
    num_workers=1,
    persistent_workers=False,
    # one (B, 3, H, W) image tensor, as SelfSupDataPreprocessor expects
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='COCOVQA',
        data_root=vqa_data_root,
        data_prefix='train2017',
        question_file='vqa/v2_OpenEnded_mscoco_train2017_questions.json',
        ann_file='vqa/v2_mscoco_train2017_annotations.json',
        pipeline=vqa_pipeline))
val_dataloader = dict(
    batch_size=vqa_batch_size,
    num_workers=1,
    persistent_workers=False,
    # one (B, 3, H, W) image tensor, as SelfSupDataPreprocessor expects
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCOVQA',
        data_root=vqa_data_root,
        data_prefix='val2017',
        question_file='vqa/v2_OpenEnded_mscoco_val2017_questions.json',
        ann_file='vqa/v2_mscoco_val2017_annotations.json',
        pipeline=vqa_pipeline))
val_evaluator = dict(type='VQAAcc')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
