"""CPU benchmark of the crepe backend (tiny) against stock torchcrepe.predict and librosa.pyin.

The spec's workload is 2,520 one-second windows (42 minutes at 22,050 Hz), F0 with a 2048-sample
frame and 512-sample hop (``AudioFeatureService.extract_f0_windows``). On a small CPU the three
methods run on the first ``--windows`` windows, in the same run, and the times are scaled
linearly to 2,520 windows (each method's cost is linear in the number of windows):

- gpuaudio crepe tiny: one ``extract_f0_windows`` call over all windows (batched);
- stock ``torchcrepe.predict`` (tiny, viterbi, hop 512): one call per window, as a per-window
  analysis would call it;
- ``librosa.pyin`` per window: the spec's current baseline.

    python benchmarks/crepe_cpu.py --windows 63 --json out/crepe_cpu.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from crepe_workload import FMAX, FMIN, SR, WINDOWS_42_MIN, import_torchcrepe, machine, windows


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def run(count: int) -> dict[str, Any]:
    """Seconds per method on `count` windows and scaled to 2,520."""
    import librosa
    import torch

    from gpuaudio import AudioFeatureService

    batch = windows(count)
    service = AudioFeatureService(
        {"device": "cpu", "backends": {"f0": "crepe"}, "crepe": {"model": "tiny"}}
    )
    service.extract_f0_windows(batch[:2], SR, fmin=FMIN, fmax=FMAX)  # load the model
    torchcrepe = import_torchcrepe()

    def stock() -> list[Any]:
        return [
            torchcrepe.predict(
                torch.from_numpy(w)[None],
                SR,
                512,
                FMIN,
                FMAX,
                "tiny",
                return_periodicity=True,
                device="cpu",
            )
            for w in batch
        ]

    def pyin() -> list[Any]:
        return [librosa.pyin(w, fmin=FMIN, fmax=FMAX, sr=SR) for w in batch]

    # Warm numba (pyin) and torchcrepe's model cache outside the timings.
    librosa.pyin(batch[0], fmin=FMIN, fmax=FMAX, sr=SR)
    torchcrepe.predict(torch.from_numpy(batch[0])[None], SR, 512, FMIN, FMAX, "tiny")
    seconds = {
        "gpuaudio crepe tiny (batched)": _timed(
            lambda: service.extract_f0_windows(batch, SR, fmin=FMIN, fmax=FMAX)
        )[0],
        "torchcrepe.predict tiny (per window)": _timed(stock)[0],
        "librosa.pyin (per window)": _timed(pyin)[0],
    }
    scale = WINDOWS_42_MIN / count
    return {
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "windows_measured": count,
        "scale_to_2520": scale,
        "seconds_measured": seconds,
        "seconds_2520_scaled": {k: v * scale for k, v in seconds.items()},
    }


def markdown(result: dict[str, Any]) -> str:
    """A table of scaled seconds and speed-ups over the librosa baseline and stock torchcrepe."""
    scaled = result["seconds_2520_scaled"]
    baseline = scaled["librosa.pyin (per window)"]
    stock = scaled["torchcrepe.predict tiny (per window)"]
    lines = [
        f"{result['machine']}; {result['threads']} torch threads; "
        f"{result['windows_measured']} windows measured, scaled x{result['scale_to_2520']:.1f}",
        "",
        "| method | 42 min (s, scaled) | vs librosa.pyin | vs torchcrepe.predict |",
        "|---|---:|---:|---:|",
    ]
    for label, value in scaled.items():
        lines.append(f"| {label} | {value:.1f} | {baseline / value:.1f}x | {stock / value:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=63, help="windows measured (2.5%% default)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.windows)
    print(markdown(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
