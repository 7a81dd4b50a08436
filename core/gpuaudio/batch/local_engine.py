"""The local engine: a batch's tasks in this process or in worker processes on this machine.

One worker runs the tasks here, one after another. ``workers=N`` starts N processes with the
``spawn`` method (never ``fork``: a forked copy of a process that imported torch or touched
CUDA is unsafe). On a machine with several GPUs the default is one worker per GPU, each pinned
to its own through ``CUDA_VISIBLE_DEVICES``, set in the environment the worker starts with, so
torch in the worker sees only that GPU (as ``cuda:0``).

Each worker holds at most `IN_FLIGHT` items: the one it runs and the next, whose file a thread
of the worker hashes and decodes meanwhile (``task.prefetch``, see `gpuaudio.batch.engine`).
Near the end (fewer items left than workers) a worker gets its next item only when it is done,
so no worker idles while another holds an item it has not started; a worker with nothing left
is told to end at once, so its exit overlaps the others' last items.
Every worker talks to the parent through its own pipe, so a worker killed mid-write (kill -9,
the out-of-memory killer) breaks nothing shared: the parent sees its process end, starts a
fresh worker in its place and gives it the lost items again, up to ``retries`` times each.
Results are yielded once per item, so a retried task never gives two rows.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, NoReturn, TypeVar

from gpuaudio._allocator import keep_freed_memory
from gpuaudio.device import DeviceInfo
from gpuaudio.errors import BatchEngineError, ConfigError, Terminated, raise_terminated

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

IN_FLIGHT = 2
"""Items given to a worker at once: the current one and the one it prefetches."""
CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
_JOIN_S = 5.0


class LocalEngine:
    """Runs tasks in this process (one worker) or in spawned worker processes.

    ``workers``: processes (default: one per GPU when there are several, else one, in this
    process). ``retries``: how often an item lost with its worker is given to a fresh one.
    ``device``: the config's device; only ``auto`` and ``cuda`` leave the choice of GPU to the
    engine: with ``cuda:N`` every worker uses GPU N (unpinned: a worker pinned to another GPU
    would see no GPU N) and with ``cpu`` none is pinned. ``device_probe``: what GPUs there are
    (`gpuaudio.device.probe`; tests pass a fake).
    """

    name = "local"

    def __init__(
        self,
        *,
        workers: int | None = None,
        retries: int = 2,
        device: str = "auto",
        device_probe: Callable[[], DeviceInfo] | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"the local engine needs at least one worker, got {workers}")
        if retries < 0:
            raise ConfigError(f"retries must be 0 or more, got {retries}")
        gpus = [] if workers == 1 or not engine_picks_gpus(device) else _gpu_names(device_probe)
        self.workers = workers or max(1, len(gpus))
        self.retries = retries
        self.pins: list[str | None] = (
            [gpus[i % len(gpus)] for i in range(self.workers)]
            if len(gpus) > 1 and self.workers > 1
            else [None] * self.workers
        )
        """The GPU each worker is pinned to (a ``CUDA_VISIBLE_DEVICES`` value), or None."""
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        """Threads each worker's pools may use: its share of the cores (`thread_limits`)."""
        self._processes: list[_Worker] = []

    def map_unordered(
        self, task: Callable[[ItemT], ResultT], items: Sequence[ItemT]
    ) -> Iterator[tuple[ItemT, ResultT]]:
        """Yield ``(item, task(item))`` for every item, in completion order (see `Engine`)."""
        if self.workers == 1:
            return _in_process(task, list(items))
        return self._in_workers(task, list(items))

    def close(self) -> None:
        """Stop the worker processes still running; safe to call twice."""
        workers, self._processes = self._processes, []
        for worker in workers:  # all asked first, so they end side by side
            worker.release()
        for worker in workers:
            worker.stop()

    def _in_workers(
        self, task: Callable[[ItemT], ResultT], items: list[ItemT]
    ) -> Iterator[tuple[ItemT, ResultT]]:
        pending = deque(range(len(items)))
        lost: Counter[int] = Counter()
        done: set[int] = set()
        context = multiprocessing.get_context("spawn")
        try:
            self._processes = [
                _Worker.start(context, task, pin, self.threads)
                for pin in self.pins[: len(items)]
            ]
            for depth in range(1, IN_FLIGHT + 1):  # one item each first, then the next ones
                for worker in self._processes:
                    worker.feed(pending, items, min(depth, self._depth(pending)))
            while len(done) < len(items):
                working = [w for w in self._processes if not w.released]
                ready = set(wait([w.conn for w in working] + [w.process.sentinel for w in working]))
                for slot, worker in enumerate(self._processes):
                    if worker.released:
                        continue
                    if worker.conn in ready:  # a result, or the end of a dead worker's pipe
                        message = worker.receive()
                    elif worker.process.sentinel in ready:  # ended with nothing left to read
                        message = None
                    else:
                        continue
                    if message is None:
                        self._replace(slot, context, task, pending, lost, items)
                        continue
                    index, result = message
                    if index not in done:
                        done.add(index)
                        yield items[index], result
                    worker.feed(pending, items, self._depth(pending))
                    if not pending and not worker.assigned:
                        worker.release()
        finally:
            self.close()

    def _depth(self, pending: deque[int]) -> int:
        """Items a worker may hold: `IN_FLIGHT`, or only the one it runs once fewer items are
        left than workers (a queued item would wait while another worker idles)."""
        return IN_FLIGHT if len(pending) >= len(self._processes) else 1

    def _replace(
        self,
        slot: int,
        context: Any,
        task: Callable[[Any], Any],
        pending: deque[int],
        lost: Counter[int],
        items: list[Any],
    ) -> None:
        """The worker in `slot` died: its items go back first, a fresh worker takes its place.
        Only the item it was running counts as lost; the one waiting behind it was not tried."""
        dead = self._processes[slot]
        dead.stop()
        if dead.assigned:
            running = dead.assigned[0]
            lost[running] += 1
            if lost[running] > self.retries:
                raise BatchEngineError(
                    f"{items[running]}: its worker process died {lost[running]} times (killed, "
                    f"or out of memory: exit code {dead.process.exitcode}); gave up after "
                    f"{self.retries} retries"
                )
        pending.extendleft(reversed(dead.assigned))
        fresh = _Worker.start(context, task, dead.pin, self.threads)
        self._processes[slot] = fresh
        fresh.feed(pending, items, self._depth(pending))


