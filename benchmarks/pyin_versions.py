"""fastpyin against librosa.pyin under two interpreters side by side (librosa 0.11 and 1.0).

librosa 1.0 (what Python 3.12+ installs) decodes pyin with a sparse Viterbi, so fastpyin's lead
over it is smaller than over 0.11. This script runs the same N one-second windows
(`pyin_bench.speech_like_windows`, fmin 50, fmax 550, frame 2048) in a worker process per
interpreter, alternating the interpreters for `--rounds` rounds so both see the same machine
load. Each worker times librosa.pyin once per window (the spec's baseline loop), librosa.pyin on
the batch and fastpyin through `AudioFeatureService.extract_f0` on the batch (after warm-ups),
and checks fastpyin's outputs equal that librosa's bit for bit. Medians over rounds, ratios per
interpreter. Interpreters: `.venv` (made by .ci/run) and `.venv312` (made by .ci/py312).

Usage: ``python benchmarks/pyin_versions.py [--windows 60] [--rounds 3] [--python PATH ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from pyin_bench import PARAMS, SR, speech_like_windows, timed

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PYTHONS = [ROOT / ".venv" / "bin" / "python", ROOT / ".venv312" / "bin" / "python"]


def worker(n_windows: int) -> dict[str, Any]:
    """One round in this interpreter: the three timings and the identity check."""
    from importlib.metadata import version

    import librosa

    from gpuaudio import AudioFeatureService

    windows = speech_like_windows(n_windows)
    service = AudioFeatureService({"backends": {"f0": "fastpyin"}, "fallback": False})
    service.extract_f0(windows[:2], SR, **PARAMS)  # numba kernels loaded (or compiled)
    librosa.pyin(windows[:2], sr=SR, **PARAMS)  # librosa's own numba warm-up

    loop, loop_s = timed(lambda: [librosa.pyin(w, sr=SR, **PARAMS) for w in windows])
    batch, batch_s = timed(librosa.pyin, windows, sr=SR, **PARAMS)
    fast, fast_s = timed(service.extract_f0, windows, SR, **PARAMS)
    reference = [np.stack([r[i] for r in loop]) for i in range(3)]
    return {
        "python": platform.python_version(),
        "librosa": librosa.__version__,
        "numba": version("numba"),
        "numpy": np.__version__,
        "loop_s": loop_s,
        "batch_s": batch_s,
        "fast_s": fast_s,
        "identical": all(
            np.array_equal(ours, theirs, equal_nan=ours.dtype.kind == "f")
            for ours, batched, looped in zip(fast, batch, reference, strict=True)
            for theirs in (batched, looped)
        ),
        "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", action="append", type=Path, help="interpreter (repeatable)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.windows)))
        return

    pythons = args.python or DEFAULT_PYTHONS
    missing = [str(p) for p in pythons if not p.exists()]
    if missing:
        sys.exit(f"no interpreter at {', '.join(missing)} (run .ci/run and .ci/py312 first)")
    print(f"{args.windows} windows x 1 s at {SR} Hz; {PARAMS}; {args.rounds} rounds, alternating")
    from gpuaudio.evaluation.bench import _cpu_model

    print(f"machine: {_cpu_model()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    runs: dict[Path, list[dict[str, Any]]] = {p: [] for p in pythons}
    for _ in range(args.rounds):
        for python in pythons:
            done = subprocess.run(
                [str(python), __file__, "--worker", "--windows", str(args.windows)],
                capture_output=True, text=True, check=True, cwd=ROOT,
            )  # fmt: skip
            runs[python].append(json.loads(done.stdout.splitlines()[-1]))

    print("| Python | librosa | numba | librosa.pyin per window (s) | librosa.pyin batched (s) "
          "| fastpyin (s) | fastpyin vs per-window | fastpyin vs batched | identical |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|")
    for rounds in runs.values():
        loop, batch, fast = (statistics.median(r[k] for r in rounds)
                             for k in ("loop_s", "batch_s", "fast_s"))
        first = rounds[0]
        print(f"| {first['python']} | {first['librosa']} | {first['numba']} | {loop:.2f} | "
              f"{batch:.2f} | {fast:.2f} | {loop / fast:.1f}x | {batch / fast:.1f}x | "
              f"{all(r['identical'] for r in rounds)} |")
    loads = [r["load"] for rounds in runs.values() for r in rounds]
    print(f"load average during the rounds: {min(loads):.2f}-{max(loads):.2f}")


if __name__ == "__main__":
    main()
