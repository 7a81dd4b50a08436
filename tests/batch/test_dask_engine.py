"""The Dask engine (gpuaudio.batch.dask_engine) on real clusters: a LocalCluster of two worker
processes, and a `dask scheduler` + `dask worker` started as subprocesses and reached by address;
`run_batch` through both gives the local engine's tables, bit for bit.

The toy tasks are functions of this file. Test folders are not packages, so a worker could not
import this module by name: each task is wrapped by `by_value`, which plain pickle refuses, so
Dask ships it with cloudpickle, by value (as it does a script's ``__main__`` functions). Each
cluster start costs seconds on two cores, hence the module-scoped fixtures.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import distributed
import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from gpuaudio.batch import run_batch
from gpuaudio.batch.dask_engine import DaskEngine
from gpuaudio.batch.local_engine import thread_limits
from gpuaudio.batch.tables import RECORDINGS_PARQUET, SEGMENTS_PARQUET, WINDOWS_PARQUET
from gpuaudio.cli.main import main
from gpuaudio.device import DeviceInfo, GpuInfo
from gpuaudio.errors import BatchEngineError, ConfigError
from gpuaudio.evaluation.synth import CALM, ESCALATED, synthesize_speech

# -- toy tasks (run on the workers) --------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")


def by_value(function: Callable[[T], R]) -> Callable[[T], R]:
    """The function in a local wrapper: pickle cannot import it by name, cloudpickle copies it."""

    def task(item: T) -> R:
        return function(item)

    return task


@by_value

def square_slowly(x: int) -> tuple[int, int]:
    """x squared after 0.3 s, and the worker process that computed it."""
    time.sleep(0.3)
    return x * x, os.getpid()


@by_value
def recorded_run(item: tuple[str, str, float]) -> tuple[str, int]:
    """Record the run in FOLDER/runs, sleep, return (name, pid). A name starting with "hang"
    writes FOLDER/<name>.pid on its first run and then hangs, waiting to be killed."""
    folder, name, seconds = Path(item[0]), item[1], item[2]
    (folder / "runs").mkdir(exist_ok=True)
    (folder / "runs" / f"{name}.{uuid.uuid4().hex}").touch()
    marker = folder / f"{name}.pid"
    if name.startswith("hang") and not marker.exists():
        partial = folder / f"{name}.pid.partial"
        partial.write_text(str(os.getpid()))
        partial.rename(marker)
        time.sleep(600)
    time.sleep(seconds)
    return name, os.getpid()


@by_value
def fail(x: int) -> int:
    """Raise for every x but 0."""
    if x:
        raise ValueError(f"toy failure of {x}")
    return x


@by_value
def kill_own_worker(x: int) -> int:
    """End the worker process running it, like the kernel's OOM killer would."""
    os.kill(os.getpid(), signal.SIGKILL)
    return x


# -- helpers and fixtures --------------------------------------------------------------------------


def has_exit_plugin(engine: DaskEngine) -> list[bool]:
    """Whether each worker of the engine's cluster holds gpuaudio's exit-at-close plugin."""

    def has(dask_worker: distributed.Worker) -> bool:  # local: sent by value
        return "gpuaudio-exit-at-close" in dask_worker.plugins

    return list(engine.client.run(has).values())


def runs_of(folder: Path, name: str) -> int:
    return len(list((folder / "runs").glob(f"{name}.*")))


