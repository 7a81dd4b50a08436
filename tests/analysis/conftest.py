"""Shared helpers: a fast, exact-enough fake F0 backend for pipeline tests, and test signals.

The spectral cues use the librosa plugin's STFT (registered beside the fake F0 backend).

The fake backend takes the spectral peak of each frame (right for pure tones) on pyin's frame
grid and records every call, so tests can check batching and chunking without paying for
pyin. End-to-end accuracy is tested with the real backends in test_validation.py.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

import gpuaudio_librosa
from gpuaudio import AudioFeatureService, BackendSpec, F0Frames, hookimpl
from gpuaudio.device import CPU_ONLY
from gpuaudio.plugins import make_plugin_manager


class PeakF0Backend:
    """F0 = strongest spectral peak in [fmin, fmax] per frame; voiced above -50 dBFS."""

    calls: ClassVar[list[tuple[int, ...]]] = []

    def __init__(self, context):
        self.context = context

    def f0(self, y, sr, *, fmin, fmax, frame_length, hop_length):
        PeakF0Backend.calls.append(y.shape)
        padded = np.pad(y, ((0, 0), (frame_length // 2, frame_length // 2)))
        frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length, axis=-1)
        frames = frames[:, ::hop_length][:, : 1 + y.shape[-1] // hop_length]
        n_fft = 4 * frame_length
        spectrum = np.abs(np.fft.rfft(frames * np.hanning(frame_length), n=n_fft, axis=-1))
        freqs = np.fft.rfftfreq(n_fft, 1 / sr)
        band = (freqs >= fmin) & (freqs <= fmax)
        peak = freqs[band][np.argmax(spectrum[..., band], axis=-1)]
        rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=-1))
        voiced = rms > 10 ** (-50 / 20)
        return F0Frames(np.where(voiced, peak, np.nan), voiced, voiced.astype(np.float64))


class _PeakPlugin:
    @hookimpl
    def gpuaudio_f0_backends(self):
        return [BackendSpec("peak", "f0", f"{__name__}:PeakF0Backend", priority=1000)]


@pytest.fixture(scope="session")
def make_fake_service():
    """Build services (from a config mapping) whose F0 comes from `PeakF0Backend`."""

    def make(config=None):
        registry = make_plugin_manager(load_entry_points=False)
        registry.register(_PeakPlugin(), name="peak")
        registry.register(gpuaudio_librosa, name="librosa")  # spectral cues: librosa's STFT
        config = dict(config or {})
        config.setdefault("backends", {"f0": "peak"})  # named: the analysis' own pick is acpitch
        return AudioFeatureService(config, registry=registry, device_info=CPU_ONLY)

    return make


@pytest.fixture
def fake_service(make_fake_service):
    """A service whose F0 comes from `PeakF0Backend`."""
    return make_fake_service()


@pytest.fixture
def f0_calls():
    """Shapes of the batches `PeakF0Backend` received during the test."""
    PeakF0Backend.calls.clear()
    return PeakF0Backend.calls


@pytest.fixture(scope="session")
def tones():
    """`tone_call`, as a fixture (test modules can't import conftest in importlib mode)."""
    return tone_call


@pytest.fixture(scope="session")
def quick_turns():
    """`quick_turns_call`, as a fixture."""
    return quick_turns_call


_HARMONICS = range(1, 6)
_HARMONIC_AMPLITUDES = [10 ** (-12 * np.log2(k) / 20) for k in _HARMONICS]
"""A voice-like spectrum falling by 12 dB per octave: the fundamental strongest, and enough
energy above 300 Hz for the telephone-band cues (balance, syllable nuclei) to see the tone."""
_HARMONIC_RMS = float(np.sqrt(np.sum(np.square(_HARMONIC_AMPLITUDES))))


def tone_call(
    sr: int,
    seconds: int,
    escalations: list[tuple[int, int]],
    *,
    base_hz: float = 140.0,
    raise_st: float = 5.0,
    gain_db: float = 8.0,
    seed: int = 0,
    lively: bool = False,
    jitter_st: float = 0.4,
) -> np.ndarray:
    """Whole-second harmonic tones with a little per-second pitch/level jitter and 0.2-s pauses;
    inside the escalation spans (whole seconds) pitch and level are raised. Each tone glides
    by 2.5-4 semitones up or down around its pitch, as intonation does (a held tone is music
    to the analysis, not speech). `lively`: inside the spans each tone instead sweeps up from
    where its glide would start (the voice's floor kept) to `raise_st` more on average, as a
    lively phrase does: its 20th percentile rises by 0.4 x `raise_st`. `jitter_st`: the spread
    of the tones' pitch from second to second (a real voice over a phone line: 2-3 st)."""
    rng = np.random.default_rng(seed)
    pitch_st = rng.normal(0, jitter_st, seconds)
    level_db = -26 + rng.normal(0, 1.0, seconds)
    glide_st = rng.uniform(2.5, 4.0, seconds) * rng.choice([-1.0, 1.0], seconds)
    for start, end in escalations:
        pitch_st[start:end] += raise_st
        level_db[start:end] += gain_db
        if lively:
            glide_st[start:end] = np.abs(glide_st[start:end]) + 2 * raise_st
    t = np.arange(sr) / sr
    gate = (t < 0.8).astype(np.float64)
    ramp = np.clip(t / 0.8, 0.0, 1.0) - 0.5  # the glide, centred on the tone's pitch
    seconds_of_audio = []
    for st, db, glide in zip(pitch_st, level_db, glide_st, strict=True):
        hz = base_hz * 2 ** ((st + glide * ramp) / 12)
        phase = 2 * np.pi * np.cumsum(hz) / sr
        voice = sum(_HARMONIC_AMPLITUDES[k - 1] * np.sin(k * phase) for k in _HARMONICS)
        seconds_of_audio.append(np.sqrt(2) * 10 ** (db / 20) * gate * voice / _HARMONIC_RMS)
    return np.concatenate(seconds_of_audio).astype(np.float32)


def quick_turns_call(sr: int, raise_st: float, gain_db: float) -> np.ndarray:
    """3-s turns of a calm low voice (110 Hz) and a high one (250 Hz), 60 s of each; the high
    voice rises over its own seconds 27-45, which are 57-90 s on the call's clock."""
    low = tone_call(sr, 60, [], base_hz=110.0, seed=1)
    high = tone_call(sr, 60, [(27, 45)], base_hz=250.0, raise_st=raise_st, gain_db=gain_db, seed=2)
    return np.concatenate([
        part for k in range(20) for part in (low[k * 3 * sr : (k + 1) * 3 * sr],
                                             high[k * 3 * sr : (k + 1) * 3 * sr])
    ])
