"""The spec's F0 workload, shared by the crepe benchmarks: 42 minutes as 2,520 one-second windows.

The recording is speech-like (gpuaudio.evaluation.synth: voiced phrases and pauses) at 22,050 Hz,
librosa's default rate. A few distinct minutes are synthesised and tiled, which costs the
same to analyse as 42 distinct minutes.
"""

from __future__ import annotations

import platform
import sys
import types

import numpy as np

SR = 22050
WINDOWS_42_MIN = 2520
FMIN, FMAX = 50.0, 550.0


def windows(count: int = WINDOWS_42_MIN, seed: int = 0) -> np.ndarray:
    """(count, SR) float32 one-second windows of speech-like audio."""
    from gpuaudio.evaluation.synth import synthesize_speech

    minutes = min(3, max(1, -(-count // 60)))
    audio = np.concatenate(
        [
            synthesize_speech(60.0, SR, seed + m, base_f0=110 + 60 * (m % 2))[0]
            for m in range(minutes)
        ]
    )
    tiled = np.resize(audio, count * SR)
    return tiled.reshape(count, SR).astype(np.float32)


def import_torchcrepe() -> types.ModuleType:
    """Stock torchcrepe, with a stub torchaudio if the real one does not load (torch >= 2.12)."""
    try:
        import torchaudio  # noqa: F401
    except Exception:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import torchcrepe

    return torchcrepe


def machine() -> str:
    """CPU model and core count, torch version and GPU if any, for the results."""
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {gpu}"
