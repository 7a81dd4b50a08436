"""The service checks every backend result against its feature's contract (issue 13, item 1).

A misbehaving backend (a frame short, transposed, 1-D, None, half precision, inf, f0 not NaN
where unvoiced) is a `BackendError` naming backend, plugin and the fault; with ``fallback``
the next eligible backend serves the call, as it would after a crash.
"""

from __future__ import annotations

from typing import Any

import librosa
import numpy as np
import pytest

from gpuaudio import AudioFeatureService, BackendError, BackendSpec, F0Frames, hookimpl
from gpuaudio.contract import frame_count
from gpuaudio.device import CPU_ONLY
from gpuaudio.errors import InvalidAudioError
from gpuaudio.plugins import make_plugin_manager

FAULT = {"name": ""}
"""Which fault the backends below commit; set by each test through monkeypatch."""


def _spoil(good: np.ndarray) -> Any:
    fault = FAULT["name"]
    if fault == "short":
        return good[..., :-1]
    if fault == "transposed":
        return np.swapaxes(good, -1, -2)
    if fault == "1-D":
        return good[0, 0]
    if fault == "none":
        return None
    if fault == "float16":
        return good.real.astype(np.float16) if np.iscomplexobj(good) else good.astype(np.float16)
    if fault == "inf":
        spoiled = good.copy()
        spoiled[..., 3] = np.inf
        return spoiled
    if fault == "huge":  # finite in double precision, infinite in the caller's single
        spoiled = good.astype(np.complex128 if np.iscomplexobj(good) else np.float64)
        spoiled[..., 3] = 1e39
        return spoiled
    return good


class _Unprintable(Exception):
    def __repr__(self) -> str:
        raise RuntimeError("its repr fails too")


def _misbehave(y: np.ndarray) -> None:
    """The faults of a backend's own conduct, before any result."""
    fault = FAULT["name"]
    if fault == "scribble":  # writes into its input, then fails
        y[...] = 0.0
        raise RuntimeError("scribbled on its input")
    if fault == "own-error":  # gpuaudio's error about input, for a fault of its own
        raise InvalidAudioError("an internal fault dressed as the caller's")
    if fault == "unprintable":
        raise _Unprintable()


class BadStft:
    """librosa's STFT, spoiled as `FAULT` says."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def stft(self, y, *, n_fft, hop_length, win_length, window, center, pad_mode):  # type: ignore[no-untyped-def]
        _misbehave(y)
        good = librosa.stft(
            y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
            center=center, pad_mode=pad_mode,
        )  # fmt: skip
        return _spoil(good)


class BadF0:
    """librosa's pyin, spoiled as `FAULT` says (``voiced-nan``: a NaN f0 in a voiced frame)."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def f0(self, y, sr, *, fmin, fmax, frame_length, hop_length):  # type: ignore[no-untyped-def]
        f0, flag, prob = librosa.pyin(
            y, sr=sr, fmin=fmin, fmax=fmax, frame_length=frame_length, hop_length=hop_length
        )
        if FAULT["name"] == "voiced-nan":
            flag = np.ones_like(flag)
        if FAULT["name"] == "zero-unvoiced":
            f0 = np.nan_to_num(f0)
        if FAULT["name"] == "out-of-range":  # ignores fmin/fmax: ten times the pitch
            f0 = 10 * f0
        if FAULT["name"] == "tuple":
            return f0, flag, prob
        return F0Frames(_spoil(f0), flag, prob)


class BadPlugin:
    @hookimpl
    def gpuaudio_stft_backends(self):  # type: ignore[no-untyped-def]
        return [BackendSpec("badstft", "stft", f"{__name__}:BadStft", priority=99)]

    @hookimpl
    def gpuaudio_f0_backends(self):  # type: ignore[no-untyped-def]
        return [BackendSpec("badf0", "f0", f"{__name__}:BadF0", priority=99)]


@pytest.fixture
def registry():
    registry = make_plugin_manager()
    registry.register(BadPlugin(), name="badplug")
    return registry


SIGNAL = (0.1 * np.random.default_rng(0).standard_normal(4000)).astype(np.float32)
STFT_FAULTS = {
    "short": r"stft has shape \(1, 257, 15\), expected \(1, 257, 16\) \(1 frame\(s\) short\)",
    "transposed": r"\(1, 16, 257\), expected \(1, 257, 16\) \(axes transposed\?\)",
    "1-D": r"stft has shape \(16,\), expected \(1, 257, 16\) \(1-D, not 3-D",
    "none": "stft is None",
    "float16": "stft has dtype float16, expected complex64 or complex128",
    "inf": "stft has NaN or infinite values",
    "huge": "stft has values beyond float32's range",
}


@pytest.mark.parametrize("fault", sorted(STFT_FAULTS))
def test_a_bad_stft_is_a_backend_error_naming_backend_plugin_and_fault(
    registry, monkeypatch, fault
):
    monkeypatch.setitem(FAULT, "name", fault)
    strict = AudioFeatureService(
        {"fallback": False, "backends": {"stft": "badstft"}}, registry=registry,
        device_info=CPU_ONLY,
    )  # fmt: skip
    with pytest.raises(BackendError, match=STFT_FAULTS[fault]) as raised:
        strict.stft(SIGNAL, n_fft=512, hop_length=256)
    assert "backend 'badstft' (stft, plugin 'badplug')" in str(raised.value)


@pytest.mark.parametrize("fault", ["short", "transposed", "none", "inf"])
def test_a_bad_result_falls_back_to_the_next_backend(registry, monkeypatch, fault):
    monkeypatch.setitem(FAULT, "name", fault)
    service = AudioFeatureService({}, registry=registry, device_info=CPU_ONLY)
    result = service.stft(SIGNAL, n_fft=512, hop_length=256)
    np.testing.assert_allclose(result, librosa.stft(SIGNAL, n_fft=512, hop_length=256), atol=1e-5)
    prov = service.provenance["stft"]
    assert prov.backend != "badstft"
    assert "badstft" in prov.fallbacks[0] and "contract" in prov.fallbacks[0]


