"""Tasks for the local engine's tests, in a module spawned workers can import by name
(test modules are imported by path, which a spawned process cannot repeat)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def where(item: int) -> tuple[int, str | None, bool]:
    """The item, the GPU this worker was pinned to and whether torch was imported by then."""
    return item, os.environ.get("CUDA_VISIBLE_DEVICES"), "torch" in sys.modules


def thread_pools(item: int) -> tuple[int, str | None, str | None]:
    """The item and this worker's OpenMP and numba thread settings."""
    return item, os.environ.get("OMP_NUM_THREADS"), os.environ.get("NUMBA_NUM_THREADS")


@dataclass(frozen=True)
class DieOnce:
    """Kills its own worker (SIGKILL) on the first attempt at item `victim`; a marker file in
    `folder` remembers the attempt across processes."""

    folder: str
    victim: int

    def __call__(self, item: int) -> tuple[int, int]:
        marker = Path(self.folder) / f"attempt-{item}"
        attempts = len(list(Path(self.folder).glob(f"attempt-{item}*")))
        Path(f"{marker}-{attempts}").touch()
        if item == self.victim and attempts == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return item, os.getpid()


@dataclass(frozen=True)
class AlwaysDie:
    """Kills its worker on every attempt at item `victim`."""

    victim: int

    def __call__(self, item: int) -> int:
        if item == self.victim:
            os.kill(os.getpid(), signal.SIGKILL)
        return item


def broken(item: int) -> int:
    """A task with a bug."""
    raise ZeroDivisionError(f"bug at item {item}")


def sleepy(item: int) -> int:
    """Item 0 returns at once, the others take long (a worker busy when the batch stops)."""
    if item:
        time.sleep(60)
    return item


def stubborn(item: int) -> int:
    """As `sleepy`, but it carries on after an Exception or a SystemExit, as the service's
    backend fallback does (it tries the next backend)."""
    deadline = time.monotonic() + (60 if item else 0)
    while time.monotonic() < deadline:
        try:
            time.sleep(0.01)
        except (Exception, SystemExit):
            continue
    return item


@dataclass(frozen=True)
class WaitForLast:
    """Item 0 waits (at most a minute) until item `last` has run; every item returns the
    worker's pid and, for item 0, whether it saw item `last` run in time."""

    folder: str
    last: int

    def __call__(self, item: int) -> tuple[int, int, bool]:
        marker = Path(self.folder) / "last-ran"
        if item == self.last:
            marker.touch()
        return item, os.getpid(), item != 0 or _until(marker.exists)


@dataclass(frozen=True)
class WaitForOtherExit:
    """Item 0 writes its worker's pid; item 1 waits (at most a minute) until that worker has
    exited (gone, or a zombie its parent has not joined yet) and says whether it did."""

    folder: str

    def __call__(self, item: int) -> bool:
        pid_file = Path(self.folder) / "pid"
        if item == 0:
            pid_file.write_text(str(os.getpid()))
            return True
        return _until(lambda: pid_file.exists() and _exited(int(pid_file.read_text())))


def _exited(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def _until(condition: Callable[[], bool], limit_s: float = 60.0) -> bool:
    """Whether `condition` became true within `limit_s` (a guard against a hang, not a timing)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@dataclass(frozen=True)
class MarkAtExit:
    """Registers an interpreter-exit handler in its worker that would write FOLDER/<pid>."""

    folder: str

    def __call__(self, item: int) -> int:
        import atexit

        atexit.register(Path(self.folder, str(os.getpid())).touch)
        return item
