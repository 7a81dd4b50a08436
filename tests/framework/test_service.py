"""AudioFeatureService with the librosa backends: identical to plain librosa, chunking, padding."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuaudio import (
    AudioFeatureService,
    BackendError,
    BackendSpec,
    BackendUnavailableError,
    GpuOutOfMemoryError,
    InvalidParameterError,
    hookimpl,
)
from gpuaudio.device import CPU_ONLY
from gpuaudio.plugins import make_plugin_manager
from gpuaudio.testing import harmonic_tone

RATES = st.sampled_from([8000, 16000, 22050, 44100])


@pytest.fixture(scope="module")
def service():
    return AudioFeatureService(
        {"backends": {"f0": "librosa", "stft": "librosa", "mel": "librosa", "cqt": "librosa"}}
    )


def noisy(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(n)).astype(np.float32)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(1100, 20000),
    n_fft=st.sampled_from([256, 512, 1024]),
    hop=st.sampled_from([64, 128, 300]),
    center=st.booleans(),
    seed=st.integers(0, 99),
)
def test_stft_equals_librosa(service, n, n_fft, hop, center, seed):
    y = noisy(n, seed)
    ours = service.stft(y, n_fft=n_fft, hop_length=hop, center=center)
    ref = librosa.stft(y, n_fft=n_fft, hop_length=hop, center=center, pad_mode="constant")
    assert ours.dtype == ref.dtype == np.complex64
    np.testing.assert_array_equal(ours, ref)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sr=RATES,
    n=st.integers(600, 30000),
    hop=st.sampled_from([128, 256, 512]),
    seed=st.integers(0, 99),
)
def test_mel_equals_librosa(service, sr, n, hop, seed):
    y = noisy(n, seed)
    ours = service.melspectrogram(y, sr, n_fft=1024, hop_length=hop, n_mels=40)
    ref = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=hop, n_mels=40)
    np.testing.assert_array_equal(ours, ref)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sr=st.sampled_from([8000, 16000, 22050]),
    f0=st.floats(80, 400),
    hop=st.sampled_from([256, 512]),
    seconds=st.floats(0.2, 1.0),
)
def test_pyin_equals_librosa(service, sr, f0, hop, seconds):
    y = harmonic_tone(f0, sr, seconds)
    ours = service.extract_f0(y, sr, frame_length=1024, hop_length=hop)
    ref = librosa.pyin(y, fmin=50.0, fmax=550.0, sr=sr, frame_length=1024, hop_length=hop)
    for a, b in zip(ours, ref, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_cqt_equals_librosa(service):
    y = noisy(22050, 3)
    np.testing.assert_array_equal(service.cqt(y, 22050), librosa.cqt(y, sr=22050))


def test_leading_axes_are_kept(service):
    y = noisy(3 * 2 * 4000, 1).reshape(3, 2, 4000)
    assert service.stft(y, n_fft=512).shape == (3, 2, 257, 32)
    f0, flag, prob = service.extract_f0(y, 16000, frame_length=1024)
    assert f0.shape == flag.shape == prob.shape == (3, 2, 16)


def test_short_input_is_padded_and_trimmed(service):
    y = harmonic_tone(200, 16000, 0.02)[:300]
    ours = service.stft(y, n_fft=512, hop_length=128)
    np.testing.assert_array_equal(ours, librosa.stft(y, n_fft=512, hop_length=128))
    f0 = service.extract_f0(y, 16000, frame_length=1024)
    ref = librosa.pyin(y, fmin=50.0, fmax=550.0, sr=16000, frame_length=1024)
    for a, b in zip(f0, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def chunked(seconds: float, **config) -> AudioFeatureService:
    return AudioFeatureService({"memory": {"chunk_seconds": seconds}, **config})


def test_long_input_is_chunked_with_exact_seams():
    """REQ-S-002 with a tiny chunk size: seams must be invisible."""
    y = noisy(48000, 5) + harmonic_tone(150, 16000, 3.0)
    small = chunked(0.25, device="cpu")
    np.testing.assert_array_equal(
        small.stft(y, n_fft=1024, hop_length=160), librosa.stft(y, n_fft=1024, hop_length=160)
    )
    np.testing.assert_array_equal(
        small.stft(y, n_fft=1024, hop_length=160, center=False, pad_mode="reflect"),
        librosa.stft(y, n_fft=1024, hop_length=160, center=False),
    )
    # mel is a matrix product over the chunk: BLAS blocking changes the last float32 bit
    np.testing.assert_allclose(
        small.melspectrogram(y, 16000), librosa.feature.melspectrogram(y=y, sr=16000), rtol=2e-6
    )


def test_long_input_cqt_chunks_agree_closely():
    y = noisy(3 * 22050, 6) + harmonic_tone(220, 22050, 3.0)
    ours = chunked(1.0).cqt(y, 22050)
    ref = librosa.cqt(y, sr=22050)
    assert ours.shape == ref.shape
    rel = np.max(np.abs(ours - ref)) / np.max(np.abs(ref))
    assert rel < 1e-4  # resampling-filter edges differ slightly, measured ~1e-6


def test_long_input_f0_chunks_agree():
    """pyin's Viterbi is global; with 10 s of context each side the path is the same."""
    sr = 8000
    t = np.arange(sr * 30) / sr
    pitch = 150 + 40 * np.sin(2 * np.pi * 0.3 * t)
    y = (0.3 * np.sin(2 * np.pi * np.cumsum(pitch) / sr)).astype(np.float32)
    y[sr * 12 : sr * 13] = 0  # a pause inside
    ours = chunked(8.0, backends={"f0": "fastpyin"}).extract_f0(y, sr, frame_length=1024)
    ref = librosa.pyin(y, fmin=50.0, fmax=550.0, sr=sr, frame_length=1024)
    np.testing.assert_array_equal(ours[1], ref[1])
    np.testing.assert_allclose(ours[0], ref[0], equal_nan=True)


