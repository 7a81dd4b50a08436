"""gpuaudio.device memory probes on the host: what the bench and the MemoryManager read."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gpuaudio import device

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc (Linux)")
MB = 2**20


def test_host_peak_is_per_measurement_after_a_reset():
    device.reset_peak_memory("cpu")
    before = device.resident_memory_bytes()
    assert before is not None and before > 10 * MB
    block = np.ones(200 * MB // 8)  # 200 MB, every page touched
    del block
    grown = device.peak_memory_bytes("cpu") - before
    assert 190 * MB <= grown <= 260 * MB
    device.reset_peak_memory("cpu")  # the block is gone: a new measurement forgets it
    assert device.peak_memory_bytes("cpu") - device.resident_memory_bytes() < 20 * MB


def test_host_memory_fields():
    total, available = device.host_memory_bytes("MemTotal"), device.host_memory_bytes()
    assert total is not None and available is not None and 0 < available <= total
    assert device.host_memory_bytes("NoSuchField") is None
