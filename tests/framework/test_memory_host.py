"""Host memory on the CPU: every backend's batch goes through the MemoryManager in groups of
signals sized from the (injected) available host memory, with results identical to one call;
a call whose result cannot fit is refused up front with the estimate."""

from __future__ import annotations

import tracemalloc
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuaudio import AudioFeatureService, GpuAudioError, InsufficientMemoryError
from gpuaudio.config import MemoryConfig
from gpuaudio.memory import MemoryManager

LIBROSA = {"backends": {"f0": "librosa", "stft": "librosa", "mel": "librosa", "cqt": "librosa"}}
MB = 10**6


def _service(host_bytes: int | None = None) -> AudioFeatureService:
    probe = None if host_bytes is None else (lambda: host_bytes)
    return AudioFeatureService(LIBROSA, host_memory=probe)


def test_cpu_batch_size_is_a_hard_budget_without_the_gpu_floor():
    manager = MemoryManager("cpu", MemoryConfig(min_batch=128), free_memory=lambda: 10 * MB)
    assert manager.free_bytes() == 10 * MB
    assert manager.batch_size(1 * MB) == 5  # 50% of 10 MB: below min_batch on a CPU
    assert manager.batch_size(100 * MB) == 1  # one item at a time, never zero
    assert manager.items_fitting(1 * MB, reserved=6 * MB) == 2  # what is promised is not free
    assert manager.items_fitting(6 * MB) == 0
    gpu = MemoryManager("cuda:0", MemoryConfig(min_batch=128), free_memory=lambda: 10 * 2**30)
    assert gpu.batch_size(1 * 2**30) == 128  # the GPU keeps its floor (OOM halving)


FEATURES = {  # each call, and a host budget that fits a few of its signals at a time
    "stft": (lambda s, y: s.stft(y), 3 * MB),
    "mel": (lambda s, y: s.melspectrogram(y, 22050), 3 * MB),
    "cqt": (lambda s, y: s.cqt(y, 22050, n_bins=36), MB // 4),
    "f0": (lambda s, y: s.extract_f0(y[:6], 22050), 6 * MB // 10),
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_a_tiny_host_budget_splits_the_batch_with_identical_results(feature):
    y = (0.1 * np.random.default_rng(1).standard_normal((40, 3000))).astype(np.float32)
    call, budget = FEATURES[feature]
    whole_service, tiny = _service(), _service(budget)
    with mock.patch.object(whole_service, "_dispatch", wraps=whole_service._dispatch) as one:
        whole = call(whole_service, y)
    with mock.patch.object(tiny, "_dispatch", wraps=tiny._dispatch) as grouped:
        split = call(tiny, y)
    assert one.call_count == 1
    assert grouped.call_count > 2  # several groups of signals, each a backend call
    for a, b in zip(np.atleast_1d(whole), np.atleast_1d(split), strict=True):
        if feature == "mel":  # a BLAS product with the mel basis: its blocking, and so the order
            # of its sums, follows the batch's size (seen with numpy 2.4's OpenBLAS): float32's
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)
        else:
            np.testing.assert_array_equal(a, b)  # bit for bit: librosa is row-independent


@pytest.fixture(scope="module")
def unbounded() -> AudioFeatureService:
    return _service()


@settings(max_examples=15, deadline=None)
@given(
    feature=st.sampled_from(["stft", "mel", "cqt"]),
    rows=st.integers(1, 9),
    n=st.integers(1, 4000),
    budget=st.integers(10_000, 20 * MB),
)
def test_any_budget_gives_the_unbounded_result_or_refuses(unbounded, feature, rows, n, budget):
    """Batch invariance under grouping: whatever the host budget, the result is the one of an
    unbounded call, or the call is refused up front because the result itself cannot fit."""
    call = FEATURES[feature][0]
    y = (0.1 * np.random.default_rng(n).standard_normal((rows, n))).astype(np.float32)
    try:
        expected = call(unbounded, y)
    except GpuAudioError:  # e.g. CQT input shorter than librosa's downsampling factor
        return
    one_signal = 210_000  # the service's work estimate for one signal here stays below this
    try:
        grouped = call(_service(budget), y)
    except InsufficientMemoryError:
        assert expected.nbytes + one_signal > 0.8 * budget  # refused only when it cannot fit
        return
    assert expected.nbytes <= 0.8 * budget
    if feature == "mel":  # librosa's mel is an einsum through BLAS, whose blocking depends on
        # how many rows it gets: equal to float32 rounding (5e-7 relative seen), not bit for bit
        np.testing.assert_allclose(grouped, expected, rtol=2e-6, atol=0)
    else:
        np.testing.assert_array_equal(grouped, expected)


def test_grouping_bounds_the_peak():
    """(100_000, 20) once peaked at 5.6 GB (every row padded to 512 samples at once); the
    same shape of call, 2000 rows, now peaks near its result plus one group's work."""
    many_short = np.zeros((2000, 20), dtype=np.float32)
    peaks = []
    for service in (_service(), _service(60 * MB)):
        tracemalloc.start()
        try:
            result = service.stft(many_short)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert result.shape == (2000, 1025, 1)
    assert peaks[1] < 0.6 * peaks[0], [p / MB for p in peaks]


def test_a_result_that_cannot_fit_is_refused_up_front_with_the_estimate():
    """stft of (1_000_000, 20) float32 (80 MB) was killed by the kernel at 23.8 GB; its
    result alone is 8.2 GB (1025 complex64 bins), so 4 GB of host memory refuses it at once."""
    many_short = np.zeros((1_000_000, 20), dtype=np.float32)
    with pytest.raises(
        InsufficientMemoryError,
        match=r"1000000 signal\(s\) of 1 frame\(s\).*about 8\.2 GB.*result 8\.2 GB.*4\.0 GB",
    ):
        _service(4 * 10**9).stft(many_short)
    with pytest.raises(InsufficientMemoryError, match="fewer or shorter signals"):
        _service(5 * MB).melspectrogram(np.zeros((200, 22050), np.float32), 22050)  # 4.5 MB
    assert _service(5 * MB).stft(np.zeros(2048, np.float32)).shape == (1025, 5)