def test_f0_windows_batch(service):
    sr = 16000
    windows = np.stack(
        [harmonic_tone(f, sr, 1.0) for f in (110.0, 220.0, 330.0)]
        + [np.zeros(sr, dtype=np.float32)]
    )
    f0, confidence = service.extract_f0_windows(windows, sr)
    assert f0.shape == confidence.shape == (4,)
    np.testing.assert_allclose(f0[:3], [110.0, 220.0, 330.0], rtol=0.02)
    assert np.isnan(f0[3])
    assert np.all(confidence[:3] > 0.5) and confidence[3] < 0.1
    assert service.provenance["f0"].backend == "librosa"


def test_as_tensor(service):
    torch = pytest.importorskip("torch")
    out = service.stft(noisy(4000, 2), n_fft=512, as_tensor=True)
    assert isinstance(out, torch.Tensor) and out.shape == (257, 32)


def test_plan_is_readable(service):
    text = str(service.plan())
    assert "f0    -> librosa on cpu" in text


class _OomBackend:
    def __init__(self, context):
        self.memory = context.memory

    def f0(self, y, sr, **kwargs):
        def always_oom(start, stop):
            raise RuntimeError("CUDA out of memory (injected)")

        self.memory.map_batches(always_oom, y.shape[0], 1)


class _OomPlugin:
    @hookimpl
    def gpuaudio_f0_backends(self):
        return [BackendSpec("oomy", "f0", f"{__name__}:_OomBackend", priority=99)]


def test_oom_at_min_batch_falls_back_to_next_backend():
    registry = make_plugin_manager()
    registry.register(_OomPlugin(), name="oomplugin")
    service = AudioFeatureService(
        {"memory": {"min_batch": 1}}, registry=registry, device_info=CPU_ONLY
    )
    tone = harmonic_tone(200, 8000, 0.5)
    _ = service.extract_f0(tone, 8000, frame_length=1024)
    assert service.provenance["f0"].backend in ("acpitch", "fastpyin", "librosa")  # next ranked
    assert "out of memory" in service.provenance["f0"].fallbacks[0]
    strict = AudioFeatureService(
        {"fallback": False, "memory": {"min_batch": 1}}, registry=registry, device_info=CPU_ONLY
    )
    with pytest.raises(GpuOutOfMemoryError):
        strict.extract_f0(tone, 8000, frame_length=1024)


class _BrokenKernelBackend:
    """Fails like a GPU whose architecture the installed torch was not built for."""

    def __init__(self, context):
        self.context = context

    def f0(self, y, sr, **kwargs):
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")


class _BrokenKernelPlugin:
    @hookimpl
    def gpuaudio_f0_backends(self):
        return [BackendSpec("brokenkernel", "f0", f"{__name__}:_BrokenKernelBackend", priority=99)]


