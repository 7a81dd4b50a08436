"""acpitch: Boersma's autocorrelation pitch tracker (Praat's ``To Pitch (ac)``), vectorised,
on librosa.pyin's frame grid.

Per frame (centred at ``t * hop_length``, zero padding at the edges, as pyin's ``center=True``):

* a Hann window of `periods_per_window` periods of fmin (60 ms at 50 Hz), mean removed; its
  autocorrelation divided by the window's own autocorrelation (Boersma 1993, eq. 9), so a
  periodic frame peaks near 1 at its period whatever the window;
* optionally (`envelope_weight`, off by default) blended with the same autocorrelation of the
  frame's square, band-passed to 50-1000 Hz: through a telephone band (300-3400 Hz) a low
  voice's fundamental is gone and its even harmonics can make half the period look as
  periodic as the period (octave-up slips); the square's difference tones put the
  fundamental back (YAAPT's nonlinear processing, Kasi & Zahorian 2002) while its own half
  period stays weak;
* candidates: the local maxima within 1/fmax..1/fmin above half the voicing threshold, lag
  and height by parabolic interpolation, the strongest `max_candidates` after an octave cost
  that favours the higher of two octave-related peaks; plus one unvoiced candidate whose
  strength is the voicing threshold, raised for frames far quieter than the loudest frame
  within +-`silence_reference_s` (Praat compares with the whole sound's peak);
* a Viterbi path over the frames' candidates with an octave-jump and a voiced/unvoiced cost
  (scaled to the hop as Praat scales them to its time step).

Outputs as librosa.pyin's: f0 (NaN where unvoiced), voiced_flag, and voiced_prob = the
frame's harmonicity (its strongest normalised autocorrelation peak, in [0, 1]). Why this
exists: on real voices through a telephone line it is more accurate than pyin and than Praat
itself, with few voicing false alarms (docs/robust-f0.md).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from gpuaudio import BackendContext, F0Frames, InvalidParameterError
from gpuaudio.contract import frame_count
from gpuaudio_librosa._acpitch_options import AcPitchOptions
from gpuaudio_librosa._batched import cpu_threads, track_in_groups

__all__ = ["AcPitchBackend"]

_FRAMES_PER_BLOCK = 2048
"""Frames whose autocorrelations are held at once (bounds memory for long inputs)."""
_ENVELOPE_BAND_HZ = (50.0, 1000.0)
"""Band of the squared signal whose autocorrelation is blended in (`envelope_weight`)."""
_REFERENCE_STEP_S = 0.01
"""Praat's costs are per 10-ms step; a hop of h seconds scales them by 0.01 / h."""


class AcPitchBackend:
    """CPU F0 backend: Praat-style autocorrelation candidates and path, batched."""

    name = "acpitch"
    precision = "fp64"
    """float64 throughout, whatever the config asks (recorded in provenance)."""

    def __init__(self, context: BackendContext) -> None:
        self.options = context.options_as(AcPitchOptions, self.name)
        self.context = context

    def f0(
        self,
        y: np.ndarray,
        sr: int,
        *,
        fmin: float,
        fmax: float,
        frame_length: int,
        hop_length: int,
    ) -> F0Frames:
        """F0 of a (batch, n) array on pyin's grid (``center=True``)."""
        tracker = ac_tracker(sr, fmin, fmax, frame_length, hop_length, self.options)
        return track_in_groups(self.context.memory, tracker, y, cpu_threads())


@functools.lru_cache(maxsize=16)
def ac_tracker(
    sr: int, fmin: float, fmax: float, frame_length: int, hop_length: int, options: AcPitchOptions
) -> AcTracker:
    """The tables of one configuration (built once, then reused)."""
    return AcTracker(sr, fmin, fmax, frame_length, hop_length, options)


