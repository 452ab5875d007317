#!/usr/bin/env bash
# Run a downstream benchmark config (mmdet / mmseg / mmpretrain) from extracted weights
# (tools/model_converters/extract_weights.py --target mmdet|mmseg|mmpretrain).
# Usage: tools/benchmarks/dist_finetune.sh CONFIG PRETRAIN GPUS [train.py args]
# e.g.   tools/benchmarks/dist_finetune.sh \
#            configs/benchmarks/mmdetection/mask-rcnn_r50_fpn_syncbn-1x_coco.py r50_mmdet.pth 8
set -e
CFG=$1
PRETRAIN=$2
GPUS=$3
[ -f "$PRETRAIN" ] || { echo "pretrained weights not found: $PRETRAIN" >&2; exit 1; }
# benchmark configs carry init_cfg=dict(type='Pretrained', checkpoint='', prefix=...)
bash "$(dirname "$0")/../dist_train.sh" "$CFG" "$GPUS" "${@:4}" \
    --cfg-options model.backbone.init_cfg.checkpoint="$PRETRAIN"