def test_an_unexpected_backend_error_is_named_and_falls_back(caplog):
    registry = make_plugin_manager()
    registry.register(_BrokenKernelPlugin(), name="brokenkernelplugin")
    tone = harmonic_tone(200, 8000, 0.5)
    service = AudioFeatureService(registry=registry, device_info=CPU_ONLY)
    with caplog.at_level("WARNING", logger="gpuaudio.service"):
        f0, _, _ = service.extract_f0(tone, 8000, frame_length=1024)
    assert np.nanmedian(f0) == pytest.approx(200, rel=0.02)  # the next backend's right answer
    provenance = service.provenance["f0"]
    assert provenance.backend in ("acpitch", "fastpyin", "librosa")
    assert provenance.fallbacks[0].startswith("brokenkernel: backend 'brokenkernel' (f0) failed")
    assert "no kernel image" in provenance.fallbacks[0]
    assert "trying the next eligible backend" in caplog.text

    strict = AudioFeatureService({"fallback": False}, registry=registry, device_info=CPU_ONLY)
    with pytest.raises(BackendError, match="'brokenkernel' \\(f0\\) failed on cpu") as caught:
        strict.extract_f0(tone, 8000, frame_length=1024)
    assert isinstance(caught.value.__cause__, RuntimeError)


class _PickyBackend:
    """Refuses the caller's parameters, as a backend with narrower limits may."""

    def __init__(self, context):
        self.context = context

    def f0(self, y, sr, **kwargs):
        raise InvalidParameterError("picky: frame_length must be at least 4096 here")


class _PickyPlugin:
    @hookimpl
    def gpuaudio_f0_backends(self):
        return [BackendSpec("picky", "f0", f"{__name__}:_PickyBackend", priority=99)]


def test_the_callers_mistake_is_not_retried_on_another_backend():
    registry = make_plugin_manager()
    registry.register(_PickyPlugin(), name="pickyplugin")
    service = AudioFeatureService(registry=registry, device_info=CPU_ONLY)
    with pytest.raises(InvalidParameterError, match="at least 4096"):
        service.extract_f0(harmonic_tone(200, 8000, 0.5), 8000, frame_length=1024)
    assert "f0" not in service.provenance  # nothing ran in its place


def test_provenance_records_the_precision_used_not_the_configured_one():
    """fastpyin computes in float64 whatever the config asks; the provenance says so."""
    service = AudioFeatureService({"backends": {"f0": "fastpyin", "stft": "librosa"},
                                   "precision": "fp16"})  # fmt: skip
    y = np.sin(np.arange(8192) / 20).astype(np.float32)
    service.extract_f0(y, 22050)
    service.stft(y)
    assert service.provenance["f0"].precision == "fp64"
    assert service.provenance["stft"].precision == "fp32"


@pytest.mark.parametrize("n_fft", [255, 511, 513])
@pytest.mark.parametrize("n", [100, 256, 300, 512])
def test_odd_n_fft_on_short_input_has_librosas_frames(service, n_fft, n):
    """An odd n_fft pads n_fft // 2 on each side, one sample short of n_fft: librosa gets one
    frame fewer when hop divides n; the padding to 512 samples used to add it back."""
    import warnings

    import librosa

    y = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # librosa: n_fft too large for the input
        expected = librosa.stft(y, n_fft=n_fft, hop_length=128)
        mel = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=n_fft, hop_length=128)
    got = service.stft(y, n_fft=n_fft, hop_length=128)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    assert service.melspectrogram(y, 22050, n_fft=n_fft, hop_length=128).shape == mel.shape


def test_a_backend_chosen_for_one_f0_call_serves_that_call_only():
    """``extract_f0(backend=...)`` takes a name or a preference list as ``[backends] f0`` does;
    the config's choice serves the calls without one."""
    service = AudioFeatureService({"device": "cpu", "backends": {"f0": "librosa"}})
    y = harmonic_tone(220.0, 16000, 0.5)
    ours = service.extract_f0(y, 16000, backend="fastpyin")
    assert service.provenance["f0"].backend == "fastpyin"
    np.testing.assert_array_equal(ours[1], service.extract_f0(y, 16000)[1])  # pyin's answer
    assert service.provenance["f0"].backend == "librosa"
    service.extract_f0(y, 16000, backend="unregistered?, fastpyin")
    assert service.provenance["f0"].backend == "fastpyin"
    assert service.resolution("f0", ["fastpyin"]).chosen.spec.name == "fastpyin"


@pytest.mark.parametrize(
    ("choice", "error"),
    [("", InvalidParameterError), (["auto", "fastpyin"], InvalidParameterError),
     (3, InvalidParameterError), ("unregistered", BackendUnavailableError)],
)
def test_a_bad_backend_choice_for_one_call_is_a_clear_error(choice, error):
    service = AudioFeatureService({"device": "cpu"})
    with pytest.raises(error):
        service.extract_f0(harmonic_tone(220.0, 16000, 0.5), 16000, backend=choice)