def scheduler_task_count(engine: DaskEngine) -> int:
    return int(engine.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture(scope="module")
def local_engine() -> Iterator[DaskEngine]:
    """A DaskEngine on its own LocalCluster: two single-threaded worker processes."""
    engine = DaskEngine(workers=2, retries=2)
    yield engine
    engine.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _dask_cli(folder: Path, *, worker_args: list[str] | None) -> Iterator[str]:
    """`dask scheduler` (and, unless `worker_args` is None, one `dask worker` with them) as
    subprocesses on 127.0.0.1; yields the scheduler's address once it answers (and the worker
    has joined). Each command is killed with the processes it started (its own session)."""
    dask_cli = str(Path(sys.executable).parent / "dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    commands = [
        [dask_cli, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
         "--no-dashboard"],
    ]
    if worker_args is not None:
        commands.append([dask_cli, "worker", address, "--nworkers", "1", "--nthreads", "1",
                         "--no-dashboard", "--local-directory", str(folder), *worker_args])
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for i, command in enumerate(commands):
            with open(folder / f"{i}.log", "wb") as log:
                processes.append(subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                ))
        with distributed.Client(address, timeout=60) as client:
            if worker_args is not None:
                client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dask scheduler` and one `dask worker --resources GPU=1` as subprocesses on 127.0.0.1."""
    with _dask_cli(tmp_path_factory.mktemp("dask-cluster"), worker_args=["--resources", "GPU=1"]
                   ) as address:
        yield address


# -- tests -----------------------------------------------------------------------------------------


def test_local_cluster_yields_each_item_once_from_two_worker_processes(
    local_engine: DaskEngine,
) -> None:
    items = list(range(8))
    results = list(local_engine.map_unordered(square_slowly, items))
    assert sorted(item for item, _ in results) == items
    assert all(value == item * item for item, (value, _) in results)
    pids = {pid for _, (_, pid) in results}
    assert len(pids) == 2 and os.getpid() not in pids


def test_empty_batch_yields_nothing(local_engine: DaskEngine) -> None:
    assert list(local_engine.map_unordered(square_slowly, [])) == []


def test_task_on_a_killed_worker_is_recomputed_and_yielded_once(
    local_engine: DaskEngine, tmp_path: Path
) -> None:
    items = [(str(tmp_path), name, 0.2) for name in ("hang", "a", "b", "c")]
    killed: list[int] = []

    def kill_when_started() -> None:
        marker = tmp_path / "hang.pid"
        if wait_until(marker.exists, timeout=60):
            killed.append(int(marker.read_text()))
            os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    results = list(local_engine.map_unordered(recorded_run, items))
    killer.join()
    assert killed, "the hanging task never started"
    assert sorted(name for name, _ in (result for _, result in results)) == ["a", "b", "c", "hang"]
    assert [item for item, _ in results].count(items[0]) == 1
    assert runs_of(tmp_path, "hang") == 2  # the killed run and the one that finished
    hang_pid = next(pid for name, pid in (result for _, result in results) if name == "hang")
    assert hang_pid != killed[0]


def test_task_raising_ends_the_iteration_with_the_item_named(local_engine: DaskEngine) -> None:
    with pytest.raises(BatchEngineError, match=r"task for 3 failed .* after 2 retries") as caught:
        dict(local_engine.map_unordered(fail, [0, 3]))
    assert isinstance(caught.value.__cause__, ValueError)
    assert "toy failure of 3" in str(caught.value)


def test_closing_early_cancels_the_pending_tasks(local_engine: DaskEngine, tmp_path: Path) -> None:
    items = [(str(tmp_path), f"t{i}", 0.5) for i in range(20)]
    iterator = local_engine.map_unordered(recorded_run, items)
    next(iterator)
    iterator.close()  # what a Ctrl-C in the consumer's loop does
    assert wait_until(lambda: scheduler_task_count(local_engine) == 0, timeout=10)
    time.sleep(1.0)  # anything still scheduled would start now
    started = len(list((tmp_path / "runs").iterdir()))
    assert started <= 6, f"{started} of 20 tasks ran after the iterator was closed"


def test_failure_cancels_the_rest_of_the_batch(local_engine: DaskEngine) -> None:
    with pytest.raises(BatchEngineError):
        dict(local_engine.map_unordered(fail, [1] + [0] * 30))
    assert wait_until(lambda: scheduler_task_count(local_engine) == 0, timeout=10)


def test_worker_deaths_past_the_retry_limit_name_the_item() -> None:
    given_up = r"task for 7 was given up after 1 Dask workers died"
    with DaskEngine(workers=1, retries=0) as engine, pytest.raises(
        BatchEngineError, match=given_up
    ) as caught:
        dict(engine.map_unordered(kill_own_worker, [7]))
    assert type(caught.value.__cause__).__name__ == "KilledWorker"


def test_existing_scheduler_by_address_with_gpu_resources(
    scheduler_address: str, tmp_path: Path
) -> None:
    items = [(str(tmp_path), f"r{i}", 0.0) for i in range(5)]
    with DaskEngine(address=scheduler_address, resources={"GPU": 1}) as engine:
        results = list(engine.map_unordered(recorded_run, items))
        assert len(engine.client.scheduler_info()["workers"]) == 1
        assert has_exit_plugin(engine) == [False]  # the user's workers are left as they are
    assert sorted(item for item, _ in results) == items
    assert all(runs_of(tmp_path, name) == 1 for _, name, _ in items)
    assert len({pid for _, (_, pid) in results}) == 1  # the one worker, one task at a time


def test_a_scheduler_without_workers_is_an_error_not_a_wait_forever(tmp_path: Path) -> None:
    with (
        _dask_cli(tmp_path, worker_args=None) as address,
        pytest.raises(BatchEngineError, match=r"has no workers .*dask worker"),
    ):
        DaskEngine(address=address, worker_wait_s=1.0)


def test_resources_no_worker_offers_are_an_error(scheduler_address: str) -> None:
    """The fixture's worker offers GPU=1, not TPU: the tasks could never run."""
    with pytest.raises(BatchEngineError, match=r'offers the resources TPU=1.*resources "TPU=1"'):
        DaskEngine(address=scheduler_address, resources={"TPU": 1})


def test_batch_resources_from_the_config_reach_the_dask_engine(scheduler_address: str) -> None:
    from gpuaudio.batch.run import make_engine
    from gpuaudio.config import load_config

    config = load_config({"batch": {"engine": "dask", "resources": {"TPU": 1}}})
    with pytest.raises(BatchEngineError, match=r"offers the resources TPU=1"):
        make_engine("dask", config, address=scheduler_address)


def test_unreachable_scheduler_is_a_batch_engine_error() -> None:
    import dask

    address = f"tcp://127.0.0.1:{_free_port()}"
    unreachable = f"cannot reach the Dask scheduler at {address}"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), pytest.raises(
        BatchEngineError, match=unreachable
    ):
        DaskEngine(address=address)


@pytest.mark.parametrize("address", ["notaurl", "tcp://[::1", "tcp://host:port", "ftp://h:1"])
def test_a_malformed_address_is_a_batch_engine_error(address: str) -> None:
    with pytest.raises(BatchEngineError, match="is not a Dask scheduler address") as info:
        DaskEngine(address=address)
    assert repr(address) in str(info.value) and "tcp://host:8786" in str(info.value)


def _fake_probe(gpus: int) -> Callable[[], DeviceInfo]:
    found = tuple(GpuInfo(i, f"Fake GPU {i}", (9, 0), 80 << 30, 70 << 30) for i in range(gpus))
    return lambda: DeviceInfo(torch_available=True, cuda_available=bool(gpus), gpus=found)


@pytest.mark.parametrize(
    ("resources", "gpus", "device", "cluster"),
    [
        ({"GPU": 1}, 0, "auto", "LocalCUDACluster"),  # asked for
        (None, 2, "auto", "LocalCUDACluster"),  # a GPU box
        (None, 2, "cuda", "LocalCUDACluster"),
        (None, 2, "cuda:1", "LocalCluster"),  # the config names the GPU: every worker uses it
        (None, 2, "cpu", "LocalCluster"),
        (None, 0, "auto", "LocalCluster"),  # a CPU machine with dask-cuda installed
    ],
)
def test_gpus_without_address_use_dask_cuda_when_installed(
    monkeypatch: pytest.MonkeyPatch,
    resources: dict[str, float] | None,
    gpus: int,
    device: str,
    cluster: str,
) -> None:
    """A stand-in dask_cuda and LocalCluster record how they are called, then run a cluster of
    threads in this process (cheap)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    threads_cluster = distributed.LocalCluster

    def recorder(name: str) -> Callable[..., Any]:
        def start(processes: bool = True, **options: Any) -> Any:
            calls.append((name, dict(options)))
            options.pop("env", None)  # for worker processes, not threads
            options.pop("config", None)
            return threads_cluster(processes=False, **options)

        return start

    fake = types.ModuleType("dask_cuda")
    fake.__spec__ = importlib.machinery.ModuleSpec("dask_cuda", None)
    fake.LocalCUDACluster = recorder("LocalCUDACluster")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dask_cuda", fake)
    monkeypatch.setattr(distributed, "LocalCluster", recorder("LocalCluster"))
    options = {"workers": 1, "retries": 1, "resources": resources, "device": device}
    with DaskEngine(**options, device_probe=_fake_probe(gpus)) as engine:  # type: ignore[arg-type]
        assert dict(engine.map_unordered(abs, [-2, 3])) == {-2: 2, 3: 3}
    expected: dict[str, Any] = {
        "n_workers": 1, "threads_per_worker": 1, "dashboard_address": ":0",
        "scheduler_kwargs": {"allowed_failures": 1, "dashboard": False},
    }
    if cluster == "LocalCUDACluster":
        expected["resources"] = {"GPU": 1}
    else:  # one worker: all the cores for its thread pools
        limits = thread_limits(os.cpu_count() or 1)
        expected["env"] = {name: value for name, value in limits.items() if value}
    assert [(name, {k: v for k, v in options.items() if k != "config"})
            for name, options in calls] == [(cluster, expected)]
    assert calls[0][1]["config"]["distributed"]["worker"]["profile"]["enabled"] is False


def test_local_cluster_workers_get_thread_caps_and_none_of_dasks_costly_defaults(
    local_engine: DaskEngine,
) -> None:
    """Two workers on this machine: each one's pools at its share of the cores; no fixed
    malloc trim threshold (it cost the analysis ~35 % more CPU), no stack profiler."""

    def worker_settings() -> tuple[str | None, str | None, bool]:  # local: sent by value
        import dask

        return (os.environ.get("NUMBA_NUM_THREADS"), os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                dask.config.get("distributed.worker.profile.enabled"))

    assert has_exit_plugin(local_engine) == [True, True]  # they exit at once when closed
    share = str(max(1, (os.cpu_count() or 1) // 2))
    settings = local_engine.client.run(worker_settings).values()
    assert len(settings) == 2
    for numba, malloc, profiler in settings:
        assert numba == (os.environ.get("NUMBA_NUM_THREADS") or share)
        assert malloc == os.environ.get("MALLOC_TRIM_THRESHOLD_")  # None unless the user set it
        assert profiler is False


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"pip install gpuaudio\[dask\]"):
        DaskEngine()


def test_importing_the_engine_does_not_import_dask() -> None:
    code = (
        "import sys, gpuaudio.batch.dask_engine; "
        "assert not {'dask', 'distributed'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("options", [{"workers": 0}, {"retries": -1}])
def test_bad_settings_are_config_errors(options: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match="dask engine"):
        DaskEngine(**options)  # type: ignore[arg-type]


# -- the whole batch through Dask -----------------------------------------------------------------


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 28-s calls: calm, 12 s escalated (found as a segment, by its lifted floor and its
    level both), calm; different speakers."""
    folder = tmp_path_factory.mktemp("calls")
    for i, base_f0 in enumerate((110.0, 140.0, 200.0)):
        parts = [
            synthesize_speech(seconds, sr=16000, seed=10 * i + k, base_f0=base_f0, style=style)[0]
            for k, (seconds, style) in enumerate([(12.0, CALM), (12.0, ESCALATED), (4.0, CALM)])
        ]
        sf.write(folder / f"call_{i}.wav", np.concatenate(parts), 16000)
    return folder


def archive_tables(out: Path) -> dict[str, list[dict[str, Any]]]:
    """The archive's tables as rows, without the timing column; NaN made comparable."""
    tables = {
        name: pq.read_table(out / name).to_pylist()
        for name in (RECORDINGS_PARQUET, SEGMENTS_PARQUET, WINDOWS_PARQUET)
    }
    for row in tables[RECORDINGS_PARQUET]:
        del row["seconds"]  # wall time of the task
    return {
        name: [{k: "NaN" if v != v else v for k, v in row.items()} for row in rows]
        for name, rows in tables.items()
    }


@pytest.mark.slow
def test_dask_gives_the_local_engines_tables_bit_for_bit(
    calls: Path, scheduler_address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run_batch on the local engine and on a LocalCluster; `gpuaudio batch --address` on the
    subprocess scheduler."""
    outs = {name: tmp_path / name for name in ("local", "localcluster", "address")}
    for name, engine in (("local", "local"), ("localcluster", "dask")):
        # one worker: on the LocalCluster each worker process costs seconds to start
        summary = run_batch([calls], outs[name], engine=engine, workers=1, windows=True,
                            progress=False)
        assert (summary.total, summary.ok, summary.engine) == (3, 3, engine), name
    code = main([
        "batch", str(calls), "-o", str(outs["address"]), "--engine", "dask",
        "--address", scheduler_address, "--windows", "--no-progress",
    ])
    assert code == 0, capsys.readouterr().err
    assert "3 of 3 recording(s) analysed" in capsys.readouterr().out
    tables = {name: archive_tables(out) for name, out in outs.items()}
    local = tables.pop("local")
    assert len(local[RECORDINGS_PARQUET]) == 3
    assert len(local[SEGMENTS_PARQUET]) >= 3  # each call's escalation was found
    for name, found in tables.items():
        for table, rows in local.items():
            assert found[table] == rows, f"{name}: {table} differs from the local engine's"
