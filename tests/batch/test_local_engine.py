"""The local engine: in-process and spawned workers, retries after a killed worker, GPU pinning,
and 1 or 2 workers giving the same tables."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gpuaudio.batch import run_batch
from gpuaudio.batch.local_engine import LocalEngine
from gpuaudio.batch.tables import RECORDINGS_PARQUET, SEGMENTS_PARQUET, WINDOWS_PARQUET
from gpuaudio.device import DeviceInfo, GpuInfo
from gpuaudio.errors import BatchEngineError, ConfigError

HERE = Path(__file__).parent


@pytest.fixture
def tasks(monkeypatch):
    """The helper tasks, importable by spawned workers (they get this sys.path)."""
    monkeypatch.syspath_prepend(str(HERE))
    import engine_tasks

    return engine_tasks


def _gpus(count: int) -> DeviceInfo:
    gpus = tuple(GpuInfo(i, f"Fake GPU {i}", (9, 0), 80 << 30, 70 << 30) for i in range(count))
    return DeviceInfo(True, "2.x", True, "12.4", gpus)


def test_defaults_one_worker_per_gpu_each_pinned_before_torch(tasks, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    engine = LocalEngine(device_probe=lambda: _gpus(2))
    assert (engine.workers, engine.pins) == (2, ["0", "1"])
    results = dict(engine.map_unordered(tasks.where, list(range(4))))
    assert sorted(results) == [0, 1, 2, 3]
    assert {gpu for _, gpu, _ in results.values()} == {"0", "1"}
    assert not any(torch for _, _, torch in results.values())
    assert "CUDA_VISIBLE_DEVICES" not in os.environ  # the parent's environment is untouched


@pytest.mark.parametrize("device", ["cuda:1", "cpu"])
def test_a_config_naming_the_device_keeps_workers_unpinned(monkeypatch, device):
    """With cuda:1 every worker uses GPU 1: one pinned to GPU 0 would see no cuda:1."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert LocalEngine(device=device, device_probe=lambda: _gpus(2)).workers == 1
    engine = LocalEngine(workers=2, device=device, device_probe=lambda: _gpus(2))
    assert engine.pins == [None, None]
    assert LocalEngine(workers=2, device="cuda", device_probe=lambda: _gpus(2)).pins == ["0", "1"]


