"""Arousal cues beyond F0 and level, measured per analysis window, and their time context.

- **Spectral balance** (`balance_db`): energy of 1000-3400 Hz over 300-1000 Hz of the voiced
  frames, in dB: eGeMAPS' alpha ratio moved inside the telephone band so that it means the
  same on every channel. Raised vocal effort flattens the spectral slope, which raises it
  (Sundberg & Nordenberg 2006; Eyben et al. 2016); a broadband gain change, such as a phone
  line's automatic gain control, does not move it.
- **Spectral flatness** (`flatness`): geometric over arithmetic mean of the 300-3400 Hz power
  spectrum, median over the window's voiced frames (all frames where none is): about 0.56 for
  white noise, far lower for voiced speech. Used by the voice-activity decision, not by the score.
- **Speech-rate proxy** (`onset_rate_hz`): voiced onsets (an unvoiced frame followed by a
  voiced one) per second: roughly syllable nuclei per second.

The spectra come from the service's own STFT backend (`AudioFeatureService.stft`), so on a
GPU the spectral path (torch/nnAudio) serves the main job too. Frames are the F0 grid's: one
STFT frame of ``hop`` samples centred on each F0 frame.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gpuaudio.service import AudioFeatureService

LOW_BAND_HZ = (300.0, 1000.0)
HIGH_BAND_HZ = (1000.0, 3400.0)
_WINDOWS_PER_STFT_CALL = 512
"""Windows per STFT call: bounds the spectrogram held at once (~65 MB at 16 kHz)."""
_TINY = 1e-20


def spectral_measures(
    service: AudioFeatureService, batch: np.ndarray, sr: int, hop: int, voiced: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(balance_db, flatness) per window of `batch` (windows, samples).

    `voiced` (windows, frames) are the F0 backend's voicing flags on the frame grid of `hop`;
    balance is NaN for a window without voiced frames.
    """
    n_fft = hop if hop % 2 == 0 else hop + 1
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    low = (freqs >= LOW_BAND_HZ[0]) & (freqs < LOW_BAND_HZ[1])
    high = (freqs >= HIGH_BAND_HZ[0]) & (freqs < min(HIGH_BAND_HZ[1], sr / 2))
    band = (freqs >= LOW_BAND_HZ[0]) & (freqs < min(HIGH_BAND_HZ[1], sr / 2))
    balance = np.full(batch.shape[0], np.nan)
    flatness = np.full(batch.shape[0], np.nan)
    for start in range(0, batch.shape[0], _WINDOWS_PER_STFT_CALL):
        stop = min(start + _WINDOWS_PER_STFT_CALL, batch.shape[0])
        spectrum = service.stft(batch[start:stop], n_fft=n_fft, hop_length=hop)
        power = np.abs(spectrum).astype(np.float64) ** 2  # (windows, bins, frames)
        frames = min(power.shape[-1], voiced.shape[-1])
        power, mask = power[..., :frames], voiced[start:stop, :frames]
        low_energy = np.where(mask, power[:, low].sum(axis=1), 0.0).sum(axis=1)
        high_energy = np.where(mask, power[:, high].sum(axis=1), 0.0).sum(axis=1)
        has_voice = mask.any(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = 10 * np.log10((high_energy + _TINY) / (low_energy + _TINY))
        balance[start:stop] = np.where(has_voice, ratio, np.nan)
        in_band = power[:, band] + _TINY
        frame_flatness = np.exp(np.mean(np.log(in_band), axis=1)) / np.mean(in_band, axis=1)
        # Over the voiced frames (pauses are noise); all frames where none is voiced.
        voiced_flatness = np.where(mask, frame_flatness, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)  # rows without voice
            flatness[start:stop] = np.where(
                has_voice, np.nanmedian(voiced_flatness, axis=1), np.median(frame_flatness, axis=1)
            )
    return balance, flatness


def onset_rate(voiced: np.ndarray, window_s: float) -> np.ndarray:
    """Voiced onsets per second in each window of `voiced` (windows, frames)."""
    flags = voiced.astype(bool)
    onsets = (flags[:, 1:] & ~flags[:, :-1]).sum(axis=1) + flags[:, 0]
    rate: np.ndarray = onsets / window_s
    return rate


def running_mean(values: np.ndarray, keep: np.ndarray, half_width: int) -> np.ndarray:
    """As `running_median`, with the mean: for counts (onsets per window), whose median moves
    in whole steps while their mean resolves a change of a fraction of a count."""
    return _running(values, keep, half_width, np.nanmean)


def running_median(values: np.ndarray, keep: np.ndarray, half_width: int) -> np.ndarray:
    """Median of `values` over the windows ``i - half_width .. i + half_width`` that `keep`
    marks, for each window that `keep` marks; NaN elsewhere.

    A median keeps the edges of a step (the start of an escalation) where a mean would smear
    them, and it ignores a minority of mis-tracked windows (octave errors) in the context.
    """
    return _running(values, keep, half_width, np.nanmedian)


def running_percentile(
    values: np.ndarray, keep: np.ndarray, half_width: int, percent: float
) -> np.ndarray:
    """As `running_median`, with the `percent`-th percentile (a running noise floor)."""
    return _running(values, keep, half_width, partial(np.nanpercentile, q=percent))


def running_count(keep: np.ndarray, half_width: int) -> np.ndarray:
    """How many windows `keep` marks within ``i - half_width .. i + half_width``, for each
    window that `keep` marks; NaN elsewhere."""
    return _running(np.ones(keep.shape[0]), keep, half_width, np.nansum)


def _running(values: np.ndarray, keep: np.ndarray, half_width: int, reduce: Any) -> np.ndarray:
    n = values.shape[0]
    masked = np.where(keep, values, np.nan)
    if half_width <= 0 or n == 0:
        return masked
    padded = np.pad(masked, half_width, constant_values=np.nan)
    context = np.lib.stride_tricks.sliding_window_view(padded, 2 * half_width + 1)
    result = np.full(n, np.nan)
    if keep.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN contexts
            result[keep] = reduce(context[keep], axis=1)
    return result
