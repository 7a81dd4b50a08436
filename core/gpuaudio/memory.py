"""MemoryManager: sub-batch sizing from free memory, halve-and-retry on OOM, chunk planning.

One manager per device, shared by every backend on it. It never allocates anything itself
(REQ-N-001): it only decides how many items a backend may process at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from gpuaudio import device as _device
from gpuaudio.config import MemoryConfig
from gpuaudio.errors import GpuOutOfMemoryError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class MemoryStats:
    """What the manager did during one backend call, for the result's provenance."""

    sub_batches: int = 0
    retries: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    peak_memory_bytes: int | None = None


class MemoryManager:
    """Runs a backend's batched function over N items in sub-batches that fit the device.

    The probes (`free_memory`, `release`, `out_of_memory`, `reset_peak`, `peak_memory`) default
    to the real device; tests inject fakes to exercise the GPU policy on a CPU machine.
    """

    def __init__(
        self,
        device: str,
        config: MemoryConfig | None = None,
        *,
        free_memory: Callable[[], int] | None = None,
        release: Callable[[], None] | None = None,
        out_of_memory: Callable[[BaseException], bool] = _device.is_out_of_memory,
        reset_peak: Callable[[], None] | None = None,
        peak_memory: Callable[[], int] | None = None,
    ) -> None:
        self.device = device
        self.config = config or MemoryConfig()
        self._free_memory = free_memory or (lambda: _device.free_memory_bytes(device))
        self._release = release or (lambda: _device.release_cached_memory(device))
        self._out_of_memory = out_of_memory
        self._reset_peak = reset_peak or (lambda: _device.reset_peak_memory(device))
        self._peak_memory = peak_memory or (lambda: _device.peak_memory_bytes(device))
        self.stats = MemoryStats()

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def free_bytes(self) -> int:
        """Free memory on the device now (available host memory for ``cpu``), as probed."""
        return self._free_memory()

    def items_fitting(self, bytes_per_item: int, *, reserved: int = 0) -> int:
        """Items of `bytes_per_item` that fit in ``memory_fraction`` of the free memory left
        after `reserved` bytes (already promised elsewhere, e.g. a result being assembled);
        0 when not even one does. No batch limits applied."""
        return self._fitting(self._free_memory() - reserved, bytes_per_item)

    def _fitting(self, free: int, bytes_per_item: int) -> int:
        return int(max(0, free) * self.config.memory_fraction) // max(1, bytes_per_item)

    def batch_size(self, bytes_per_item: int, n_items: int | None = None) -> int:
        """Items per sub-batch: `items_fitting`, within ``[min_batch, max_batch]``.

        With less than ``low_memory_mb`` free on a GPU the batch is capped at ``min_batch``
        (REQ-S-003). On the CPU host memory is a hard budget, not something to retry against:
        ``min_batch`` is no floor there, a sub-batch may be a single item.
        """
        cfg = self.config
        free = self._free_memory()
        fitting = self._fitting(free, bytes_per_item)
        if not self.on_gpu:
            size = max(1, min(cfg.max_batch, fitting))
        elif free < cfg.low_memory_mb * 2**20:
            size = cfg.min_batch
        else:
            size = max(cfg.min_batch, min(cfg.max_batch, fitting))
        return max(1, min(size, n_items)) if n_items is not None else size

    def map_batches(
        self, fn: Callable[[int, int], T], n_items: int, bytes_per_item: int
    ) -> list[T]:
        """Call ``fn(start, stop)`` over consecutive sub-batches covering ``range(n_items)``.

        On out-of-memory: release cached blocks, halve the batch and retry the same items
        (REQ-E-003), down to ``min_batch``; then raise `GpuOutOfMemoryError`.
        """
        self.stats = MemoryStats()
        if self.on_gpu:
            self._reset_peak()
        results: list[T] = []
        size = self.batch_size(bytes_per_item, n_items)
        start = 0
        while start < n_items:
            stop = min(start + size, n_items)
            try:
                results.append(fn(start, stop))
            except Exception as exc:
                if not self._out_of_memory(exc):
                    raise
                failed_size = stop - start
            else:
                self.stats.sub_batches += 1
                self.stats.batch_sizes.append(stop - start)
                start = stop
                continue
            # Outside the except block, so the failed batch's tensors are already unreferenced.
            self._release()
            if failed_size <= self.config.min_batch or failed_size == 1:
                raise GpuOutOfMemoryError(
                    f"out of memory on {self.device} at a batch of {failed_size} items "
                    f"(min_batch={self.config.min_batch}); free other GPU memory, lower "
                    "memory.min_batch, choose a smaller model, or set device='cpu'"
                )
            self.stats.retries += 1
            size = max(self.config.min_batch, failed_size // 2)
            log.info("OOM on %s at %d items; retrying with %d", self.device, failed_size, size)
        if self.on_gpu:
            self.stats.peak_memory_bytes = self._peak_memory()
        return results


def frame_chunks(n_frames: int, frames_per_chunk: int) -> Iterator[tuple[int, int]]:
    """Consecutive ``(first, stop)`` frame ranges of at most `frames_per_chunk` frames."""
    frames_per_chunk = max(1, frames_per_chunk)
    for first in range(0, n_frames, frames_per_chunk):
        yield first, min(first + frames_per_chunk, n_frames)
