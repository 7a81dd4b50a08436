#!/usr/bin/env bash
# One command for the tensorrt backend on a GPU machine: install, `gpuaudio plugins`, the
# @pytest.mark.gpu tests of tests/tensorrt (engine build, cache, accuracy) and the benchmark
# against the PyTorch crepe path in the same run. Results go to $OUT (or the first argument).
#
#   benchmarks/gpu_tensorrt.sh [OUT_DIR]
#
# Needs a Python with CUDA torch and TensorRT (PYTHON=..., default python3). gpuaudio, its
# crepe/tensorrt plugins and librosa are used as installed; where they are not (a bare GPU
# image), `benchmarks/gpu.sh install` installs them from the carried .whl/ first. A Python
# without the tensorrt module stops here with exit status 3 and what to do.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
OUT=${1:-${OUT:-benchmarks/results/tensorrt-$(date -u +%Y%m%d-%H%M%S)}}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_tensorrt.log") 2>&1

if ! "$PY" -c "import gpuaudio_crepe, gpuaudio_tensorrt, librosa" 2>/dev/null; then
  OUT="$OUT" PYTHON="$PY" benchmarks/gpu.sh install || { echo "install failed"; exit 2; }
  export PYTHONPATH="${SITE_DIR:-/tmp/gpuaudio-site}${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" -c "import sys, torch
sys.exit(0 if torch.cuda.is_available() else 'no CUDA device visible to torch: tensorrt needs one')" \
  || exit 2
if ! "$PY" -c "import tensorrt" 2>/dev/null; then
  cat <<MSG
tensorrt is not importable by $PY: the tensorrt backend cannot be built or measured here.
Install it into this Python first (its wheels are hundreds of MB, so carry or pre-install
them where the machine has no index), e.g.  $PY -m pip install 'tensorrt>=10'  or
pip install 'gpuaudio[tensorrt]', then run this script again. See docs/tensorrt.md.
MSG
  exit 3
fi

echo "== $(date -u +%H:%M:%S) device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.txt"
"$PY" -c "import tensorrt, torch; print('TensorRT', tensorrt.__version__, '| torch', torch.__version__)"
"$PY" -m gpuaudio.cli plugins | tee "$OUT/plugins.txt"

echo "== $(date -u +%H:%M:%S) pytest -m gpu tests/tensorrt"
timeout 900 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/tensorrt 2>&1 \
  | tee "$OUT/tensorrt-gpu-tests.txt"
tests=${PIPESTATUS[0]}

echo "== $(date -u +%H:%M:%S) benchmark: tensorrt vs PyTorch crepe, same run"
timeout 1500 "$PY" benchmarks/tensorrt_gpu.py ${TRT_BENCH_ARGS:-} --json "$OUT/tensorrt_gpu.json"
bench=$?
echo "== done: tests exit $tests, benchmark exit $bench; results in $OUT"
exit $(( tests != 0 || bench != 0 ))
