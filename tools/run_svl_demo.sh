#!/usr/bin/env bash
# Semantic-visual-loss VLP (SVL) on generated data, end to end: the toy pseudo-label detector
# (trained here), pseudo-labels by tools/data/extract_pseudo_labels.py, the caption list and the
# Karpathy-format retrieval split by the data tools, then toy pretraining of the baseline and
# each visual loss (ViT branch) with zero-shot image<->text retrieval on the toy val split, and
# toy VQA fine-tuning from the baseline and the +SEGL checkpoints. Prints both tables.
# Every step resumes: re-running skips finished work and continues interrupted training.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
TOY_ROOT=${TOY_ROOT:-data/toy_scenes}
WORK=${WORK:-work_dirs/svl_demo}
VARIANTS=${VARIANTS:-"svl svl-ssul svl-segl svl-spl36 svl-spl100"}
DET_CFG=configs/svl/detector/faster-rcnn_r18_fpn_1xb4-toy-8e_toyscenes.py
VQA_CFG=configs/svl/vqa/toy/svl_vit-tiny_1xb8-vqa-toy-3e_toyscenes.py
if [ "$TOY_ROOT" != data/toy_scenes ]; then
  # the toy SVL data configs read data/toy_scenes/ (paths are built at parse time)
  echo "run with TOY_ROOT=data/toy_scenes (or link it there)" >&2; exit 2
fi

echo "== 1/6 caption list (map-less part) and the Karpathy-format retrieval split"
[ -f "$TOY_ROOT/meta/svl_captions_train2017.jsonl" ] || \
  $PYTHON tools/data/svl_caption_lists.py coco-captions \
    "$TOY_ROOT/annotations/captions_train2017.json" \
    --out "$TOY_ROOT/meta/svl_captions_train2017.jsonl"
[ -f "$TOY_ROOT/annotations/karpathy_val2017.json" ] || \
  $PYTHON tools/data/coco_captions_to_karpathy.py "$TOY_ROOT/annotations/captions_val2017.json" \
    "$TOY_ROOT/annotations/karpathy_val2017.json" --split test

echo "== 2/6 toy pseudo-label detector: $DET_CFG"
$PYTHON tools/train.py "$DET_CFG" --work-dir "$WORK/detector" --resume
DET_CKPT=$(cat "$WORK/detector/last_checkpoint")

echo "== 3/6 pseudo-labels of $TOY_ROOT/train2017"
$PYTHON tools/data/extract_pseudo_labels.py extract "$DET_CFG" "$DET_CKPT" \
  --img-dir "$TOY_ROOT/train2017" --ann-file "$TOY_ROOT/annotations/instances_train2017.json" \
  --out "$TOY_ROOT/pseudo_labels/train2017.json"

echo "== 4/6 toy pretraining + zero-shot retrieval: $VARIANTS"
RUNS=()
for v in $VARIANTS; do
  cfg=configs/svl/toy/${v}_vit-tiny-p32_1xb8-toy-4e_toyscenes.py
  $PYTHON tools/train.py "$cfg" --work-dir "$WORK/$v" --resume
  RUNS+=("$v=$WORK/$v")
done

echo "== 5/6 toy VQA data and answer vocabulary"
[ -f "$TOY_ROOT/vqa/answer_vocab.json" ] || {
  $PYTHON tools/data/make_toy_vqa.py "$TOY_ROOT"
  $PYTHON tools/data/build_vqa_answer_vocab.py \
    "$TOY_ROOT/vqa/v2_mscoco_train2017_annotations.json" \
    "$TOY_ROOT/vqa/v2_mscoco_val2017_annotations.json" --min-count 1 \
    --out "$TOY_ROOT/vqa/answer_vocab.json"
}

echo "== 6/6 toy VQA fine-tuning from the baseline and the +SEGL checkpoints"
VQA_RUNS=()
for v in svl svl-segl; do
  case " $VARIANTS " in *" $v "*) ;; *) continue ;; esac
  $PYTHON tools/train.py "$VQA_CFG" --work-dir "$WORK/vqa_from_$v" --resume \
    --cfg-options model.init_cfg.checkpoint="$(cat "$WORK/$v/last_checkpoint")"
  VQA_RUNS+=("$v=$WORK/vqa_from_$v")
done

$PYTHON tools/analysis_tools/summarize_metrics.py "${RUNS[@]}" --keys \
  i2t/retrieval/Recall@1 i2t/retrieval/Recall@5 i2t/retrieval/Recall@10 \
  t2i/retrieval/Recall@1 t2i/retrieval/Recall@5 t2i/retrieval/Recall@10
[ ${#VQA_RUNS[@]} -eq 0 ] || \
  $PYTHON tools/analysis_tools/summarize_metrics.py "${VQA_RUNS[@]}" --keys VQA/acc