class AcTracker:
    """One configuration: window, lag range, costs; `run` tracks a batch."""

    def __init__(
        self,
        sr: int,
        fmin: float,
        fmax: float,
        frame_length: int,
        hop_length: int,
        options: AcPitchOptions,
    ) -> None:
        if not 0 < fmin < fmax <= sr / 2:
            raise InvalidParameterError(
                f"acpitch needs 0 < fmin < fmax <= sr/2 ({sr / 2} Hz), got fmin={fmin}, "
                f"fmax={fmax}"
            )
        self.sr, self.fmin, self.fmax = sr, fmin, fmax
        self.frame_length, self.hop = frame_length, hop_length
        self.options = options
        self.window = min(frame_length, round(options.periods_per_window * sr / fmin))
        if self.window < 2 * sr / fmin:
            raise InvalidParameterError(
                f"acpitch: frame_length={frame_length} holds {frame_length * fmin / sr:.2f} "
                f"periods of fmin={fmin} Hz at sr={sr}, its autocorrelation needs two: raise "
                f"frame_length to {math.ceil(2 * sr / fmin)} or fmin to "
                f"{2 * sr / frame_length:.1f}"
            )
        self.min_lag = max(2, math.floor(sr / fmax))
        self.max_lag = math.ceil(sr / fmin)
        self.n_fft = _next_fast_len(self.window + self.max_lag + 2)
        self.taper = np.hanning(self.window + 2)[1:-1]
        taper_ac = self._autocorrelation(self.taper[None, :])[0, : self.max_lag + 2]
        self.taper_ac = taper_ac / taper_ac[0]
        bins = np.fft.rfftfreq(self.n_fft, 1 / sr)
        self.envelope_band = (bins >= _ENVELOPE_BAND_HZ[0]) & (bins <= _ENVELOPE_BAND_HZ[1])
        scale = _REFERENCE_STEP_S * sr / hop_length
        self.octave_jump_cost = options.octave_jump_cost * scale
        self.voiced_unvoiced_cost = options.voiced_unvoiced_cost * scale
        self.reference_frames = 2 * round(options.silence_reference_s * sr / hop_length) + 1

    def bytes_per_window(self, n_samples: int) -> int:
        """Memory one row keeps through `run` (padded copy; per frame: candidates' frequencies,
        strengths, log-frequencies, path strengths and back-pointers)."""
        n_frames = frame_count(n_samples, span=self.frame_length, hop=self.hop, center=True)
        per_frame = 8 * (5 * self.options.max_candidates + 8)
        return 8 * (n_samples + self.window + self.hop) + n_frames * per_frame

    def run(self, y: np.ndarray) -> F0Frames:
        """F0, voicing and harmonicity of a (batch, n) array."""
        n_rows, n = y.shape
        n_frames = frame_count(n, span=self.frame_length, hop=self.hop, center=True)
        half = self.window // 2
        padded = np.zeros((n_rows, (n_frames - 1) * self.hop + self.window), dtype=np.float64)
        kept = min(n, padded.shape[1] - half)
        padded[:, half : half + kept] = y[:, :kept]
        k = self.options.max_candidates
        freqs = np.full((n_rows * n_frames, k), np.nan)
        strengths = np.full((n_rows * n_frames, k), -np.inf)
        local_peak = np.zeros(n_rows * n_frames)
        offsets = np.arange(self.window)
        for start in range(0, n_rows * n_frames, _FRAMES_PER_BLOCK):
            ids = np.arange(start, min(start + _FRAMES_PER_BLOCK, n_rows * n_frames))
            rows, frames = np.divmod(ids, n_frames)
            block = padded[rows[:, None], frames[:, None] * self.hop + offsets[None, :]]
            block -= block.mean(axis=1, keepdims=True)
            local_peak[ids] = np.abs(block).max(axis=1)
            r = self._normalised_autocorrelation(block)
            weight = self.options.envelope_weight
            if weight > 0:
                envelope = np.square(block)
                envelope -= envelope.mean(axis=1, keepdims=True)
                r *= 1 - weight
                r += weight * self._normalised_autocorrelation(envelope, self.envelope_band)
            freqs[ids], strengths[ids] = self._candidates(r)
        freqs = freqs.reshape(n_rows, n_frames, k)
        strengths = strengths.reshape(n_rows, n_frames, k)
        harmonicity = np.clip(strengths.max(axis=-1), 0.0, 1.0)
        unvoiced = self._unvoiced_strength(local_peak.reshape(n_rows, n_frames))
        delta = np.concatenate([self._voiced_strength(freqs, strengths), unvoiced[..., None]], -1)
        log_f = np.log2(np.where(np.isfinite(freqs), freqs, 1.0))
        path = _viterbi(log_f, delta, self.octave_jump_cost, self.voiced_unvoiced_cost)
        voiced = path < k
        chosen = np.take_along_axis(freqs, np.minimum(path, k - 1)[..., None], -1)[..., 0]
        return F0Frames(np.where(voiced, chosen, np.nan), voiced, harmonicity)

    def _autocorrelation(self, frames: np.ndarray, band: np.ndarray | None = None) -> np.ndarray:
        """Autocorrelation of each row (of its `band` of FFT bins only, when given)."""
        spectrum = np.fft.rfft(frames, self.n_fft, axis=-1)
        power = spectrum.real**2 + spectrum.imag**2
        if band is not None:
            power *= band
        result: np.ndarray = np.fft.irfft(power, self.n_fft, axis=-1)
        return result

    def _normalised_autocorrelation(
        self, frames: np.ndarray, band: np.ndarray | None = None
    ) -> np.ndarray:
        """Autocorrelation of the tapered frames at lags 0..max_lag + 1, divided by its value
        at lag 0 and by the taper's own (1 at a periodic frame's period)."""
        r = self._autocorrelation(frames * self.taper, band)[:, : self.max_lag + 2]
        r /= np.maximum(r[:, :1], np.finfo(np.float64).tiny) * self.taper_ac[None, :]
        return r

    def _candidates(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(frequency, strength) of each frame's strongest autocorrelation peaks; NaN / -inf
        fill the places of missing ones."""
        lo, hi = self.min_lag, self.max_lag
        mid, left, right = r[:, lo : hi + 1], r[:, lo - 1 : hi], r[:, lo + 1 : hi + 2]
        slope = 0.5 * (right - left)
        curvature = 2 * mid - left - right
        is_peak = (mid > left) & (mid >= right) & (mid > 0.5 * self.options.voicing_threshold)
        shift = np.where(is_peak, slope / np.where(is_peak, curvature, 1.0), 0.0)
        freq = self.sr / (np.arange(lo, hi + 1)[None, :] + shift)
        height = mid + 0.5 * slope * shift
        height = np.where(height > 1, 1 / np.where(height > 1, height, 1.0), height)
        is_peak &= (freq >= self.fmin) & (freq <= self.fmax)
        score = np.where(is_peak, self._voiced_strength(freq, height), -np.inf)
        k = min(self.options.max_candidates, score.shape[1])
        best = np.argpartition(-score, k - 1, axis=1)[:, :k]
        found = np.isfinite(np.take_along_axis(score, best, 1))
        freqs = np.full((r.shape[0], self.options.max_candidates), np.nan)
        strengths = np.full_like(freqs, -np.inf)
        freqs[:, :k] = np.where(found, np.take_along_axis(freq, best, 1), np.nan)
        strengths[:, :k] = np.where(found, np.take_along_axis(height, best, 1), -np.inf)
        return freqs, strengths

    def _voiced_strength(self, freq: np.ndarray, height: np.ndarray) -> np.ndarray:
        """A voiced candidate's strength: its height less the octave cost below fmax."""
        with np.errstate(invalid="ignore"):
            strength: np.ndarray = height - self.options.octave_cost * np.log2(
                self.fmax / np.where(np.isfinite(freq), freq, self.fmax)
            )
        return strength

    def _unvoiced_strength(self, local_peak: np.ndarray) -> np.ndarray:
        """The voicing threshold, plus up to 2 for frames far under the local loudest."""
        threshold = self.options.voicing_threshold
        silence = self.options.silence_threshold
        if silence <= 0:
            return np.full(local_peak.shape, threshold)
        reference = _running_max(local_peak, self.reference_frames)
        relative = np.divide(
            local_peak, reference, out=np.zeros_like(local_peak), where=reference > 0
        )
        strength: np.ndarray = threshold + np.maximum(
            0.0, 2.0 - relative * (1 + threshold) / silence
        )
        return strength


def _next_fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (scipy.fft.next_fast_len for real input)."""
    best, power5 = 2 * n, 1
    while power5 < 2 * n:
        power35 = power5
        while power35 < 2 * n:
            size = power35
            while size < n:
                size *= 2
            best = min(best, size)
            power35 *= 3
        power5 *= 5
    return best


def _running_max(values: np.ndarray, size: int) -> np.ndarray:
    """Maximum over the `size` values centred on each one along the last axis, zeros beyond
    the edges (scipy.ndimage.maximum_filter1d with mode="constant", cval=0)."""
    pad = [(0, 0)] * (values.ndim - 1) + [(size // 2, (size - 1) // 2)]
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(values, pad), size, axis=-1)
    result: np.ndarray = windows.max(axis=-1)
    return result


def _viterbi(
    log_f: np.ndarray, delta: np.ndarray, jump_cost: float, switch_cost: float
) -> np.ndarray:
    """Best path per row: candidates (rows, frames, k) with log2 frequencies `log_f`, and
    strengths `delta` (rows, frames, k + 1), the last one unvoiced; returns candidate indices.

    All rows at once, one frame step at a time (numpy: no compiler to load in a fresh
    process). Of equal predecessors the first is kept, as in Praat."""
    n_rows, n_frames, n_states = delta.shape
    unvoiced = n_states - 1
    back = np.zeros((n_frames, n_rows, n_states), dtype=np.int64)
    cost = np.empty((n_rows, n_states, n_states))
    cost[:, unvoiced, :] = switch_cost
    cost[:, :, unvoiced] = switch_cost
    cost[:, unvoiced, unvoiced] = 0.0
    score = delta[:, 0].copy()
    for t in range(1, n_frames):
        jump = log_f[:, t - 1, :, None] - log_f[:, t, None, :]
        np.multiply(jump_cost, np.abs(jump), out=cost[:, :unvoiced, :unvoiced])
        moved = score[:, :, None] - cost
        back[t] = np.argmax(moved, axis=1)
        score = np.take_along_axis(moved, back[t][:, None, :], 1)[:, 0] + delta[:, t]
    path = np.empty((n_rows, n_frames), dtype=np.int64)
    rows = np.arange(n_rows)
    state = np.argmax(score, axis=1)
    path[:, -1] = state
    for t in range(n_frames - 1, 0, -1):
        state = back[t, rows, state]
        path[:, t - 1] = state
    return path
