"""Running a CPU F0 tracker over a batch in groups that the MemoryManager sizes."""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from gpuaudio import F0Frames
from gpuaudio.memory import MemoryManager


class Tracker(Protocol):
    """Tables of one configuration that track (batch, samples) float32 signals."""

    def bytes_per_window(self, n_samples: int) -> int: ...

    def run(self, y: np.ndarray) -> F0Frames: ...


def track_in_groups(
    memory: MemoryManager, tracker: Tracker, y: np.ndarray, threads: int = 1
) -> F0Frames:
    """`tracker.run` over `y` (..., samples) as float32 (batch, samples), in the groups that
    `memory` sizes from the tracker's per-signal work estimate; the parts joined.

    With `threads` > 1 each group's rows are shared out to that many threads (for a tracker
    whose rows are independent and whose numpy work releases the GIL): the same group, so the
    same memory, and the same answer row for row."""
    batch = np.asarray(y, dtype=np.float32).reshape(-1, y.shape[-1])
    parts = memory.map_batches(
        lambda start, stop: _run(tracker, batch[start:stop], threads),
        batch.shape[0],
        tracker.bytes_per_window(batch.shape[-1]),
    )
    return _joined(parts)


def cpu_threads() -> int:
    """Threads a CPU tracker may use: ``OMP_NUM_THREADS`` where set (a batch worker gets its
    share of the cores so), else the cores this process may run on."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


_ROWS_PER_THREAD = 16
"""Fewest rows worth a thread of their own (a one-second window tracks in ~2 ms)."""


def _run(tracker: Tracker, rows: np.ndarray, threads: int) -> F0Frames:
    n = min(threads, rows.shape[0] // _ROWS_PER_THREAD)
    if n <= 1:
        return tracker.run(rows)
    bounds = np.linspace(0, rows.shape[0], n + 1).astype(int)
    with ThreadPoolExecutor(n) as pool:
        parts = list(pool.map(tracker.run, [rows[a:b] for a, b in itertools.pairwise(bounds)]))
    return _joined(parts)


def _joined(parts: list[F0Frames]) -> F0Frames:
    return F0Frames(
        np.concatenate([p.f0 for p in parts]),
        np.concatenate([p.voiced_flag for p in parts]),
        np.concatenate([p.voiced_prob for p in parts]),
    )