def engine_picks_gpus(device: str) -> bool:
    """Whether the config's `device` lets an engine give each worker a GPU of its own: ``auto``
    and ``cuda`` do; ``cpu`` and ``cuda:N`` (every worker on that GPU) do not."""
    return device in ("auto", "cuda")


def _gpu_names(device_probe: Callable[[], DeviceInfo] | None) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` values of the GPUs (the visible list's own entries when it is
    set already, so a worker pinned to "the second GPU" gets that GPU, not physical GPU 1)."""
    if device_probe is None:
        from gpuaudio.device import probe

        device_probe = probe
    info = device_probe()
    if not info.cuda_available:
        return []
    visible = [v.strip() for v in os.environ.get(CUDA_VISIBLE_DEVICES, "").split(",") if v.strip()]
    return [visible[g.index] if g.index < len(visible) else str(g.index) for g in info.gpus]


def _in_process(
    task: Callable[[ItemT], ResultT], items: list[ItemT]
) -> Iterator[tuple[ItemT, ResultT]]:
    """One worker: this process, the next item prefetched while the current one runs."""
    prefetch = getattr(task, "prefetch", None)
    for position, item in enumerate(items):
        if prefetch is not None and position + 1 < len(items):
            with contextlib.suppress(Exception):  # the task itself will meet the problem
                prefetch(items[position + 1])
        yield item, task(item)


@dataclass
class _Worker:
    """A worker process, its pipe, its GPU and the item indices it holds."""

    process: Any
    conn: Connection
    pin: str | None
    assigned: list[int] = field(default_factory=list)
    released: bool = False
    """Told to end (nothing left for it); its exit is not a death."""

    @classmethod
    def start(
        cls, context: Any, task: Callable[[Any], Any], pin: str | None, threads: int
    ) -> _Worker:
        parent, child = context.Pipe()
        process = context.Process(target=_worker_main, args=(task, child), daemon=True)
        with _environment({CUDA_VISIBLE_DEVICES: pin, **thread_limits(threads)}):
            process.start()
        child.close()
        return cls(process, parent, pin)

    def feed(self, pending: deque[int], items: Sequence[Any], depth: int) -> None:
        """Top the worker up to `depth` items."""
        while pending and len(self.assigned) < depth:
            index = pending.popleft()
            try:
                self.conn.send((index, items[index]))
            except OSError:  # the worker is gone; the parent notices by its sentinel
                pending.appendleft(index)
                return
            self.assigned.append(index)

    def receive(self) -> tuple[int, Any] | None:
        """The next result, or None when the pipe broke (the worker died)."""
        try:
            kind, index, payload = self.conn.recv()
        except (EOFError, OSError):
            return None
        if kind == "error":
            raise BatchEngineError(f"the task raised in a worker process:\n{payload}")
        self.assigned.remove(index)
        return index, payload

    def release(self) -> None:
        """Ask the worker to end after what it holds (it reads None); does not wait."""
        if not self.released:
            self.released = True
            with contextlib.suppress(OSError):
                self.conn.send(None)

    def stop(self) -> None:
        """Ask the worker to end, then make it."""
        self.release()
        self.process.join(_JOIN_S if not self.assigned else 0.1)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(_JOIN_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")
"""Thread pools a worker's libraries size from the environment (BLAS, OpenMP, numba, torch)."""


def thread_limits(threads: int) -> dict[str, str | None]:
    """Each thread pool capped at `threads` (the worker's share of the cores), where the user
    has not set it: N workers each sizing its pools to every core would oversubscribe them."""
    return {name: None if name in os.environ else str(threads) for name in THREAD_VARIABLES}


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """The variables with a value (not None) set while a worker process is started."""
    previous = {name: os.environ.get(name) for name, value in values.items() if value is not None}
    os.environ.update({name: value for name, value in values.items() if value is not None})
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def _worker_main(task: Callable[[Any], Any], conn: Connection) -> None:
    """A worker process: Ctrl-C is the parent's to handle; SIGTERM ends it (exit code 143)
    once the task's cleanup (its `finally` blocks) has run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, raise_terminated)
    keep_freed_memory()  # before `_serve` starts its thread
    try:
        _serve(task, conn)
    except Terminated:
        sys.exit(128 + signal.SIGTERM)


def _serve(task: Callable[[Any], Any], conn: Connection) -> None:
    """A worker's loop: items arrive on `conn` (a thread receives them and starts their
    prefetch at once), results go back on it; None ends the worker."""
    inbox: deque[tuple[int, Any] | None] = deque()
    arrived = threading.Condition()
    prefetch = getattr(task, "prefetch", None)

    def receive() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = None
            if message is not None and prefetch is not None:
                with contextlib.suppress(Exception):  # the task itself will meet the problem
                    prefetch(message[1])
            with arrived:
                inbox.append(message)
                arrived.notify()
            if message is None:
                return

    threading.Thread(target=receive, name="receive items", daemon=True).start()
    while True:
        with arrived:
            arrived.wait_for(lambda: bool(inbox))
            message = inbox.popleft()
        if message is None:
            exit_at_once()
        index, item = message
        try:
            conn.send(("done", index, task(item)))
        except Exception:
            conn.send(("error", index, traceback.format_exc()))


def exit_at_once() -> NoReturn:
    """End a worker that has sent all its results without the interpreter's teardown (a spawned
    process runs it in full: ~0.5-1 s with the analysis libraries loaded, while the parent waits
    to write the tables). Its outputs are written, fsynced and closed; stdio is flushed here."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)