def test_workers_share_the_cores_unless_the_user_sized_the_pools(tasks, monkeypatch):
    """N workers each sizing BLAS/OpenMP/numba pools to every core would oversubscribe them."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")  # the user's choice stays
    engine = LocalEngine(workers=2, device_probe=DeviceInfo)
    share = str(max(1, (os.cpu_count() or 1) // 2))
    results = {item: (omp, numba) for _, (item, omp, numba) in
               engine.map_unordered(tasks.thread_pools, [0, 1])}
    assert results == {0: (share, "1"), 1: (share, "1")}
    assert "OMP_NUM_THREADS" not in os.environ  # the parent's environment is untouched


def test_pins_follow_an_existing_visible_list_and_one_gpu_is_not_pinned(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert LocalEngine(device_probe=lambda: _gpus(2)).pins == ["3", "5"]
    assert LocalEngine(workers=3, device_probe=lambda: _gpus(2)).pins == ["3", "5", "3"]
    assert LocalEngine(device_probe=lambda: _gpus(1)).workers == 1
    assert LocalEngine(workers=2, device_probe=lambda: _gpus(1)).pins == [None, None]
    assert LocalEngine(device_probe=lambda: DeviceInfo()).workers == 1
    with pytest.raises(ConfigError, match="at least one worker"):
        LocalEngine(workers=0, device_probe=DeviceInfo)


def test_a_killed_worker_is_replaced_and_its_item_retried_once(tasks, tmp_path):
    engine = LocalEngine(workers=2, retries=1, device_probe=DeviceInfo)
    results = list(engine.map_unordered(tasks.DieOnce(str(tmp_path), victim=2), list(range(6))))
    items = [item for item, _ in results]
    assert sorted(items) == list(range(6))  # every item once: no duplicate, none lost
    assert all(item == value for item, (value, _) in results)
    attempts = sorted(path.name for path in tmp_path.glob("attempt-2-*"))
    assert attempts == ["attempt-2-0", "attempt-2-1"]
    engine.close()  # a second close is harmless


def test_an_item_that_kills_every_worker_is_given_up_naming_it(tasks):
    engine = LocalEngine(workers=2, retries=1, device_probe=DeviceInfo)
    with pytest.raises(BatchEngineError, match=r"^3: its worker process died 2 times"):
        list(engine.map_unordered(tasks.AlwaysDie(victim=3), list(range(5))))
    assert engine._processes == []  # closed: no worker left behind


def test_a_task_that_raises_ends_the_batch_with_the_traceback(tasks):
    engine = LocalEngine(workers=2, device_probe=DeviceInfo)
    with pytest.raises(BatchEngineError, match="ZeroDivisionError: bug at item"):
        list(engine.map_unordered(tasks.broken, [1, 2]))


def test_stopping_the_iteration_stops_busy_workers_at_once(tasks):
    engine = LocalEngine(workers=2, device_probe=DeviceInfo)
    results = engine.map_unordered(tasks.sleepy, [0, 1, 2, 3])
    assert next(results) == (0, 0)
    workers = [worker.process for worker in engine._processes]
    results.close()  # what Ctrl-C in the loop over the results does
    assert workers and not any(process.is_alive() for process in workers)
    # stopped mid-task (SIGTERM: 143), not left to finish their minute-long items (exit 0)
    assert all(process.exitcode not in (0, None) for process in workers)
    assert engine._processes == []


def test_sigterm_ends_a_worker_even_inside_the_backend_fallback(tasks):
    """The service catches a backend's SystemExit and tries the next backend: a SIGTERM that
    lands inside a backend must still end the worker (143), not be taken for a failed
    backend (the worker would carry on until the parent's join gives up and kills it: -9)."""
    engine = LocalEngine(workers=2, device_probe=DeviceInfo)
    results = engine.map_unordered(tasks.stubborn, [0, 1, 2, 3])
    assert next(results) == (0, 0)
    workers = [worker.process for worker in engine._processes]
    results.close()
    assert [process.exitcode for process in workers] == [143, 143]


def test_one_and_two_workers_give_the_same_tables(archive, corrupt, tmp_path):
    corrupt(archive / "broken.wav")
    tables = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        summary = run_batch([archive], out, workers=workers, windows=True, progress=False)
        assert (summary.ok, summary.failed) == (3, 1)
        tables[workers] = [
            pq.read_table(out / name).drop_columns(["seconds"] if name == RECORDINGS_PARQUET
                                                   else []).to_pylist()
            for name in (RECORDINGS_PARQUET, SEGMENTS_PARQUET, WINDOWS_PARQUET)
        ]
    assert tables[1] == tables[2]
    for workers in (1, 2):
        for name in ("site1__call", "talk"):
            assert (tmp_path / f"out{workers}" / name / "windows.csv").read_bytes() == (
                tmp_path / "out1" / name / "windows.csv"
            ).read_bytes()


def test_a_worker_holds_no_item_it_has_not_started_while_another_idles(tasks, tmp_path):
    """Item 0 blocks until item 2 has run: items 1 and 2 must go to the other worker, not
    wait queued behind item 0."""
    engine = LocalEngine(workers=2, device_probe=DeviceInfo)
    results = {item: (pid, ok) for _, (item, pid, ok) in
               engine.map_unordered(tasks.WaitForLast(str(tmp_path), last=2), [0, 1, 2])}
    assert all(ok for _, ok in results.values())
    assert results[1][0] == results[2][0] != results[0][0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_worker_with_nothing_left_ends_while_the_others_still_work(tasks, tmp_path):
    engine = LocalEngine(workers=2, device_probe=DeviceInfo)
    results = dict(engine.map_unordered(tasks.WaitForOtherExit(str(tmp_path)), [0, 1]))
    assert results == {0: True, 1: True}


def test_workers_end_with_code_0_without_the_interpreters_teardown(tasks, tmp_path):
    """The parent writes the tables after the workers are gone: a worker done with its items
    exits at once (its outputs are written and closed), not after unloading every library."""
    engine = LocalEngine(workers=2, device_probe=DeviceInfo)
    results = engine.map_unordered(tasks.MarkAtExit(str(tmp_path)), [0, 1, 2])
    items = [next(results)[0]]
    workers = [worker.process for worker in engine._processes]
    items += [item for item, _ in results]
    assert sorted(items) == [0, 1, 2]
    assert [process.exitcode for process in workers] == [0, 0]
    assert list(tmp_path.iterdir()) == []  # no exit handler ran
