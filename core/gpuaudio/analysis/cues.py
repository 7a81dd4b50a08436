"""Arousal cues beyond F0 and level, measured per analysis window, and their time context.

- **Spectral balance** (`balance_db`): energy of 1000-3400 Hz over 300-1000 Hz of the voiced
  frames, in dB: eGeMAPS' alpha ratio moved inside the telephone band so that it means the
  same on every channel. Raised vocal effort flattens the spectral slope, which raises it
  (Sundberg & Nordenberg 2006; Eyben et al. 2016); a broadband gain change, such as a phone
  line's automatic gain control, does not move it.
- **Spectral flatness** (`flatness`): geometric over arithmetic mean of the 300-3400 Hz power
  spectrum, median over the window's voiced frames (all frames where none is): about 0.56 for
  white noise, far lower for voiced speech. Used by the voice-activity decision, not by the score.
- **Speech rate** (`syllable_rate_hz`): syllable nuclei per second, counted as de Jong & Wempe
  (2009) do in Praat: peaks of the 300-3400 Hz intensity (~30-ms frames every 10 ms, smoothed
  over three frames) that stand out by >= 2 dB from their surroundings, lie >= 80 ms apart and
  fall on a voiced frame. The band makes it mean the same on every channel.

The spectra come from the service's own STFT backend (`AudioFeatureService.stft`), so on a
GPU the spectral path (torch/nnAudio) serves the main job too. Balance and flatness use the F0
grid's frames (one STFT frame of ``hop`` samples centred on each F0 frame); the syllable
nuclei a finer contour of their own (10-ms hop).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gpuaudio.service import AudioFeatureService

FEATURES = ("pitch", "level", "balance", "rate", "variability")
"""The cues the score adds, in the order of its weights and z-scores."""

LOW_BAND_HZ = (300.0, 1000.0)
HIGH_BAND_HZ = (1000.0, 3400.0)
_WINDOWS_PER_STFT_CALL = 512
"""Windows per STFT call: bounds the spectrogram held at once (~65 MB at 16 kHz)."""
_WINDOWS_PER_NUCLEUS_CALL = 128
"""Windows per STFT call of the intensity contour (~26 MB of spectrum at 16 kHz)."""
_TINY = 1e-20
NUCLEUS_HOP_S = 0.01
"""Hop of the intensity contour whose peaks are the syllable nuclei."""
NUCLEUS_FRAME_S = 0.03
"""Frame of that contour (rounded up to a power of two in samples: 32 ms at 16 kHz)."""
NUCLEUS_PROMINENCE_DB = 2.0
"""How far a nucleus stands above the dips on either side of it (de Jong & Wempe: 2 dB)."""
NUCLEUS_MIN_GAP_S = 0.08
"""Nuclei closer than this are one syllable (no one says more than ~12 syllables a second)."""
_NUCLEUS_SMOOTHING = 3
"""Contour frames averaged before peak picking: one syllable's ripple is not two syllables."""


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
    band = _telephone_band(freqs, sr)
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


def syllable_rate(
    service: AudioFeatureService,
    batch: np.ndarray,
    sr: int,
    f0_hop: int,
    voiced: np.ndarray,
    window_s: float,
) -> np.ndarray:
    """Syllable nuclei per second in each window of `batch` (windows, samples).

    `voiced` (windows, frames) are the F0 backend's voicing flags on the frame grid of
    `f0_hop`; a nucleus counts when the F0 frame nearest to it is voiced, so bursts of noise
    in pauses are not syllables. The intensity contour comes from the service's STFT backend.
    """
    hop = max(1, round(NUCLEUS_HOP_S * sr))
    n_fft = 1 << math.ceil(math.log2(NUCLEUS_FRAME_S * sr))
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    band = _telephone_band(freqs, sr)
    min_gap = max(1, round(NUCLEUS_MIN_GAP_S / NUCLEUS_HOP_S))
    counts = np.zeros(batch.shape[0])
    for start in range(0, batch.shape[0], _WINDOWS_PER_NUCLEUS_CALL):
        stop = min(start + _WINDOWS_PER_NUCLEUS_CALL, batch.shape[0])
        spectrum = service.stft(batch[start:stop], n_fft=n_fft, hop_length=hop)
        band_power = (np.abs(spectrum[:, band]).astype(np.float64) ** 2).sum(axis=1)
        contour = _moving_average(10 * np.log10(band_power + _TINY), _NUCLEUS_SMOOTHING)
        for row, intensity in enumerate(contour, start=start):
            peaks = prominent_peaks(intensity, NUCLEUS_PROMINENCE_DB, min_gap)
            nearest = np.minimum(np.round(peaks * hop / f0_hop).astype(int), voiced.shape[1] - 1)
            counts[row] = np.count_nonzero(voiced[row, nearest])
    rate: np.ndarray = counts / window_s
    return rate


