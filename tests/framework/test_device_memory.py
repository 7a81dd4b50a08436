"""gpuaudio.device on the host: memory probes (what the bench and the MemoryManager read) and
host tensors of the caller's arrays."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from gpuaudio import device

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc (Linux)")
MB = 2**20


def test_host_peak_is_per_measurement_after_a_reset():
    """In a fresh interpreter: this one may keep freed memory from earlier tests for reuse
    (an analysis command run in-process sets that, `gpuaudio._allocator`), and a new block
    would then not grow the resident memory at all."""
    code = textwrap.dedent(f"""
        import numpy as np
        from gpuaudio import device
        MB = {MB}
        device.reset_peak_memory("cpu")
        before = device.resident_memory_bytes()
        assert before is not None and before > 10 * MB
        block = np.ones(200 * MB // 8)  # 200 MB, every page touched
        del block
        grown = device.peak_memory_bytes("cpu") - before
        assert 190 * MB <= grown <= 260 * MB, grown
        device.reset_peak_memory("cpu")  # the block is gone: a new measurement forgets it
        assert device.peak_memory_bytes("cpu") - device.resident_memory_bytes() < 20 * MB
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_host_memory_fields():
    total, available = device.host_memory_bytes("MemTotal"), device.host_memory_bytes()
    assert total is not None and available is not None and 0 < available <= total
    assert device.host_memory_bytes("NoSuchField") is None


def test_host_tensor_shares_writable_arrays_and_copies_read_only_ones():
    torch = pytest.importorskip("torch")
    writable = np.arange(8, dtype=np.float32)
    shared = device.host_tensor(writable)
    assert np.shares_memory(shared.numpy(), writable)

    frozen = np.arange(8, dtype=np.float32)
    frozen.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns about tensors over read-only memory
        copied = device.host_tensor(frozen)
    assert not np.shares_memory(copied.numpy(), frozen)
    assert copied.dtype == torch.float32 and not frozen.flags.writeable
    np.testing.assert_array_equal(copied.numpy(), frozen)

    converted = device.host_tensor(np.arange(4, dtype=np.int16)[::2])  # dtype and layout too
    assert converted.dtype == torch.float32 and converted.tolist() == [0.0, 2.0]
