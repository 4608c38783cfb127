#!/usr/bin/env bash
# Idempotent set-up of the kd_plugins environment.
#
#   bash scripts/setup_env.sh            # or: make setup
#
# What it does, each step skipped when already done:
#   1. creates a virtual environment ($KD_VENV, default ./.venv) with $PYTHON (default python3);
#   2. installs torch if the environment has none ($KD_TORCH_SPEC, default torch==2.13.0; set
#      $KD_TORCH_INDEX_URL to a PyTorch wheel index to pick a CPU or CUDA build);
#   3. installs mmcv 2.0.1 with compiled ops: from a wheel cache keyed by the torch build
#      ($KD_CACHE_DIR/wheels/...), from ../shared/wheels beside the checkout when it exists, or from
#      any directory in $PIP_FIND_LINKS, and otherwise builds it
#      from the PyPI source with -std=c++17 (torch >= 2.1 headers need it; mmcv 2.0.1 hard-codes
#      c++14) and caches the built wheel, so the next set-up takes seconds. CUDA ops are built too
#      when torch sees CUDA. A cached wheel is only kept if its ops actually run with this torch,
#      on CUDA too where torch sees a GPU (scripts/check_mmcv_ops.py);
#   4. installs kd_plugins in editable mode with its pinned dependencies (setup.py).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${KD_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
CACHE=${KD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kd_plugins}
TORCH_SPEC=${KD_TORCH_SPEC:-torch==2.13.0}
MMCV_VERSION=2.0.1
JOBS=${MAX_JOBS:-$(nproc 2>/dev/null || echo 2)}

t0=$(date +%s)
log() { echo "[setup $(( $(date +%s) - t0 ))s] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
pipi() { "$PY" -m pip install --disable-pip-version-check "$@"; }

# mmcv 2.0.1's setup.py imports pkg_resources (gone from setuptools >= 81); torch 2.13 wants >= 77.
if ! "$PY" -c "import pkg_resources, wheel" 2>/dev/null; then
  log "installing build tools (setuptools<81, wheel)"
  pipi -q "setuptools>=69,<81" wheel
fi

if ! "$PY" -c "import torch" 2>/dev/null; then
  log "installing $TORCH_SPEC"
  if [ -n "${KD_TORCH_INDEX_URL:-}" ]; then
    pipi -q "$TORCH_SPEC" numpy --extra-index-url "$KD_TORCH_INDEX_URL"
  else
    pipi -q "$TORCH_SPEC" numpy
  fi
fi
read -r TORCH_VER CUDA_ON PYTAG < <("$PY" -c "import sys, torch; print(torch.__version__, int(torch.cuda.is_available()), 'cp%d%d' % sys.version_info[:2])")
log "torch $TORCH_VER (cuda available: $CUDA_ON), $PYTAG"

# A wheel with compiled ops is only valid for the torch build it was compiled against.
WHEELS="$CACHE/wheels/mmcv-$MMCV_VERSION-torch-${TORCH_VER//+/_}-$PYTAG-cuda$CUDA_ON"
# mmcv 2.0.1 whose NMS runs on the CPU and, where torch sees a GPU, on CUDA too (a wheel
# without CUDA kernels passes on the CPU and fails at the first validation on the GPU).
# The reason of the last failure is kept in $MMCV_WHY.
MMCV_WHY=""
mmcv_ok() {
  MMCV_WHY=$("$PY" "$ROOT/scripts/check_mmcv_ops.py" 2>&1 >/dev/null) && return 0
  MMCV_WHY=$(printf '%s\n' "$MMCV_WHY" | grep 'mmcv check:' | head -n 2 | tr '\n' ' ' || true)
  [ -n "$MMCV_WHY" ] || MMCV_WHY="scripts/check_mmcv_ops.py failed"
  return 1
}

# mmcv imports mmengine (and its numpy/opencv): without it no mmcv wheel can be checked.
if ! "$PY" -c "import mmengine" 2>/dev/null; then
  log "installing mmengine 0.10.7"
  pipi -q "mmengine==0.10.7"
fi

if mmcv_ok; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  installed=0
  links=("$WHEELS")
  # the team's prebuilt wheels beside the checkout (CI and the project machines have them)
  [ -d "$ROOT/../shared/wheels" ] && links+=("$(cd "$ROOT/../shared/wheels" && pwd)")
  for d in ${PIP_FIND_LINKS:-}; do links+=("$d"); done
  for d in "${links[@]}"; do
    [ -d "$d" ] || continue
    ls "$d"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1 || continue
    log "trying prebuilt mmcv from $d"
    if pipi -q --no-deps --no-index --force-reinstall --find-links "$d" "mmcv==$MMCV_VERSION" && mmcv_ok; then
      installed=1; log "mmcv $MMCV_VERSION installed from $d"; break
    fi
    log "the wheel in $d does not work with torch $TORCH_VER here ($MMCV_WHY); skipping it"
    "$PY" -m pip uninstall -q -y mmcv || true
  done
  if [ "$installed" = 0 ]; then
    log "building mmcv $MMCV_VERSION from source with -std=c++17 (about 10 min on 2 cores; CUDA ops: $CUDA_ON)"
    pipi -q ninja psutil
    build=$(mktemp -d)
    trap 'rm -rf "$build"' EXIT
    "$PY" -m pip download -q --no-deps --no-binary :all: -d "$build" "mmcv==$MMCV_VERSION"
    tar -xzf "$build"/mmcv-"$MMCV_VERSION".tar.gz -C "$build"
    src="$build/mmcv-$MMCV_VERSION"
    grep -q -- '-std=c++14' "$src/setup.py" || { echo "mmcv setup.py has no -std=c++14 flag to replace" >&2; exit 1; }
    sed -i 's/-std=c++14/-std=c++17/g' "$src/setup.py"
    mkdir -p "$WHEELS"
    (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=$CUDA_ON MAX_JOBS=$JOBS \
      "$PY" -m pip wheel -q --no-build-isolation --no-deps -w "$WHEELS" .)
    rm -rf "$build"
    pipi -q --no-deps --force-reinstall "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl
    mmcv_ok || { echo "mmcv $MMCV_VERSION was built but its ops do not run: $MMCV_WHY" >&2; exit 1; }
    log "mmcv built and cached in $WHEELS"
  fi
fi

# kd_plugins and its pinned dependencies; skipped when setup.py has not changed since the last run.
stamp="$VENV/.kd_plugins-setup"
want=$(sha256sum < "$ROOT/setup.py" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PY" -c "import kd_plugins" 2>/dev/null; then
  log "kd_plugins already installed"
else
  log "installing kd_plugins and its dependencies"
  pipi -q --no-build-isolation -e "$ROOT[tests,onnx]"
  echo "$want" > "$stamp"
fi
"$PY" -c "import kd_plugins; kd_plugins.compat.check_versions(verbose=True)"
log "done: activate with 'source $VENV/bin/activate'"
