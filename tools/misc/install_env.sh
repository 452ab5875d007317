#!/usr/bin/env bash
# Idempotent environment set-up for mmvisrep: venv, torch, mmcv (built once from the PyPI
# sdist with ops and cached outside the repo), the OpenMMLab stack, and mmvisrep itself.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
CACHE=${MMVISREP_CACHE:-$HOME/.cache/mmvisrep}
STAMP=$VENV/.mmvisrep-installed

log() { echo "[install_env] $*"; }

if [ -f "$STAMP" ] && [ "$STAMP" -nt "$ROOT/requirements/runtime.txt" ] \
    && [ "$STAMP" -nt "$ROOT/tools/misc/install_env.sh" ]; then
  log "environment at $VENV is up to date"
  exit 0
fi

[ -x "$VENV/bin/python" ] || { log "creating venv at $VENV"; "$PY" -m venv "$VENV"; }
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade "pip<25"
log "torch $TORCH_VERSION / torchvision $TORCHVISION_VERSION"
$PIP install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
$PIP install -q -r "$ROOT/requirements/build.txt"

PYTAG=$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
WHEEL_DIR=$CACHE/wheels/mmcv-$MMCV_VERSION-torch-$TORCH_VERSION-$PYTAG
if ! ls "$WHEEL_DIR"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
  log "building mmcv $MMCV_VERSION with ops into $WHEEL_DIR (about 20 minutes on 2 cores)"
  BUILD=$(mktemp -d)
  trap 'rm -rf "$BUILD"' EXIT
  $PIP download -q --no-deps --no-binary :all: --no-build-isolation \
    "mmcv==$MMCV_VERSION" -d "$BUILD"
  tar -xzf "$BUILD"/mmcv-$MMCV_VERSION.tar.gz -C "$BUILD"
  # torch >= 2.6 headers require C++20
  sed -i 's/-std=c++17/-std=c++20/g' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
  mkdir -p "$WHEEL_DIR.partial"
  (cd "$BUILD/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} \
    "$VENV/bin/python" -m pip wheel --no-build-isolation --no-deps . -w "$WHEEL_DIR.partial")
  rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.partial" "$WHEEL_DIR"
fi
log "installing mmcv from $WHEEL_DIR"
$PIP install -q --no-deps "$WHEEL_DIR"/mmcv-$MMCV_VERSION-*.whl
# mmcv's own runtime deps (its wheel was installed without them)
$PIP install -q addict packaging Pillow pyyaml yapf
log "OpenMMLab stack and the rest"
$PIP install -q "mmengine==0.10.7" "mmdet==3.3.0" "mmpretrain==1.2.0" "mmsegmentation==1.2.2" \
  -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
# mmengine pulls opencv-python, which shadows the contrib build that has cv2.ximgproc.
$PIP uninstall -q -y opencv-python opencv-python-headless 2>/dev/null || true
$PIP install -q --force-reinstall --no-deps opencv-contrib-python-headless
"$VENV/bin/python" -c "import cv2; cv2.ximgproc.segmentation" || {
  log "cv2.ximgproc missing after install"; exit 1; }
log "mmvisrep (editable)"
$PIP install -q --no-deps --no-build-isolation -e "$ROOT"
"$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, mmpretrain.models, mmvisrep"
touch "$STAMP"
log "done"
