"""The C allocator's setting for gpuaudio's own analysis processes (the analysis commands,
batch workers)."""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
KEPT_FREE_BYTES = 1 << 30
"""Freed memory glibc's malloc may keep for reuse at the top of the heap (`keep_freed_memory`)."""
MMAP_THRESHOLD_BYTES = 32 << 20
"""Allocations from this size up get their own pages (glibc's largest dynamic threshold)."""


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for the next allocation instead of returning it to
    the system; True where it took the setting (Linux with glibc).

    The analysis allocates and frees arrays of tens of MB per recording; by default glibc hands
    them back and the next one is faulted in page by page again: ~15 % of a CPU analysis's time
    went to the kernel (sys 2.5 s of 17 s on 24 calls of 3-5 min, 0.6 s with this). The peak
    memory is unchanged (measured +4 % max RSS); a long-running process keeps up to
    `KEPT_FREE_BYTES` of freed memory. Threads started afterwards share the main thread's heap
    (one arena): a thread's own arena is returned to the system as before. Called by the
    analysis commands and by every batch worker before it starts threads, not on import: a program
    embedding gpuaudio keeps its own allocator settings, and so does ``gpuaudio bench`` (its
    memory columns measure what each case allocates).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # this process's C library
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    settings = ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), (_M_TRIM_THRESHOLD, KEPT_FREE_BYTES),
                (_M_ARENA_MAX, 1))
    # A list, not a generator: every setting is applied even when an earlier one is refused.
    accepted = [bool(mallopt(option, value)) for option, value in settings]
    return all(accepted)
