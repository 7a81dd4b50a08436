"""The Dask engine: a batch's tasks on a dask.distributed cluster (``--engine dask``).

With an ``address`` it connects to a running scheduler (``dask scheduler`` and ``dask worker``
processes started by the user, on this machine or a cluster); without one it starts a
``LocalCluster`` of single-threaded worker processes, or dask-cuda's ``LocalCUDACluster`` (one
worker per GPU, each seeing only its own device) when GPUs are requested (``resources`` with
``GPU``; by default whenever dask-cuda is installed and this machine has a GPU). Each item is
one task (``client.map``, ``pure=False``: a recording is analysed even if an identical one was,
the task decides what to skip); results come back through ``distributed.as_completed`` in
completion order. Dask decides which worker runs which recording, so the task's optional
``prefetch`` is not called (decoding within a recording still runs ahead on a thread).

Faults: a task whose worker dies (killed, out of memory) is recomputed by Dask on another worker;
a task on more than ``retries`` dying workers is given up (``KilledWorker``). An exception raised
by the task itself is retried ``retries`` times, then ends the iteration. Both come out as
``BatchEngineError`` naming the item. For a local cluster ``retries`` sets the scheduler's
``allowed-failures``; a scheduler started by the user keeps its own (the
``distributed.scheduler.allowed-failures`` setting, 3 by default).

dask is imported lazily, so the rest of gpuaudio works without the ``gpuaudio[dask]`` extra.

**Adding another engine (Ray, say)** takes one class in one module and its name where engines
are chosen, nothing in the task: a constructor that connects or starts the cluster
(``ray.init``); ``map_unordered`` that submits a remote function calling ``task(item)`` for every
item (``.options(max_retries=retries)``), yields ``(item, result)`` as results arrive
(``ray.wait``), raises ``BatchEngineError`` naming the item when a task is lost for good and
cancels what is pending when the iterator is closed (``ray.cancel`` in a ``finally``); and
``close`` that disconnects (``ray.shutdown``). Import ``ray`` inside the class and raise
``ConfigError`` with the install hint when it is missing; add the name to ``make_engine``
(`gpuaudio.batch.run`), ``[batch] engine`` and ``--engine``. The contract is in
`gpuaudio.batch.engine`; docs/batch.md has the recipe.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from gpuaudio.batch.local_engine import engine_picks_gpus, exit_at_once, thread_limits
from gpuaudio.errors import BatchEngineError, ConfigError

if TYPE_CHECKING:
    from gpuaudio.device import DeviceInfo

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

INSTALL_HINT = "pip install gpuaudio[dask]"
WORKER_WAIT_S = 60.0
"""How long a batch waits for a worker of a scheduler reached by address before it gives up
(a scheduler without workers would hold the tasks forever)."""
LOCAL_CLUSTER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": 1,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
}
"""Dask settings of a local cluster's workers. Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``
fixes glibc's malloc thresholds, so every array over 128 KiB is mapped and unmapped anew: with
it the analysis took ~35 % more CPU time (2-core box). ``MALLOC_ARENA_MAX=1``: the worker's
threads, the one running tasks included, share the main heap, which the task's
`keep_freed_memory` sets to keep freed memory (a thread's own heap returned it: the kernel's
share of a batch's CPU time 1.6-3.0 s instead of 0.9 s on the benchmark's 24 calls). Also
off: the statistical profiler that samples the running task's stack every 10 ms, and the GIL
monitor."""


def _distributed() -> Any:
    """The ``distributed`` module, or ConfigError with the install hint."""
    try:
        import distributed
    except ImportError as exc:
        raise ConfigError(
            f"the dask engine needs dask.distributed, which is not installed ({exc}); "
            f"install it with `{INSTALL_HINT}`, or use the local engine (--engine local)"
        ) from exc
    return distributed


def _check_address(distributed: Any, address: str) -> None:
    """`BatchEngineError` for an address Dask cannot parse (``host``, ``tcp://[::1``)."""
    try:
        distributed.comm.get_address_host_port(address)
    except (ValueError, TypeError) as exc:
        raise BatchEngineError(
            f"{address!r} is not a Dask scheduler address ({exc}); give it as "
            "tcp://host:8786 (the scheduler's port, 8786 by default)"
        ) from exc


class DaskEngine:
    """Runs a batch's tasks on a Dask cluster: an existing one (``address``) or a local one.

    ``workers``: worker processes of a local cluster (default: one per CPU core, or one per GPU
    with dask-cuda). ``retries``: how often a task is recomputed after its worker died or it
    raised. ``resources``: what each task needs of a worker (``{"GPU": 1}`` runs one task per
    GPU on workers started with ``--resources GPU=1``); a local cluster's workers are given them.
    Without an address and without ``resources``, ``{"GPU": 1}`` and a ``LocalCUDACluster`` are
    chosen when dask-cuda is installed, ``device_probe`` (`gpuaudio.device.probe`; tests
    pass a fake) finds a GPU and ``device`` (the config's) leaves the choice of GPU to the
    engine (``auto``, ``cuda``; with ``cuda:N`` every worker uses GPU N).
    """

    name = "dask"

    def __init__(
        self,
        *,
        address: str | None = None,
        workers: int | None = None,
        retries: int = 2,
        resources: dict[str, float] | None = None,
        device: str = "auto",
        device_probe: Callable[[], DeviceInfo] | None = None,
        worker_wait_s: float = WORKER_WAIT_S,
    ) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"the dask engine needs at least one worker, got workers={workers}")
        if retries < 0:
            raise ConfigError(f"the dask engine's retries must be >= 0, got {retries}")
        distributed = _distributed()
        if address is not None:
            _check_address(distributed, address)
        self.retries = retries
        if (resources is None and address is None and engine_picks_gpus(device)
                and _local_gpus(device_probe)):
            resources = {"GPU": 1}
        self.resources = dict(resources) if resources else None
        self._cluster: Any = None
        if address is None:
            self._cluster = self._start_cluster(distributed, workers)
            target: Any = self._cluster
        else:
            target = address
        try:
            self._client: Any = distributed.Client(target)
        except (OSError, TimeoutError) as exc:
            self._close_cluster()
            raise BatchEngineError(
                f"cannot reach the Dask scheduler at {address}: {exc}; start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, or leave out the "
                "address for a local cluster"
            ) from exc
        if self._cluster is not None:
            self._client.register_plugin(_exit_at_close(distributed))
        else:
            self._check_workers(str(address), worker_wait_s)

    def _check_workers(self, address: str, wait_s: float) -> None:
        """Fail now, not never: a scheduler reached by address must have a worker within
        `wait_s`, and one that offers the `resources` asked for, or the tasks would wait on it
        forever."""
        try:
            self._client.wait_for_workers(1, timeout=wait_s)
        except TimeoutError:
            self.close()
            raise BatchEngineError(
                f"the Dask scheduler at {address} has no workers (waited {wait_s:.0f} s); "
                f"start them with `dask worker {address}`"
            ) from None
        if self.resources:
            offered = [
                worker.get("resources", {})
                for worker in self._client.scheduler_info()["workers"].values()
            ]
            if not any(
                all(own.get(name, 0) >= need for name, need in self.resources.items())
                for own in offered
            ):
                asked = " ".join(f"{name}={need:g}" for name, need in self.resources.items())
                self.close()
                raise BatchEngineError(
                    f"no worker of the Dask scheduler at {address} offers the resources "
                    f"{asked}: start workers with `dask worker {address} --resources "
                    f'"{asked}"`'
                )

    def _start_cluster(self, distributed: Any, workers: int | None) -> Any:
        """A LocalCUDACluster when GPUs are asked for and dask-cuda is here, else a LocalCluster
        of single-threaded worker processes, each one's thread pools capped at its share of the
        cores (as the local engine's), without dashboard or the workers' stack profiler."""
        import dask

        options: dict[str, Any] = {
            "n_workers": workers,
            "threads_per_worker": 1,  # one recording at a time per worker process
            "dashboard_address": ":0",  # the scheduler's HTTP routes on any free port ...
            "scheduler_kwargs": {"allowed_failures": self.retries, "dashboard": False},  # no UI
        }
        if self.resources:
            options["resources"] = self.resources
        with dask.config.set(LOCAL_CLUSTER_CONFIG):
            # a copy for each nanny to hand to its workers, restarted ones too (a nanny's own
            # config shares the global one's tables, which the end of this block restores)
            options["config"] = {"distributed": copy.deepcopy(dask.config.get("distributed"))}
            if self.resources and "GPU" in self.resources and _has_dask_cuda():
                from dask_cuda import LocalCUDACluster

                return LocalCUDACluster(**options)
            threads = max(1, (os.cpu_count() or 1) // (workers or os.cpu_count() or 1))
            limits = {name: value for name, value in thread_limits(threads).items() if value}
            return distributed.LocalCluster(processes=True, env=limits, **options)

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` the tasks go through."""
        return self._client

    def map_unordered(
        self, task: Callable[[ItemT], ResultT], items: Sequence[ItemT]
    ) -> Iterator[tuple[ItemT, ResultT]]:
        """Yield ``(item, task(item))`` for every item, in completion order (Engine contract)."""
        if not items:
            return
        distributed = _distributed()
        futures = self._client.map(
            task, list(items), pure=False, retries=self.retries, resources=self.resources
        )
        pending: dict[Any, ItemT] = dict(zip(futures, items, strict=True))
        try:
            for future in distributed.as_completed(list(pending)):
                item = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:
                    raise _failure(item, exc, self.retries) from exc
                finally:
                    future.release()  # the cluster may drop the result (or error) right away
                yield item, result
        finally:
            if pending:  # closed early or failed: nothing more of this batch should run
                self._client.cancel(list(pending), force=True)

    def close(self) -> None:
        """Disconnect from the scheduler, and stop the local cluster if this engine started it."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
        self._close_cluster()

    def _close_cluster(self) -> None:
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            # its workers leave at once (`_exit_at_close`): Dask's notes about their lost
            # connections are no news
            quiet = logging.getLogger("distributed")
            level = quiet.level
            quiet.setLevel(logging.CRITICAL)
            try:
                cluster.close()
            finally:
                quiet.setLevel(level)

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _failure(item: object, exc: Exception, retries: int) -> BatchEngineError:
    """BatchEngineError naming the item and why its task did not complete."""
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return BatchEngineError(
            f"the task for {item!r} was given up after {exc.allowed_failures + 1} Dask workers "
            f"died while running it (the scheduler's allowed-failures): {exc}"
        )
    return BatchEngineError(
        f"the task for {item!r} failed on a Dask worker after {retries} retries: "
        f"{type(exc).__name__}: {exc}"
    )


def _exit_at_close(distributed: Any) -> Any:
    """A worker plugin for a local cluster's workers: a closing worker's process exits at once
    (`gpuaudio.batch.local_engine.exit_at_once`), without the ~0.5-2 s teardown of a spawned
    interpreter that has the analysis libraries loaded, which `close` would wait for."""

    class ExitAtClose(distributed.WorkerPlugin):  # type: ignore[misc]
        name = "gpuaudio-exit-at-close"

        def teardown(self, worker: Any) -> None:
            if multiprocessing.parent_process() is not None:  # a worker process, not threads
                exit_at_once()

    return ExitAtClose()


def _has_dask_cuda() -> bool:
    return importlib.util.find_spec("dask_cuda") is not None


def _local_gpus(device_probe: Callable[[], DeviceInfo] | None) -> bool:
    """Whether dask-cuda is installed and this machine has a GPU gpuaudio may use."""
    if not _has_dask_cuda():
        return False
    if device_probe is None:
        from gpuaudio.device import probe

        device_probe = probe
    info = device_probe()
    return info.cuda_available and bool(info.gpus)
