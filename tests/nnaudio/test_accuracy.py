"""Agreement with librosa: hypothesis over lengths, n_fft, hop and rates; CQT; half precision."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import librosa
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuaudio import AudioFeatureService
from gpuaudio.testing import harmonic_tone

Services = dict[str, AudioFeatureService]
Error = Callable[[Any, Any], float]

RTOL = 1e-5
"""The contract: max |ours - librosa| / max |librosa| on float32 input."""
_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SPECTRAL_BACKENDS = ("nnaudio", "torch")


def _signal(seed: int, n: int, sr: int) -> np.ndarray:
    """A chirp plus noise: energy in every bin, not just a few."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    chirp = 0.5 * np.sin(2 * np.pi * (100 + 0.2 * sr * t / max(t[-1], 1e-3)) * t)
    signal: np.ndarray = (chirp + 0.05 * rng.standard_normal(n)).astype(np.float32)
    return signal


@pytest.mark.parametrize("backend", SPECTRAL_BACKENDS)
@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    n_fft=st.sampled_from([256, 512, 1024, 2048]),
    hop_fraction=st.sampled_from([1, 2, 3, 4, 8]),
    win_fraction=st.sampled_from([1.0, 0.75, 0.5]),
    length=st.integers(600, 12000),
    pad_mode=st.sampled_from(["constant", "reflect", "edge"]),
    center=st.booleans(),
)
def test_stft_matches_librosa(
    services: Services,
    relative_error: Error,
    backend: str,
    seed: int,
    n_fft: int,
    hop_fraction: int,
    win_fraction: float,
    length: int,
    pad_mode: Any,
    center: bool,
) -> None:
    hop, win = n_fft // hop_fraction, int(n_fft * win_fraction)
    length = max(length, n_fft)  # center=False needs one full frame
    y = _signal(seed, length, 16000)
    ours = services[backend].stft(
        y, n_fft=n_fft, hop_length=hop, win_length=win, center=center, pad_mode=pad_mode
    )
    ref = librosa.stft(
        y, n_fft=n_fft, hop_length=hop, win_length=win, center=center, pad_mode=pad_mode
    )
    assert ours.dtype == ref.dtype == np.complex64
    assert relative_error(ours, ref) <= RTOL


@pytest.mark.parametrize("backend", SPECTRAL_BACKENDS)
@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    sr=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
    n_fft=st.sampled_from([512, 1024, 2048]),
    hop=st.sampled_from([128, 160, 256, 512]),
    n_mels=st.sampled_from([20, 40, 64]),
    seconds=st.floats(0.05, 0.5),
    power=st.sampled_from([1.0, 2.0]),
)
def test_mel_matches_librosa(
    services: Services,
    relative_error: Error,
    backend: str,
    seed: int,
    sr: int,
    n_fft: int,
    hop: int,
    n_mels: int,
    seconds: float,
    power: float,
) -> None:
    y = _signal(seed, int(sr * seconds), sr)
    ours = services[backend].melspectrogram(
        y, sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=power
    )
    ref = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=power
    )
    assert ours.dtype == ref.dtype == np.float32
    assert relative_error(ours, ref) <= RTOL


def test_both_backends_agree(services: Services, relative_error: Error, noise: np.ndarray) -> None:
    nn, fft = (
        services[name].stft(noise, n_fft=1024, hop_length=256) for name in ("nnaudio", "torch")
    )
    assert relative_error(nn, fft) <= RTOL


# nnAudio's CQT1992v2 against librosa.cqt: measured max error (of the peak magnitude) up to
# 0.055 on white noise, 0.029 on tones; median up to 0.0061. The bounds sit just above.
CQT_MAX = 0.06
CQT_MEDIAN = 0.008


@pytest.mark.parametrize(
    ("sr", "hop", "n_bins", "bins_per_octave", "fmin"),
    [
        (16000, 512, 84, 12, None),
        (22050, 512, 84, 12, None),
        (44100, 512, 72, 24, 55.0),
        (8000, 128, 48, 12, 65.0),
    ],
)
@pytest.mark.parametrize("kind", ["tone", "noise"])
def test_cqt_close_to_librosa(
    services: Services,
    sr: int,
    hop: int,
    n_bins: int,
    bins_per_octave: int,
    fmin: float | None,
    kind: str,
) -> None:
    rng = np.random.default_rng(sr)
    y = (
        harmonic_tone(220.0, sr, 2.0)
        if kind == "tone"
        else (0.1 * rng.standard_normal(2 * sr)).astype(np.float32)
    )
    kwargs: dict[str, Any] = {
        "hop_length": hop,
        "n_bins": n_bins,
        "bins_per_octave": bins_per_octave,
    }
    ours = services["nnaudio"].cqt(y, sr, fmin=fmin, **kwargs)
    ref = librosa.cqt(y, sr=sr, fmin=fmin, **kwargs)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype == np.complex64
    error = np.abs(np.abs(ours) - np.abs(ref)) / np.abs(ref).max()
    assert error.max() <= CQT_MAX
    assert np.median(error) <= CQT_MEDIAN
    # the strongest bin of a tone is the same in (almost) every frame
    if kind == "tone":
        assert np.mean(np.abs(ours).argmax(0) == np.abs(ref).argmax(0)) >= 0.95


# Half precision: bounds on the relative error against librosa (measured on noise: fp16 4e-4,
# bf16 4e-3); the torch backend ignores half precision (FFT in fp32) and keeps 1e-5.
HALF_BOUNDS = {("nnaudio", "fp16"): 1e-3, ("nnaudio", "bf16"): 1e-2}


@pytest.mark.parametrize("backend", SPECTRAL_BACKENDS)
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_bounds(
    make_service: Any, relative_error: Error, backend: str, precision: str, noise: np.ndarray
) -> None:
    svc = make_service(backend, precision=precision)
    bound = HALF_BOUNDS.get((backend, precision), RTOL)
    stft = svc.stft(noise, n_fft=2048, hop_length=512)
    mel = svc.melspectrogram(noise, 16000, n_fft=2048, hop_length=512, n_mels=128)
    assert stft.dtype == np.complex64 and mel.dtype == np.float32
    assert (
        relative_error(np.abs(stft), np.abs(librosa.stft(noise, n_fft=2048, hop_length=512)))
        <= bound
    )
    ref_mel = librosa.feature.melspectrogram(y=noise, sr=16000, n_fft=2048, hop_length=512)
    assert relative_error(mel, ref_mel) <= bound
    # the precision actually used: the torch backend computes in fp32 whatever is asked
    assert svc.provenance["mel"].precision == (precision if backend == "nnaudio" else "fp32")


def test_cqt_filter_span_covers_librosa_longest_filter(make_backend: Any) -> None:
    """The kernel the backend convolves with is at least as long as librosa's longest filter."""
    from gpuaudio_nnaudio._nnaudio import NnAudioBackend

    backend = make_backend(NnAudioBackend)
    y = np.zeros((1, 4096), dtype=np.float32)
    backend.cqt(y, 22050, hop_length=512, fmin=32.70319566257483, n_bins=84, bins_per_octave=12)
    (layer,) = backend.cache._entries.values()
    longest = math.ceil(22050 / 32.70319566257483 / (2 ** (1 / 12) - 1))
    assert layer.kernel_width >= longest
