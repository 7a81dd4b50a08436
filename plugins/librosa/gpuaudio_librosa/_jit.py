"""numba's ``njit`` with the on-disk cache, saying once when the F0 kernels are about to compile.

numba compiles a kernel on its first call and, with ``cache=True``, keeps the machine code
beside the module (``__pycache__``, or ``NUMBA_CACHE_DIR``), so only the first run pays. That
first run is announced by one INFO record on the ``gpuaudio.notice`` logger: the command line
prints it on stderr (not with ``--quiet``); a library caller sees it only with logging set up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numba

NOTICE = logging.getLogger("gpuaudio.notice")
"""Messages for a person at the command line (see gpuaudio.cli.main)."""
COMPILE_ESTIMATE_S = 25
"""Seconds the first run spends compiling (acpitch or fastpyin, 2-core CPU: docs/benchmarks.md)."""

_state = {"announced": False}


def cached_njit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(cache=True, **options)``; a kernel with no usable cache entry announces the
    compile (once per process)."""
    jit = numba.njit(cache=True, **options)

    def decorate(function: Callable[..., Any]) -> Any:
        dispatcher = jit(function)
        if not _state["announced"] and not is_cached(dispatcher):
            _state["announced"] = True
            NOTICE.info("compiling F0 kernels, first run only, ~%d s", COMPILE_ESTIMATE_S)
        return dispatcher

    return decorate


def is_cached(dispatcher: Any) -> bool:
    """Whether numba's cache index for `dispatcher` exists and matches its source file.

    Reads numba's own index (a private interface); True where it cannot tell, so a numba
    change costs the notice, never a false one."""
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except AttributeError:
        return True