def _telephone_band(freqs: np.ndarray, sr: int) -> np.ndarray:
    """The bins of 300-3400 Hz (up to Nyquist): what a phone line passes."""
    band: np.ndarray = (freqs >= LOW_BAND_HZ[0]) & (freqs < min(HIGH_BAND_HZ[1], sr / 2))
    return band


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Moving average of `width` (odd) along the last axis, edges repeated."""
    half = width // 2
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(half, half)], mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1)
    smoothed: np.ndarray = windows.mean(axis=-1)
    return smoothed


def prominent_peaks(x: np.ndarray, min_prominence: float, min_distance: int) -> np.ndarray:
    """Indices of the peaks of `x` (1-D) as ``scipy.signal.find_peaks(x,
    prominence=min_prominence, distance=min_distance)`` finds them (scipy stays unimported).

    A peak is a local maximum (the middle of a flat top); of peaks closer than `min_distance`
    the highest is kept; a peak's prominence is its height over the higher of the lowest
    points on either side before the signal rises above it again.
    """
    peaks = _local_maxima(x)
    peaks = _spaced(peaks, x[peaks], min_distance)
    keep = np.array([_prominence(x, peak) >= min_prominence for peak in peaks], dtype=bool)
    prominent: np.ndarray = peaks[keep]
    return prominent


def _local_maxima(x: np.ndarray) -> np.ndarray:
    peaks = []
    i, last = 1, x.size - 1
    while i < last:
        if x[i - 1] < x[i]:
            ahead = i + 1
            while ahead < last and x[ahead] == x[i]:
                ahead += 1
            if x[ahead] < x[i]:
                peaks.append((i + ahead - 1) // 2)
                i = ahead
        i += 1
    return np.asarray(peaks, dtype=np.intp)


def _spaced(peaks: np.ndarray, heights: np.ndarray, min_distance: int) -> np.ndarray:
    """The peaks left when, highest first, each removes the lower ones within `min_distance`."""
    keep = np.ones(peaks.size, dtype=bool)
    for j in np.argsort(heights)[::-1]:  # scipy's order, ties included
        if keep[j]:
            near = np.abs(peaks - peaks[j]) < min_distance
            near[j] = False
            keep &= ~near
    return peaks[keep]


def _prominence(x: np.ndarray, peak: int) -> float:
    higher = np.flatnonzero(x > x[peak])
    left = higher[higher < peak]
    right = higher[higher > peak]
    left_base = x[(left[-1] + 1 if left.size else 0) : peak + 1].min()
    right_base = x[peak : (right[0] if right.size else x.size)].min()
    return float(x[peak] - max(left_base, right_base))


def running_mean(values: np.ndarray, keep: np.ndarray, half_width: int) -> np.ndarray:
    """As `running_median`, with the mean: for counts (syllables per window), whose median moves
    in whole steps while their mean resolves a change of a fraction of a count."""
    return _running(values, keep, half_width, np.nanmean)


def running_median(values: np.ndarray, keep: np.ndarray, half_width: int) -> np.ndarray:
    """Median of `values` over the windows ``i - half_width .. i + half_width`` that `keep`
    marks, for each window that `keep` marks; NaN elsewhere.

    A median keeps the edges of a step (the start of an escalation) where a mean would smear
    them, and it ignores a minority of mis-tracked windows (octave errors) in the context.
    """
    return _running(values, keep, half_width, np.nanmedian)


def running_noise_floor(
    values: np.ndarray, keep: np.ndarray, half_width: int, percent: float
) -> np.ndarray:
    """A running noise floor: as `running_median`, with the higher of two one-sided
    `percent`-th percentiles, over the windows ``i - half_width .. i`` and over
    ``i .. i + half_width``. A low stretch shows at a window only once it has begun on one
    side and not yet ended on the other: it does not leak into the windows before or after
    it, as it would into a centred context whose low percentile picks a few of its values."""

    def higher_side(context: np.ndarray, axis: int) -> np.ndarray:
        """The context's rows split at their centre window (`axis` is the last one)."""
        before = np.nanpercentile(context[..., : half_width + 1], percent, axis=axis)
        after = np.nanpercentile(context[..., half_width:], percent, axis=axis)
        higher: np.ndarray = np.fmax(before, after)
        return higher

    return _running(values, keep, half_width, higher_side)


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
