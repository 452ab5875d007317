#!/usr/bin/env bash
# The main job on generated data: selective-search proposals for the toy scenes, SoCo pretraining
# of a ResNet-18-FPN with its box head, export of backbone + FPN + box head for mmdet, then the
# toy Mask R-CNN (4conv1fc head) fine-tuned from that export and from random init; prints both APs.
# Every step resumes: re-running skips finished work and continues interrupted training.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
TOY_ROOT=${TOY_ROOT:-data/toy_scenes}
WORK=${WORK:-work_dirs/demo}
PRETRAIN_CFG=${PRETRAIN_CFG:-configs/soco/soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py}
DET_CFG=${DET_CFG:-configs/benchmarks/mmdetection/toy/mask-rcnn_r18_fpn_soco-head_1xb4-toy_toyscenes.py}
PROPOSALS="$TOY_ROOT/proposals/train2017_ratio3size0308post.json"

echo "== 1/5 selective-search proposals for $TOY_ROOT/train2017"
$PYTHON tools/data/selective_search.py generate --img-dir "$TOY_ROOT/train2017" \
  --out-dir "$TOY_ROOT/proposals" --prefix train2017 --workers "${WORKERS:-2}"

echo "== 2/5 SoCo pretraining: $PRETRAIN_CFG"
$PYTHON tools/train.py "$PRETRAIN_CFG" --work-dir "$WORK/pretrain" --resume \
  --cfg-options train_dataloader.dataset.data_root="$TOY_ROOT/" \
  train_dataloader.dataset.proposal_file="$PWD/$PROPOSALS"
CKPT=$(cat "$WORK/pretrain/last_checkpoint")

echo "== 3/5 exporting backbone + FPN + box head of $CKPT for mmdet"
$PYTHON tools/model_converters/extract_weights.py "$CKPT" "$WORK/soco_mmdet.pth" --target mmdet

DET_DATA_OPTS=(
  train_dataloader.dataset.data_root="$TOY_ROOT/"
  val_dataloader.dataset.data_root="$TOY_ROOT/"
  test_dataloader.dataset.data_root="$TOY_ROOT/"
  val_evaluator.ann_file="$TOY_ROOT/annotations/instances_val2017.json"
  test_evaluator.ann_file="$TOY_ROOT/annotations/instances_val2017.json"
)
echo "== 4/5 fine-tuning Mask R-CNN from the SoCo export"
$PYTHON tools/train.py "$DET_CFG" --work-dir "$WORK/maskrcnn_soco" --resume \
  --cfg-options "${DET_DATA_OPTS[@]}" load_from="$WORK/soco_mmdet.pth"
echo "== 5/5 fine-tuning Mask R-CNN from random init"
$PYTHON tools/train.py "$DET_CFG" --work-dir "$WORK/maskrcnn_random" --resume \
  --cfg-options "${DET_DATA_OPTS[@]}" load_from=None

$PYTHON tools/analysis_tools/summarize_metrics.py \
  "SoCo pretrained=$WORK/maskrcnn_soco" "random init=$WORK/maskrcnn_random" \
  --keys coco/bbox_mAP coco/bbox_mAP_50 coco/segm_mAP coco/segm_mAP_50
