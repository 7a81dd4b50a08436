#!/usr/bin/env bash
# One command for the first GPU run of the crepe benchmarks and GPU tests:
#   benchmarks/gpu_crepe.sh [OUT_DIR]
# Needs a Python with CUDA torch, torchcrepe and librosa (PYTHON=..., default .venv/bin/python);
# installs gpuaudio and its librosa/crepe plugins editable without dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
OUT=${1:-${OUT:-out}}
mkdir -p "$OUT"
"$PY" -m pip install -q --no-deps -e . -e plugins/librosa -e plugins/crepe
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print(torch.cuda.get_device_name(0))"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt" || true
"$PY" -m pytest -q tests/crepe -m gpu -p no:cacheprovider 2>&1 | tee "$OUT/crepe_gpu_tests.txt"
"$PY" benchmarks/crepe_gpu.py --json "$OUT/crepe_gpu.json" 2>&1 | tee "$OUT/crepe_gpu.txt"
