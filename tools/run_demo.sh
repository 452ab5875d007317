#!/usr/bin/env bash
# The main job on generated data: selective-search proposals for the toy scenes, SoCo pretraining
# of a ResNet-18-FPN with its box head, exports for mmdet (backbone + FPN + box head, as SoCo
# transfers, and the backbone alone), then the toy Mask R-CNN (4conv1fc head) fine-tuned from each
# export and from random init; prints the three APs.
# Every step resumes: re-running skips finished work and continues interrupted training.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
TOY_ROOT=${TOY_ROOT:-data/toy_scenes}
WORK=${WORK:-work_dirs/demo}
PRETRAIN_CFG=${PRETRAIN_CFG:-configs/soco/soco_resnet18-fpn_1xb32-toy-10e_toyscenes.py}
DET_CFG=${DET_CFG:-configs/benchmarks/mmdetection/toy/mask-rcnn_r18_fpn_soco-head_1xb4-toy_toyscenes.py}
PROPOSALS="$TOY_ROOT/proposals/train2017_ratio3size0308post.json"

echo "== 1/6 selective-search proposals for $TOY_ROOT/train2017"
$PYTHON tools/data/selective_search.py generate --img-dir "$TOY_ROOT/train2017" \
  --out-dir "$TOY_ROOT/proposals" --prefix train2017 --workers "${WORKERS:-2}"

echo "== 2/6 SoCo pretraining: $PRETRAIN_CFG"
$PYTHON tools/train.py "$PRETRAIN_CFG" --work-dir "$WORK/pretrain" --resume \
  --cfg-options train_dataloader.dataset.data_root="$TOY_ROOT/" \
  train_dataloader.dataset.proposal_file="$PWD/$PROPOSALS"
CKPT=$(cat "$WORK/pretrain/last_checkpoint")

echo "== 3/6 exporting backbone + FPN + box head (and the backbone alone) of $CKPT for mmdet"
$PYTHON tools/model_converters/extract_weights.py "$CKPT" "$WORK/soco_mmdet.pth" --target mmdet
$PYTHON tools/model_converters/extract_weights.py "$CKPT" "$WORK/soco_backbone_mmdet.pth" \
  --target mmdet --no-auto

DET_DATA_OPTS=(
  train_dataloader.dataset.data_root="$TOY_ROOT/"
  val_dataloader.dataset.data_root="$TOY_ROOT/"
  test_dataloader.dataset.data_root="$TOY_ROOT/"
  val_evaluator.ann_file="$TOY_ROOT/annotations/instances_val2017.json"
  test_evaluator.ann_file="$TOY_ROOT/annotations/instances_val2017.json"
)
echo "== 4/6 fine-tuning Mask R-CNN from SoCo's backbone + FPN + box head"
$PYTHON tools/train.py "$DET_CFG" --work-dir "$WORK/maskrcnn_soco" --resume \
  --cfg-options "${DET_DATA_OPTS[@]}" load_from="$WORK/soco_mmdet.pth"
echo "== 5/6 fine-tuning Mask R-CNN from SoCo's backbone"
$PYTHON tools/train.py "$DET_CFG" --work-dir "$WORK/maskrcnn_soco_backbone" --resume \
  --cfg-options "${DET_DATA_OPTS[@]}" load_from="$WORK/soco_backbone_mmdet.pth"
echo "== 6/6 fine-tuning Mask R-CNN from random init"
$PYTHON tools/train.py "$DET_CFG" --work-dir "$WORK/maskrcnn_random" --resume \
  --cfg-options "${DET_DATA_OPTS[@]}" load_from=None

$PYTHON tools/analysis_tools/summarize_metrics.py \
  "SoCo backbone+FPN+head=$WORK/maskrcnn_soco" "SoCo backbone=$WORK/maskrcnn_soco_backbone" \
  "random init=$WORK/maskrcnn_random" \
  --keys coco/bbox_mAP coco/bbox_mAP_50 coco/segm_mAP coco/segm_mAP_50
