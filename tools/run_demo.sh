#!/usr/bin/env bash
# The main job on generated data: pretrain a ResNet-18 on toy scenes, extract its backbone,
# fine-tune the toy Mask R-CNN from it and from random init, and print both APs.
# Every step resumes: re-running skips finished work and continues interrupted training.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
TOY_ROOT=${TOY_ROOT:-data/toy_scenes}
WORK=${WORK:-work_dirs/demo}
PRETRAIN_CFG=${PRETRAIN_CFG:-configs/byol/byol_resnet18_1xb32-toy-10e_toyscenes.py}
DET_CFG=${DET_CFG:-configs/benchmarks/mmdetection/toy/mask-rcnn_r18_fpn_1xb4-toy_toyscenes.py}
DATA_OPTS=(train_dataloader.dataset.data_root="$TOY_ROOT/")

echo "== 1/4 pretraining: $PRETRAIN_CFG"
$PYTHON tools/train.py "$PRETRAIN_CFG" --work-dir "$WORK/pretrain" --resume \
  --cfg-options "${DATA_OPTS[@]}"
CKPT=$(cat "$WORK/pretrain/last_checkpoint")

echo "== 2/4 extracting the backbone of $CKPT"
$PYTHON tools/model_converters/extract_weights.py "$CKPT" "$WORK/backbone_mmdet.pth" \
  --target mmdet

DET_DATA_OPTS=(
  train_dataloader.dataset.data_root="$TOY_ROOT/"
  val_dataloader.dataset.data_root="$TOY_ROOT/"
  test_dataloader.dataset.data_root="$TOY_ROOT/"
  val_evaluator.ann_file="$TOY_ROOT/annotations/instances_val2017.json"
  test_evaluator.ann_file="$TOY_ROOT/annotations/instances_val2017.json"
)
echo "== 3/4 fine-tuning Mask R-CNN from the pretrained backbone"
$PYTHON tools/train.py "$DET_CFG" --work-dir "$WORK/maskrcnn_pretrained" --resume \
  --cfg-options "${DET_DATA_OPTS[@]}" model.backbone.init_cfg.checkpoint="$WORK/backbone_mmdet.pth"
echo "== 4/4 fine-tuning Mask R-CNN from random init"
$PYTHON tools/train.py "$DET_CFG" --work-dir "$WORK/maskrcnn_random" --resume \
  --cfg-options "${DET_DATA_OPTS[@]}" model.backbone.init_cfg=None

$PYTHON tools/analysis_tools/summarize_metrics.py \
  "pretrained=$WORK/maskrcnn_pretrained" "random init=$WORK/maskrcnn_random" \
  --keys coco/bbox_mAP coco/bbox_mAP_50 coco/segm_mAP coco/segm_mAP_50
