"""The C allocator's setting (`gpuaudio._allocator`): freed arrays are kept for reuse in
gpuaudio's own processes (the command line, batch workers), not in a program that imports it.

Its effect on speed is measured in docs/benchmarks.md; these tests check what it changes: a freed
16 MB array stays in the process (by default glibc returns it to the system at once)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)"
)

BLOCK_MB = 16

MEASURE = f"""
    import os
    import threading
    import numpy as np

    def resident_mb():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def measure():
        before = resident_mb()
        block = np.ones({BLOCK_MB} * 2**20, dtype=np.uint8)
        del block
        print(resident_mb() - before)
"""
IN_THIS_THREAD = "measure()"
IN_A_NEW_THREAD = "thread = threading.Thread(target=measure)\nthread.start()\nthread.join()"


def _kept_mb(setup: str, where: str = IN_THIS_THREAD) -> float:
    code = textwrap.dedent(setup) + textwrap.dedent(MEASURE) + where
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return float(done.stdout.splitlines()[-1])


def test_a_program_importing_gpuaudio_keeps_its_allocator():
    assert _kept_mb("import gpuaudio.service") < BLOCK_MB * 0.25
    assert _kept_mb("import gpuaudio.service", IN_A_NEW_THREAD) < BLOCK_MB * 0.25


def test_commands_that_analyse_nothing_keep_the_allocator():
    """Only the analysis commands set it: `gpuaudio bench`'s memory columns measure what each
    case allocates (shown here with `gpuaudio plugins`, the quick one)."""
    setup = ("import contextlib, io\nfrom gpuaudio.cli.main import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['plugins']) == 0")
    assert _kept_mb(setup) < BLOCK_MB * 0.25


@pytest.mark.parametrize(
    "setup",
    [
        "from gpuaudio._allocator import keep_freed_memory\nassert keep_freed_memory()",
        # an analysis command sets it with its service (the file's absence comes after)
        "import contextlib, io\nfrom gpuaudio.cli.main import main\n"
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert main(['analyze', 'missing.wav', '-o', 'out']) != 0",
        # every batch worker sets it with its service, whatever the engine
        "from gpuaudio.batch.task import _service\n_service('{}')",
    ],
    ids=["function", "command-line", "batch-worker"],
)
def test_gpuaudio_processes_keep_freed_memory(setup):
    assert _kept_mb(setup) > BLOCK_MB * 0.9


def test_threads_started_afterwards_keep_freed_memory():
    """A Dask worker runs tasks on a thread; the local engine decodes on one."""
    setup = "from gpuaudio._allocator import keep_freed_memory\nassert keep_freed_memory()"
    assert _kept_mb(setup, IN_A_NEW_THREAD) > BLOCK_MB * 0.9
