"""Validation at the service boundary: one place that turns user input into clean arrays."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from gpuaudio.errors import InvalidAudioError, InvalidParameterError

MIN_SAMPLES = 512
"""Shorter input is zero-padded to this length and the result trimmed (REQ-E-004)."""
_MAX_CHANNEL_AXIS = 16
MAX_SAMPLE_RATE = 2_000_000
"""Highest sample rate accepted (ultrasound recorders reach 768 kHz); above it a number is
not a sample rate, and the buffers it would size (CQT filters...) would not fit in memory."""
MAX_PEAK = 100.0
"""Largest sample magnitude the escalation analysis takes, 40 dB over full scale: float audio
lies within -1..1 (a little over after gain); far beyond, the samples are integer PCM stored
as float, or bytes of another format, and every level would be meaningless."""


def audio(y: Any, *, name: str = "y") -> np.ndarray:
    """Return `y` as a C-contiguous float32 array of shape (..., samples), or raise.

    Float input is cast to float32. Signed integer PCM is scaled to [-1, 1) by
    ``1 / 2**(bits - 1)`` as ``librosa.util.buf_to_float`` does; unsigned 8-bit PCM (WAV) is
    centred on 128 first. Leading axes are independent signals (channels), as in librosa.
    """
    if _is_tensor(y):
        y = y.detach().cpu().numpy()
    array = np.asarray(y)
    if array.dtype == np.bool_ or array.dtype.kind not in "fiu":
        raise InvalidAudioError(
            f"{name} must hold real float or integer PCM samples, got dtype {array.dtype}"
        )
    if array.ndim == 0:
        raise InvalidAudioError(f"{name} must be an array of samples, got a scalar")
    if array.size == 0 or array.shape[-1] == 0:
        raise InvalidAudioError(f"{name} is empty (shape {array.shape}); pass at least one sample")
    if array.ndim >= 2 and array.shape[-1] <= _MAX_CHANNEL_AXIS < array.shape[-2]:
        raise InvalidAudioError(
            f"{name} has shape {array.shape}: that looks like (samples, channels) as soundfile "
            f"returns it; gpuaudio wants channels first (..., samples): pass {name}.T, "
            f"or downmix with {name}.mean(axis=-1)"
        )
    if array.dtype.kind == "u":
        if array.dtype != np.uint8:
            raise InvalidAudioError(f"{name}: unsigned PCM other than uint8 is not a known format")
        array = (array.astype(np.float32) - 128.0) / 128.0
    elif array.dtype.kind == "i":
        array = array.astype(np.float32) / float(2 ** (8 * array.dtype.itemsize - 1))
    else:
        if not np.all(np.isfinite(array)):
            bad = np.flatnonzero(~np.isfinite(array.reshape(-1)))
            raise InvalidAudioError(
                f"{name} has {bad.size} non-finite samples (NaN or inf), the first at flat "
                f"index {int(bad[0])}; repair or drop them (e.g. np.nan_to_num) before analysis"
            )
        converted = array.astype(np.float32, copy=False)
        if converted is not array and not np.all(np.isfinite(converted)):
            raise InvalidAudioError(
                f"{name} has samples beyond float32's range (|x| > 3.4e38), which would become "
                "inf; audio is expected within [-1, 1]: scale it first"
            )
        array = converted
    return np.ascontiguousarray(array)


def full_scale(samples: np.ndarray, *, where: str, sr: int, offset: int = 0) -> None:
    """Raise `InvalidAudioError` for a sample beyond ±`MAX_PEAK` in `samples` (finite; they
    start at sample `offset` of `where`, at `sr`; channels first): not audio scaled to full
    scale."""
    if max(samples.max(), -samples.min()) > MAX_PEAK:  # no copy of a long recording
        peaks = np.abs(samples).reshape(-1, samples.shape[-1]).max(axis=0)
        first = int(np.argmax(peaks > MAX_PEAK))
        raise InvalidAudioError(
            f"{where}: a sample of magnitude {float(peaks[first]):.3g} at "
            f"{(offset + first) / sr:.3f} s, far outside full scale (-1..1): these are not audio "
            "samples scaled as audio is (integer PCM stored or read as float? another format?); "
            "convert or rescale the recording first"
        )


def _is_tensor(y: Any) -> bool:
    return type(y).__module__.startswith("torch") and hasattr(y, "detach")


def sample_rate(sr: Any) -> int:
    """A positive integer sample rate (22050.0 is accepted, 22050.5 is not)."""
    if isinstance(sr, bool) or not isinstance(sr, numbers.Real):
        raise InvalidParameterError(f"sr must be a positive integer sample rate, got {sr!r}")
    rate = float(sr)
    if not rate.is_integer() or rate <= 0:
        raise InvalidParameterError(f"sr must be a positive integer sample rate, got {sr!r}")
    if rate > MAX_SAMPLE_RATE:
        raise InvalidParameterError(
            f"sr={sr!r} is above {MAX_SAMPLE_RATE} Hz, more than any audio converter delivers: "
            "is it the sample rate?"
        )
    return int(rate)


def positive_int(name: str, value: Any) -> int:
    """A positive integer parameter (hop_length, n_fft...)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InvalidParameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_int_or(name: str, value: Any, default: int) -> int:
    """`default` when `value` is None, else `value` as a positive integer (0 is refused, as
    librosa refuses it, not taken for "the default")."""
    return positive_int(name, default if value is None else value)


def window_name(window: Any) -> str:
    """A window function name that scipy.signal.get_window knows ("hann", "hamming"...)."""
    if isinstance(window, str) and window == "hann":  # the default: no scipy.signal (~0.5 s)
        return "hann"
    from scipy.signal import get_window

    try:
        if not isinstance(window, str):
            raise TypeError
        get_window(window, 8)
    except (ValueError, TypeError):
        raise InvalidParameterError(
            f"window must be the name of a window function scipy knows (e.g. 'hann', "
            f"'hamming', 'blackman'), got {window!r}"
        ) from None
    return window


def finite_real(name: str, value: Any) -> float:
    """A finite real number (not a bool or a string)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidParameterError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def frequency_range(fmin: Any, fmax: Any, sr: int) -> tuple[float, float]:
    """0 < fmin < fmax <= sr / 2."""
    for label, value in (("fmin", fmin), ("fmax", fmax)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidParameterError(f"{label} must be a finite frequency in Hz, got {value!r}")
        if not np.isfinite(float(value)):
            raise InvalidParameterError(f"{label} must be a finite frequency in Hz, got {value!r}")
    if fmin <= 0:
        raise InvalidParameterError(f"fmin must be above 0 Hz, got {fmin}")
    if fmin >= fmax:
        raise InvalidParameterError(f"fmin ({fmin} Hz) must be below fmax ({fmax} Hz)")
    if fmax > sr / 2:
        raise InvalidParameterError(
            f"fmax ({fmax} Hz) is above the Nyquist frequency ({sr / 2} Hz) of sr={sr}; "
            "lower fmax or use a higher sample rate"
        )
    return float(fmin), float(fmax)
