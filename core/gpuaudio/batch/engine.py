"""The one small interface between a batch and what runs its tasks.

NOTE (batch-local, for engine authors): a task may also offer ``prefetch(item)``, which starts
reading the item's file on a thread for the same process's next call. An engine that knows a
worker's next item may call it before running the current one (the local engine does); an
engine that does not call it loses nothing but the overlap. Check with ``getattr``.

A batch is a list of picklable work items (one per recording) and one picklable, idempotent task
function. An engine runs ``task(item)`` for every item somewhere (this process, worker processes,
a Dask cluster; a Ray adapter would be one more class) and hands back each result as it finishes.
The engine knows nothing about audio: the task writes its outputs atomically and returns a small
picklable status record, so an engine may run a task twice (a retry after a lost worker) without
harm. Per-worker state (one ``AudioFeatureService``, its model loaded once) lives in the task's
module, cached per process, so every engine gets it for free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Engine(Protocol):
    """Runs a task over items; see the module docstring for the contract."""

    name: str

    def map_unordered(
        self, task: Callable[[ItemT], ResultT], items: Sequence[ItemT]
    ) -> Iterator[tuple[ItemT, ResultT]]:
        """Yield ``(item, task(item))`` for every item, in completion order.

        Each item is yielded exactly once, after a run of the task that completed (a task lost
        with its worker is retried, up to the engine's retry limit, then its failure is raised
        as ``BatchEngineError`` naming the item). The task reports per-item failures in its
        result and does not raise for them; an exception it does raise ends the iteration.
        Closing the iterator early (Ctrl-C) cancels the tasks that have not started.
        """
        ...

    def close(self) -> None:
        """Release workers, clusters and connections; safe to call twice."""
        ...


EngineFactory = Callable[..., Engine]
