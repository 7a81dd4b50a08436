"""Bad input gets a gpuaudio error class and a message that says what to do."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuaudio import AudioFeatureService, InvalidAudioError, InvalidParameterError
from gpuaudio._validation import audio


@pytest.fixture(scope="module")
def service():
    return AudioFeatureService({"backends": {"f0": "librosa", "stft": "librosa"}})


GOOD = np.zeros(4096, dtype=np.float32)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.array([], dtype=np.float32), "empty"),
        (np.zeros((2, 0), dtype=np.float32), "empty"),
        (np.float32(1.0), "scalar"),
        (np.array([0.0, np.nan, 0.0], dtype=np.float32), "non-finite.*index 1"),
        (np.array([0.0, np.inf], dtype=np.float64), "non-finite"),
        (np.zeros((44100, 2), dtype=np.float32), r"\(samples, channels\).*\.T"),
        (np.array([1 + 2j, 0j]), "dtype complex"),
        (np.array([True, False]), "dtype bool"),
        (np.array(["a", "b"]), "dtype <U1"),
        (np.zeros(10, dtype=np.uint16), "unsigned"),
    ],
)
def test_bad_audio(service, y, match):
    with pytest.raises(InvalidAudioError, match=match):
        service.stft(y)


def test_errors_subclass_value_error():
    assert issubclass(InvalidAudioError, ValueError)
    assert issubclass(InvalidParameterError, ValueError)


def test_integer_pcm_is_scaled_like_librosa():
    import librosa

    pcm16 = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    np.testing.assert_array_equal(
        audio(pcm16), librosa.util.buf_to_float(pcm16.tobytes(), n_bytes=2)
    )
    pcm32 = np.array([2**30], dtype=np.int32)
    assert audio(pcm32)[0] == 0.5
    assert list(audio(np.array([0, 128, 255], dtype=np.uint8))) == [-1.0, 0.0, 127 / 128]


def test_float64_and_lists_become_float32():
    assert audio([0.0, 0.5]).dtype == np.float32
    assert audio(np.ones(3, dtype=np.float64)).dtype == np.float32


def test_input_is_never_modified(service):
    y = np.ones(4096, dtype=np.int16)
    before = y.copy()
    service.stft(y)
    np.testing.assert_array_equal(y, before)


@pytest.mark.parametrize("sr", [0, -16000, 22050.5, "16000", None, True, float("nan")])
def test_bad_sample_rate(service, sr):
    with pytest.raises(InvalidParameterError, match="sr must be a positive integer"):
        service.extract_f0(GOOD, sr)


def test_integral_float_sample_rate_is_accepted(service):
    f0, _, _ = service.extract_f0(GOOD, 16000.0, frame_length=1024)
    assert f0.shape == (17,)


@pytest.mark.parametrize(
    ("fmin", "fmax", "match"),
    [
        (300.0, 200.0, r"fmin \(300.0 Hz\) must be below fmax"),
        (200.0, 200.0, "must be below"),
        (0.0, 200.0, "above 0 Hz"),
        (50.0, 9000.0, r"above the Nyquist frequency \(8000.0 Hz\)"),
        (float("nan"), 200.0, "finite"),
    ],
)
def test_bad_frequency_range(service, fmin, fmax, match):
    with pytest.raises(InvalidParameterError, match=match):
        service.extract_f0(GOOD, 16000, fmin=fmin, fmax=fmax)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_fft": 8192, "center": False}, "larger than the signal"),
        ({"n_fft": 0}, "n_fft must be a positive integer"),
        ({"hop_length": 1.5}, "hop_length must be a positive integer"),
        ({"n_fft": 512, "win_length": 1024}, "win_length"),
        ({"n_fft": 8192, "pad_mode": "reflect"}, "pad_mode='reflect' needs more"),
    ],
)
def test_bad_stft_parameters(service, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        service.stft(GOOD, **kwargs)


def test_windows_must_be_two_dimensional(service):
    with pytest.raises(InvalidParameterError, match="2-D"):
        service.extract_f0_windows(np.zeros((2, 3, 1000), dtype=np.float32), 16000)


def test_cqt_hop_must_suit_octaves():
    service = AudioFeatureService({"backends": {"cqt": "librosa"}})
    with pytest.raises(InvalidParameterError, match="divisible"):
        service.cqt(np.zeros(22050, dtype=np.float32), 22050, hop_length=100)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=50))
def test_any_float_input_is_clean_or_rejected(values):
    """Never a crash deep inside: either a clean float32 array or InvalidAudioError."""
    array = np.array(values, dtype=np.float32)
    try:
        out = audio(array)
    except InvalidAudioError:
        assert not np.all(np.isfinite(array))
    else:
        assert out.dtype == np.float32 and np.all(np.isfinite(out))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.stft(GOOD, hop_length=0), "hop_length must be a positive integer, got 0"),
        (lambda s: s.stft(GOOD, win_length=0), "win_length must be a positive integer, got 0"),
        (lambda s: s.stft(GOOD, window="nope"), "window must be the name .* got 'nope'"),
        (lambda s: s.extract_f0(GOOD, 22050, hop_length=0), "hop_length .* got 0"),
        (lambda s: s.melspectrogram(GOOD, 22050, fmin=float("nan")), "fmin must be a finite"),
        (lambda s: s.melspectrogram(GOOD, 22050, fmax=float("nan")), "fmax must be a finite"),
        (lambda s: s.melspectrogram(GOOD, 22050, power=float("nan")), "power must be a finite"),
        (lambda s: s.melspectrogram(GOOD, 22050, fmin="a"), "fmin must be a finite"),
        (lambda s: s.cqt(GOOD, 22050, n_bins=10**6), "above the Nyquist"),
        (lambda s: s.cqt(GOOD, 22050, fmin=float("inf")), "fmin must be a finite"),
        (lambda s: s.extract_f0_windows(np.zeros((2, 4096), np.float32), 1), "Nyquist"),
        (lambda s: s.cqt(GOOD, 10**12), "above 2000000 Hz"),
        (lambda s: s.cqt(GOOD, 4.99e304), "is it the sample rate"),
    ],
)
def test_zero_nan_and_absurd_parameters_are_refused_by_name(service, call, match):
    """librosa raises for these; gpuaudio used to take 0 for "the default", let NaN through
    and crash with OverflowError or "negative shift count"."""
    with pytest.raises(InvalidParameterError, match=match):
        call(service)


def test_samples_beyond_float32_range_are_refused():
    y = np.array([0.0, 1e39, 0.0], dtype=np.float64)
    with pytest.raises(InvalidAudioError, match="beyond float32's range"):
        audio(y)
    assert audio(np.array([0.0, 0.5], dtype=np.float64)).dtype == np.float32
