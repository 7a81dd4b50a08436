"""Where the committed known-F0 sets live, and the conventions ``make_speechset.py`` writes by.

Reading a set and scoring an estimator on it is `gpuaudio.evaluation.speechset` (shared with
``gpuaudio bench --known-f0 DIR``); this module keeps what only the generator and the scripts
beside it need.
"""

from __future__ import annotations

import importlib.metadata
import sys
import types
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
SPEECH_DIR = DATA_DIR / "speech"
ESCALATION_DIR = DATA_DIR / "escalation"
TELEPHONE_DIR = DATA_DIR / "telephone"
SR = 16000
FRAME_PERIOD_MS = 5.0
CONDITIONS: dict[str, float | None] = {"clean": None, "snr20": 20.0, "snr05": 5.0}
"""Condition name -> SNR in dB of the added pink noise over the whole recording (None: none)."""
TELEPHONE_CONDITIONS: dict[str, float | None] = {"tel": 22.0}
"""The telephone set (data/telephone): the clean recordings of data/speech through a narrow-band
telephone channel (8 kHz, 300-3400 Hz band-pass, G.711 mu-law, line noise at this SNR in dB),
stored back at SR as an analysis that resamples its input would see it. Its own directory, not a
fourth condition of data/speech: a set has one sample rate and the speech set's three noise
conditions are relied on as they are."""
TELEPHONE_SR = 8000
TELEPHONE_BAND_HZ = (300.0, 3400.0)


def import_pyworld() -> types.ModuleType:
    """Import pyworld, whose ``__init__`` needs ``pkg_resources`` (gone from setuptools >= 81)."""
    shimmed = False
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            shim = types.ModuleType("pkg_resources")
            version = importlib.metadata.version("pyworld")
            shim.get_distribution = lambda _name: types.SimpleNamespace(version=version)  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
            shimmed = True
    try:
        import pyworld
    finally:
        if shimmed:  # others (pytest's syspath_prepend) must not take the shim for the real one
            del sys.modules["pkg_resources"]
    return pyworld


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS pink (1/f power) noise, shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n)
    result: np.ndarray = noise / np.sqrt(np.mean(noise**2))
    return result