@pytest.mark.parametrize(
    ("fault", "said"),
    [("scribble", "RuntimeError('scribbled on its input')"),
     ("own-error", "InvalidAudioError(\"an internal fault dressed as the caller's\")"),
     ("unprintable", "_Unprintable (whose description failed)")],
)  # fmt: skip
def test_a_backend_that_misbehaves_falls_back_and_the_callers_audio_is_untouched(
    registry, monkeypatch, fault, said
):
    monkeypatch.setitem(FAULT, "name", fault)
    y = SIGNAL.copy()
    service = AudioFeatureService({}, registry=registry, device_info=CPU_ONLY)
    result = service.stft(y, n_fft=512, hop_length=256)
    np.testing.assert_array_equal(y, SIGNAL)  # the caller's array, as given
    np.testing.assert_allclose(result, librosa.stft(SIGNAL, n_fft=512, hop_length=256), atol=1e-5)
    (fallback,) = service.provenance["stft"].fallbacks
    assert fallback.startswith("badstft: backend 'badstft' (stft) failed on cpu: ")
    assert fallback.endswith(said)
    strict = AudioFeatureService(
        {"fallback": False, "backends": {"stft": "badstft"}}, registry=registry,
        device_info=CPU_ONLY,
    )  # fmt: skip
    with pytest.raises(BackendError, match="backend 'badstft'"):
        strict.stft(y, n_fft=512, hop_length=256)
    np.testing.assert_array_equal(y, SIGNAL)


@pytest.mark.parametrize(
    ("field", "value"),
    [("priority", "10"), ("priority", True), ("min_compute_capability", "7.0"),
     ("min_compute_capability", (7,)), ("requires", "librosa"), ("devices", "cpu"),
     ("min_free_memory_mb", -1), ("auto", 1), ("name", 5), ("description", None)],
)  # fmt: skip
def test_a_spec_of_the_wrong_type_is_refused_in_its_hook(field, value):
    with pytest.raises(ValueError, match=f"BackendSpec.{field} must be"):
        BackendSpec(**{"name": "x", "feature": "stft", "load": "m:f", field: value})
    assert BackendSpec("x", "stft", "m:f", requires=["numpy"]).requires == ("numpy",)


def test_a_good_result_passes(registry, monkeypatch):
    monkeypatch.setitem(FAULT, "name", "")
    service = AudioFeatureService({"fallback": False}, registry=registry, device_info=CPU_ONLY)
    assert service.stft(SIGNAL, n_fft=512, hop_length=256).shape == (257, 16)
    assert service.provenance["stft"].backend == "badstft"


F0_FAULTS = {
    "short": r"f0 has shape \(1, 15\), expected \(1, 16\) \(1 frame\(s\) short\)",
    "float16": "f0 has dtype float16",
    "voiced-nan": "f0 must be NaN exactly where voiced_flag is False",
    "zero-unvoiced": "f0 must be NaN exactly where voiced_flag is False",
    "tuple": "returned tuple, expected F0Frames",
}


@pytest.mark.parametrize("fault", sorted(F0_FAULTS))
def test_a_bad_f0_result_is_a_backend_error(registry, monkeypatch, fault):
    monkeypatch.setitem(FAULT, "name", fault)
    strict = AudioFeatureService({"fallback": False}, registry=registry, device_info=CPU_ONLY)
    with pytest.raises(BackendError, match=F0_FAULTS[fault]):
        strict.extract_f0(SIGNAL, 8000, frame_length=1024)


@pytest.mark.parametrize(
    ("n", "span", "hop", "center"),
    [(4000, 512, 256, True), (4000, 511, 250, True), (4000, 512, 256, False), (300, 64, 7, True)],
)
def test_frame_count_is_librosas(n, span, hop, center):
    y = np.zeros(n, dtype=np.float32)
    stft = librosa.stft(y, n_fft=span, hop_length=hop, center=center, pad_mode="constant")
    assert frame_count(n, span=span, hop=hop, center=center) == stft.shape[-1]


def test_a_mel_spectrum_below_zero_breaks_the_contract():
    from gpuaudio.contract import expected_spectrum

    expected = expected_spectrum("mel", 1, 2, 3, complex_=False)
    assert expected.problem(np.zeros((1, 2, 3), np.float32)) == ""
    spoiled = np.zeros((1, 2, 3), np.float32)
    spoiled[0, 1, 2] = -1.0
    assert expected.problem(spoiled) == "mel has negative values (it is a power spectrum)"
    assert expected_spectrum("stft", 1, 2, 3, complex_=True).problem(
        np.full((1, 2, 3), -1 - 1j, np.complex64)
    ) == ""  # a complex spectrum may be negative


def test_a_pitch_outside_the_range_asked_for_is_a_backend_error(registry, monkeypatch):
    monkeypatch.setitem(FAULT, "name", "out-of-range")
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 8000)).astype(np.float32)
    strict = AudioFeatureService({"fallback": False}, registry=registry, device_info=CPU_ONLY)
    with pytest.raises(BackendError, match=r"f0 has pitches outside fmin\.\.fmax \(50\.\.550 Hz"):
        strict.extract_f0(tone, 8000, frame_length=1024)
    monkeypatch.setitem(FAULT, "name", "")
    f0, voiced, _ = strict.extract_f0(tone, 8000, frame_length=1024)
    assert voiced.any() and np.nanmedian(f0) == pytest.approx(220, rel=0.02)
