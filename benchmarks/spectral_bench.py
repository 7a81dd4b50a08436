"""Mel spectrogram of a 42-minute recording: librosa vs the nnaudio and torch backends.

All in one run on one machine, so the ratios compare like with like. The input is a synthetic
recording (noise + tones), float32 on the host; on a GPU the timed call includes the
host-to-device copy and the copy of the result back (the service returns numpy).

    python benchmarks/spectral_bench.py                  # CPU (backends named on CPU)
    python benchmarks/spectral_bench.py --device cuda    # GPU run (also times librosa on CPU)
    python benchmarks/spectral_bench.py --minutes 5 --repeats 1 --json out.json

Prints a markdown table; --json writes the numbers with a description of the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SR = 22050
MEL = {"n_fft": 2048, "hop_length": 512, "n_mels": 128}


def recording(minutes: float, seed: int = 0) -> np.ndarray:
    """Noise plus a few slowly gliding tones, float32, like a long room recording."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * SR)
    t = np.arange(n, dtype=np.float64) / SR
    y = 0.02 * rng.standard_normal(n)
    for f in (110.0, 220.0, 440.0):
        y += 0.1 * np.sin(2 * np.pi * f * t + 3 * np.sin(2 * np.pi * 0.05 * t))
    return y.astype(np.float32)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of `repeats` calls after one warm-up call (layers built, JIT done)."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def machine(device: str) -> str:
    import torch

    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)}; host {cpu}; torch {torch.__version__}"
    return f"CPU only: {cpu}; torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=42.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--precisions", default="fp32", help="comma list, e.g. fp32,fp16")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    import librosa

    from gpuaudio import AudioFeatureService

    y = recording(args.minutes)
    ref_seconds, ref = timed(
        lambda: librosa.feature.melspectrogram(y=y, sr=SR, **MEL), args.repeats
    )
    rows = [
        {
            "backend": "librosa (CPU)",
            "precision": "fp64/fp32",
            "seconds": ref_seconds,
            "speedup": 1.0,
            "rel_error": 0.0,
        }
    ]
    for backend in ("nnaudio", "torch"):
        for precision in args.precisions.split(","):
            svc = AudioFeatureService(
                {
                    "device": args.device,
                    "precision": precision,
                    "fallback": False,
                    "backends": {"mel": backend},
                }
            )
            seconds, mel = timed(lambda svc=svc: svc.melspectrogram(y, SR, **MEL), args.repeats)
            error = float(np.max(np.abs(mel - ref)) / np.max(np.abs(ref)))
            rows.append(
                {
                    "backend": f"{backend} ({svc.provenance['mel'].device})",
                    "precision": precision,
                    "seconds": seconds,
                    "speedup": ref_seconds / seconds,
                    "rel_error": error,
                }
            )

    described = machine(args.device)
    print(f"Mel spectrogram, {args.minutes:g} min at {SR} Hz, {MEL}; {described}")
    print(f"median of {args.repeats} after a warm-up call\n")
    print("| backend | precision | seconds | vs librosa | max rel. error |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['backend']} | {row['precision']} | {row['seconds']:.3f} | "
            f"{row['speedup']:.1f}x | {row['rel_error']:.1e} |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {
                    "machine": described,
                    "minutes": args.minutes,
                    "sr": SR,
                    "mel": MEL,
                    "repeats": args.repeats,
                    "rows": rows,
                },
                out,
                indent=2,
            )


if __name__ == "__main__":
    main()
