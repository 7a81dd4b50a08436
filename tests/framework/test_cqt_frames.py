"""CQT against librosa.cqt for every input length: the librosa backend is librosa (identical
arrays, early downsampling's extra frame and short input included), `CqtGeometry` predicts
librosa's frame count, and what librosa refuses is a gpuaudio error naming the parameter."""

from __future__ import annotations

import warnings

import librosa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuaudio import AudioFeatureService, InvalidAudioError, InvalidParameterError
from gpuaudio.cqt_geometry import CqtGeometry

C1 = 32.70319566257483

# (sr, hop_length, n_bins, bins_per_octave, fmin): early downsampling by 2**0 .. 2**5
SETTINGS = [
    (22050, 64, 24, 12, C1),
    (22050, 512, 84, 12, C1),
    (16000, 256, 60, 12, C1),
    (8000, 128, 36, 12, 65.0),
    (22050, 64, 12, 12, C1),
    (44100, 1024, 48, 24, 55.0),
    (16000, 96, 24, 12, 100.0),
    (22050, 512, 1, 12, 440.0),
]


@pytest.fixture(scope="module")
def service() -> AudioFeatureService:
    return AudioFeatureService({"backends": {"cqt": "librosa"}, "fallback": False})


def _librosa_cqt(y: np.ndarray, setting: tuple[int, int, int, int, float]) -> np.ndarray:
    sr, hop, n_bins, bpo, fmin = setting
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_fft too large" on short input
        return librosa.cqt(
            y, sr=sr, hop_length=hop, n_bins=n_bins, bins_per_octave=bpo, fmin=fmin
        )


def _ours(service: AudioFeatureService, y: np.ndarray, setting) -> np.ndarray:
    sr, hop, n_bins, bpo, fmin = setting
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return service.cqt(y, sr, hop_length=hop, n_bins=n_bins, bins_per_octave=bpo, fmin=fmin)


def test_the_dropped_frame_is_back(service):
    """66,227 samples at hop 64 with 24 bins: librosa downsamples by 32 first and returns
    1036 frames; the service expected 1 + n // hop = 1035 and refused librosa's result."""
    y = (0.1 * np.random.default_rng(0).standard_normal(66_227)).astype(np.float32)
    setting = (22050, 64, 24, 12, C1)
    ref = _librosa_cqt(y, setting)
    assert ref.shape == (24, 1036)
    assert CqtGeometry(22050, 64, C1, 24, 12).frames(66_227) == 1036
    np.testing.assert_array_equal(_ours(service, y, setting), ref)


@pytest.mark.parametrize("n", [1, 40, 300, 511, 700])
def test_short_input_is_librosa_exactly(service, n):
    """Short input was zero-padded to 512 samples before librosa saw it (up to 38% off)."""
    y = (0.1 * np.random.default_rng(n).standard_normal(n)).astype(np.float32)
    setting = (22050, 512, 84, 12, C1)
    np.testing.assert_array_equal(_ours(service, y, setting), _librosa_cqt(y, setting))


@settings(max_examples=25, deadline=None)
@given(
    setting=st.sampled_from(SETTINGS),
    n=st.one_of(st.integers(1, 3000), st.integers(3000, 40_000)),
    batch=st.integers(1, 2),
)
def test_every_length_matches_librosa(service, setting, n, batch):
    """Frame count (CqtGeometry) and values of the librosa backend equal librosa.cqt's, or
    both refuse (input shorter than librosa's early downsampling factor)."""
    sr, hop, n_bins, bpo, fmin = setting
    geometry = CqtGeometry(sr, hop, fmin, n_bins, bpo)
    y = (0.1 * np.random.default_rng(n).standard_normal((batch, n))).astype(np.float32)
    try:
        ref = _librosa_cqt(y, setting)
    except librosa.util.exceptions.ParameterError:
        assert n < geometry.min_samples
        with pytest.raises(InvalidAudioError, match=f"at least that many.*|{n} samples"):
            _ours(service, y, setting)
        return
    assert ref.shape[-1] == geometry.frames(n)
    np.testing.assert_array_equal(_ours(service, y, setting), ref)


@pytest.mark.parametrize(("sr", "n_bins", "fits"), [(8000, 84, 83), (11025, 96, 89)])
def test_filters_above_nyquist_name_n_bins_as_librosa_refuses(service, sr, n_bins, fits):
    """cqt at 8 kHz with the defaults: librosa raises (top filter reaches 4122 Hz)."""
    y = np.zeros(sr, dtype=np.float32)
    for refused in (n_bins, fits + 1):
        with pytest.raises(librosa.util.exceptions.ParameterError):
            librosa.cqt(y, sr=sr, n_bins=refused)
    with pytest.raises(InvalidParameterError, match=rf"n_bins={n_bins} .* n_bins <= {fits}\b"):
        service.cqt(y, sr, n_bins=n_bins)
    assert service.cqt(y, sr, n_bins=fits).shape == librosa.cqt(y, sr=sr, n_bins=fits).shape
    with pytest.raises(InvalidParameterError, match="lower fmin"):
        service.cqt(y, sr, fmin=sr / 2 - 1, n_bins=2)
