"""Running a CPU F0 tracker over a batch in groups that the MemoryManager sizes."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from gpuaudio import F0Frames
from gpuaudio.memory import MemoryManager


class Tracker(Protocol):
    """Tables of one configuration that track (batch, samples) float32 signals."""

    def bytes_per_window(self, n_samples: int) -> int: ...

    def run(self, y: np.ndarray) -> F0Frames: ...


def track_in_groups(memory: MemoryManager, tracker: Tracker, y: np.ndarray) -> F0Frames:
    """`tracker.run` over `y` (..., samples) as float32 (batch, samples), in the groups that
    `memory` sizes from the tracker's per-signal work estimate; the parts joined."""
    batch = np.asarray(y, dtype=np.float32).reshape(-1, y.shape[-1])
    parts = memory.map_batches(
        lambda start, stop: tracker.run(batch[start:stop]),
        batch.shape[0],
        tracker.bytes_per_window(batch.shape[-1]),
    )
    return F0Frames(
        np.concatenate([p.f0 for p in parts]),
        np.concatenate([p.voiced_flag for p in parts]),
        np.concatenate([p.voiced_prob for p in parts]),
    )
