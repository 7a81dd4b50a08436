"""fastpyin vs librosa.pyin on N one-second windows of speech-like audio at 22050 Hz.

Three timings in one run, same windows, same parameters (fmin=50, fmax=550, frame_length=2048,
hop 512, librosa's defaults otherwise):

1. librosa.pyin called once per window (the spec's baseline loop);
2. librosa.pyin called once on the whole (N, 22050) batch;
3. fastpyin through ``AudioFeatureService.extract_f0`` on the batch (after one warm-up call
   that loads the numba kernels; the compile/load time is printed separately).

It also checks that fastpyin's outputs equal librosa's, and extrapolates to the spec's 2,520
windows (a 42-minute recording). Usage: ``python benchmarks/pyin_bench.py [--windows 200]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

SR = 22050
PARAMS: dict[str, Any] = {"fmin": 50.0, "fmax": 550.0, "frame_length": 2048}
SPEC_WINDOWS = 2520


def speech_like_windows(n_windows: int, seed: int = 0) -> np.ndarray:
    """Harmonic 'vowels' with vibrato and pitch glides, pauses and breath noise (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    windows = np.empty((n_windows, SR), dtype=np.float32)
    for i in range(n_windows):
        f0 = rng.uniform(90, 250) * (1 + 0.15 * (t - 0.5) * rng.uniform(-1, 1))
        f0 = f0 * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(4, 7) * t))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        voice = sum(np.sin(k * phase) * rng.uniform(0.3, 1) / k for k in range(1, 10))
        envelope = np.ones(SR)
        gap = rng.integers(0, SR - SR // 4)
        envelope[gap : gap + rng.integers(SR // 20, SR // 4)] = 0.0  # a pause
        windows[i] = 0.2 * voice * envelope + 0.01 * rng.standard_normal(SR)
    return windows


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """fn's result and its wall-clock seconds."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=200)
    args = parser.parse_args()

    import librosa

    from gpuaudio import AudioFeatureService

    windows = speech_like_windows(args.windows)
    print(f"{args.windows} windows x 1 s at {SR} Hz; {PARAMS}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )

    service = AudioFeatureService({"backends": {"f0": "fastpyin"}, "fallback": False})
    _, warmup = timed(service.extract_f0, windows[:2], SR, **PARAMS)
    librosa.pyin(windows[0], sr=SR, **PARAMS)  # librosa's own numba warm-up

    loop_results, loop_s = timed(lambda: [librosa.pyin(w, sr=SR, **PARAMS) for w in windows])
    batch_result, batch_s = timed(librosa.pyin, windows, sr=SR, **PARAMS)
    fast_result, fast_s = timed(service.extract_f0, windows, SR, **PARAMS)

    reference = [np.stack([r[i] for r in loop_results]) for i in range(3)]
    identical = all(
        np.array_equal(ours, ref, equal_nan=ours.dtype.kind == "f")
        for ours, ref in zip(fast_result, reference, strict=True)
    )
    batch_identical = all(
        np.array_equal(ours, ref, equal_nan=ours.dtype.kind == "f")
        for ours, ref in zip(batch_result, reference, strict=True)
    )

    scale = SPEC_WINDOWS / args.windows
    print(f"fastpyin first call (numba load/compile + 2 windows): {warmup:.2f} s")
    print(f"{'method':34} {'seconds':>9} {'ms/window':>10} {'x2520 (s)':>10} {'speed-up':>9}")
    for name, seconds in (
        ("librosa.pyin per window (baseline)", loop_s),
        ("librosa.pyin batched", batch_s),
        ("fastpyin (service, batched)", fast_s),
    ):
        print(
            f"{name:34} {seconds:9.2f} {1000 * seconds / args.windows:10.1f} "
            f"{seconds * scale:10.1f} {loop_s / seconds:8.1f}x"
        )
    print(f"fastpyin vs librosa batched: {batch_s / fast_s:.1f}x")
    print(
        f"outputs identical to the per-window loop: fastpyin {identical}, "
        f"librosa batched {batch_identical}"
    )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
