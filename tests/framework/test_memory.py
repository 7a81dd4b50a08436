"""MemoryManager: sizing, halving on OOM, floor, provenance — with an injected memory probe."""

from __future__ import annotations

import pytest

from gpuaudio import GpuOutOfMemoryError
from gpuaudio.config import MemoryConfig
from gpuaudio.memory import MemoryManager, frame_chunks

GB = 2**30


class FakeOOM(RuntimeError):
    """What torch raises: a RuntimeError whose message says out of memory."""

    def __init__(self, size: int) -> None:
        super().__init__(f"CUDA out of memory. Tried to allocate for {size} items")


def gpu_manager(free_bytes: int, **config) -> tuple[MemoryManager, list[str]]:
    released: list[str] = []
    manager = MemoryManager(
        "cuda:7",  # never touched: every probe is injected
        MemoryConfig(**config),
        free_memory=lambda: free_bytes,
        release=lambda: released.append("released"),
        reset_peak=lambda: None,
        peak_memory=lambda: 123,
    )
    return manager, released


def fails_above(limit: int, seen: list[int]):
    def run(start: int, stop: int) -> list[int]:
        seen.append(stop - start)
        if stop - start > limit:
            raise FakeOOM(stop - start)
        return list(range(start, stop))

    return run


def test_batch_size_from_free_memory_and_limits():
    manager, _ = gpu_manager(40 * GB)
    assert manager.batch_size(10 * 2**20) == 2048  # 20 GB budget / 10 MB: capped at max_batch
    assert manager.batch_size(40 * 2**20) == 512  # 20 GB / 40 MB
    assert manager.batch_size(10 * 2**30) == 128  # never below min_batch
    assert manager.batch_size(1, n_items=37) == 37  # never more than there is


def test_low_free_memory_caps_at_min_batch():
    manager, _ = gpu_manager(int(1.5 * GB))
    assert manager.batch_size(1) == 128  # REQ-S-003, whatever the per-item size
    cpu = MemoryManager("cpu", free_memory=lambda: int(1.5 * GB))
    assert cpu.batch_size(1) == 2048  # the 2 GB rule is about GPUs


def test_oom_halves_and_retries_until_it_fits():
    manager, released = gpu_manager(40 * GB)
    seen: list[int] = []
    parts = manager.map_batches(fails_above(300, seen), 1000, 1)
    assert [x for part in parts for x in part] == list(range(1000))  # nothing lost or repeated
    assert seen[:4] == [1000, 500, 250, 250]
    assert manager.stats.retries == 2
    assert released == ["released", "released"]
    assert max(manager.stats.batch_sizes) <= 300
    assert manager.stats.peak_memory_bytes == 123


def test_oom_at_min_batch_raises_clear_error():
    manager, released = gpu_manager(40 * GB, min_batch=128)
    with pytest.raises(GpuOutOfMemoryError, match=r"batch of 128 items.*min_batch=128"):
        manager.map_batches(fails_above(100, []), 1000, 1)
    assert len(released) == 4  # 1000 -> 500 -> 250 -> 128 -> give up


def test_other_errors_propagate_untouched():
    manager, released = gpu_manager(40 * GB)

    def broken(start, stop):
        raise ValueError("a bug, not memory")

    with pytest.raises(ValueError, match="a bug"):
        manager.map_batches(broken, 10, 1)
    assert released == []


def test_cpu_manager_runs_everything_and_does_not_probe_gpu():
    manager = MemoryManager("cpu", MemoryConfig(max_batch=4, min_batch=1), free_memory=lambda: GB)
    parts = manager.map_batches(lambda a, b: (a, b), 10, 1)
    assert parts == [(0, 4), (4, 8), (8, 10)]
    assert manager.stats.sub_batches == 3
    assert manager.stats.peak_memory_bytes is None


def test_frame_chunks_cover_exactly():
    assert list(frame_chunks(10, 4)) == [(0, 4), (4, 8), (8, 10)]
    assert list(frame_chunks(3, 10)) == [(0, 3)]
    assert list(frame_chunks(0, 10)) == []
