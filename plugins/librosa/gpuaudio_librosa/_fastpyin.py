"""fastpyin: librosa.pyin's exact results, batched over windows, with a banded Viterbi.

librosa 0.11's pyin spends most of its time in a dense Viterbi over 2 x n_pitch_bins states
and in a per-frame Python loop building observation probabilities. This backend computes the
same stages with the same float operations, but

* the YIN stage runs over all frames of all windows at once (librosa.autocorrelate, numpy);
* troughs, their priors and the observations are numba kernels over frames, with the
  trough-prior dot products grouped by trough count and done by the same numpy BLAS call
  librosa makes, and every log/log2 done by numpy as in librosa;
* the Viterbi visits, for each state, only the predecessors whose transition weight is
  nonzero (pitch within max_transition_rate, either voicing), and takes every other
  predecessor from running maxima, so the argmax (first index on ties) is librosa's;
* windows are decoded in parallel (numba prange).

The result is bit-identical to the installed ``librosa.pyin`` for every pyin keyword (model
parameters, ``center``, ``fill_na``, librosa 1.0's ``transition_min_prob``: transitions less
likely than that are left out of the band and the runs around it, as librosa 1.0's Viterbi
leaves them out; see docs/fastpyin.md for how this is tested).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import librosa
import numpy as np
import scipy.fft
import scipy.stats

from gpuaudio import BackendContext, F0Frames, InvalidParameterError
from gpuaudio.contract import frame_count
from gpuaudio_librosa import _pyin_kernels as kernels
from gpuaudio_librosa import _pyin_version
from gpuaudio_librosa._batched import track_in_groups

__all__ = ["FastPyinBackend"]

_FRAMES_PER_BLOCK = 2048
"""Frames of the YIN/trough stages held at once (bounds memory for long single inputs)."""
_MAX_STATES = np.iinfo(np.uint16).max + 1
"""The Viterbi keeps back-pointers as uint16: at most this many states (2 x pitch bins)."""


@dataclass(frozen=True)
class PyinSettings:
    """librosa.pyin's model parameters, with librosa's defaults, and the Viterbi's
    ``transition_min_prob`` (None: every transition, as librosa 0.11)."""

    n_thresholds: int = 100
    beta_parameters: tuple[float, float] = (2, 18)
    boltzmann_parameter: float = 2
    resolution: float = 0.1
    max_transition_rate: float = 35.92
    switch_prob: float = 0.01
    no_trough_prob: float = 0.01
    transition_min_prob: float | None = None


class FastPyinBackend:
    """CPU F0 backend returning exactly what ``librosa.pyin`` returns, several times faster."""

    name = "fastpyin"
    precision = "fp64"
    """As librosa.pyin: float64 throughout, whatever the config asks (recorded in provenance)."""

    def __init__(self, context: BackendContext) -> None:
        context.require_no_options("fastpyin")
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
        center: bool = True,
        fill_na: float | None = np.nan,
        n_thresholds: int = 100,
        beta_parameters: tuple[float, float] = (2, 18),
        boltzmann_parameter: float = 2,
        resolution: float = 0.1,
        max_transition_rate: float = 35.92,
        switch_prob: float = 0.01,
        no_trough_prob: float = 0.01,
        transition_min_prob: float | None = _pyin_version.TRANSITION_MIN_PROB,
    ) -> F0Frames:
        """``librosa.pyin(y, sr=sr, fmin=, fmax=, ...)`` for (batch, n), every keyword of
        librosa's but ``pad_mode`` (the service pads) and the deprecated ``win_length``;
        `transition_min_prob` as the installed librosa takes it
        (`_pyin_version.transition_min_prob`)."""
        settings = PyinSettings(
            n_thresholds, (beta_parameters[0], beta_parameters[1]), boltzmann_parameter,
            resolution, max_transition_rate, switch_prob, no_trough_prob,
            _pyin_version.transition_min_prob(transition_min_prob),
        )
        model = pyin_model(sr, fmin, fmax, frame_length, hop_length, center, settings)
        result = track_in_groups(self.context.memory, model, y)
        if fill_na is not None:
            result.f0[~result.voiced_flag] = fill_na
        return result


@functools.lru_cache(maxsize=16)
def pyin_model(
    sr: float,
    fmin: float,
    fmax: float,
    frame_length: int,
    hop_length: int,
    center: bool = True,
    settings: PyinSettings = PyinSettings(),
) -> PyinModel:
    """The tables of one pyin configuration (built once, then reused)."""
    return PyinModel(sr, fmin, fmax, frame_length, hop_length, center, settings)


@dataclass
class _Troughs:
    """Per frame of a block: rows of its observation candidates (sparse pitch bins)."""

    first_row: np.ndarray
    n_rows: np.ndarray
    obs_bin: np.ndarray
    obs_log: np.ndarray
    voiced_prob: np.ndarray
    log_unvoiced: np.ndarray


class PyinModel:
    """One pyin configuration: periods, pitch grid, priors and the banded transition model."""

    def __init__(
        self,
        sr: float,
        fmin: float,
        fmax: float,
        frame_length: int,
        hop_length: int,
        center: bool = True,
        settings: PyinSettings = PyinSettings(),
    ) -> None:
        _check_parameters(sr, fmin, fmax, frame_length)
        self.sr, self.fmin = sr, fmin
        self.frame_length, self.hop_length, self.center = frame_length, hop_length, center
        self.settings = settings
        self.min_period = int(np.floor(sr / fmax))
        self.max_period = min(int(np.ceil(sr / fmin)), frame_length - 1)
        n_lags = self.max_period - self.min_period + 1
        if n_lags < 2:
            raise InvalidParameterError(
                f"fmin={fmin} and fmax={fmax} leave {n_lags} period(s) at sr={sr}; "
                "pyin needs at least two: widen the frequency range"
            )
        self.tiny = float(np.finfo(np.float64).tiny)

        thresholds = np.linspace(0, 1, settings.n_thresholds + 1)
        self.upper_thresholds = np.ascontiguousarray(thresholds[1:])
        alpha, beta = settings.beta_parameters
        self.beta_probs = np.diff(scipy.stats.beta.cdf(thresholds, alpha, beta))
        self.beta_head_sums = np.array(
            [np.sum(self.beta_probs[:k]) for k in range(settings.n_thresholds + 1)]
        )
        most_troughs = n_lags // 2 + 1
        n_below, rank = np.meshgrid(
            np.arange(most_troughs + 1), np.arange(most_troughs), indexing="ij"
        )
        with np.errstate(all="ignore"):
            table = scipy.stats.boltzmann.pmf(rank, settings.boltzmann_parameter, n_below)
        self.boltzmann = np.where(rank < n_below, table, 0.0)

        self.bins_per_semitone = int(np.ceil(1.0 / settings.resolution))
        self.n_pitch_bins = int(np.floor(12 * self.bins_per_semitone * np.log2(fmax / fmin))) + 1
        if 2 * self.n_pitch_bins > _MAX_STATES:
            raise InvalidParameterError(
                f"resolution={settings.resolution} gives {2 * self.n_pitch_bins} pyin states "
                f"for fmin..fmax, more than fastpyin's {_MAX_STATES}: use a coarser resolution "
                "or a narrower fmin..fmax"
            )
        self.freqs = fmin * 2 ** (np.arange(self.n_pitch_bins) / (12 * self.bins_per_semitone))
        self._build_transitions()

    def _build_transitions(self) -> None:
        """librosa's transition matrix, kept as its nonzero band plus one outside weight."""
        n = self.n_pitch_bins
        semitones = round(self.settings.max_transition_rate * 12 * self.hop_length / self.sr)
        width = semitones * self.bins_per_semitone + 1
        if width > n:  # librosa.pyin fails here too (transition_local cannot centre the band)
            raise InvalidParameterError(
                f"hop_length={self.hop_length} lets pitch move {semitones} semitones per frame, "
                f"more than the {n / self.bins_per_semitone:.1f}-semitone range fmin..fmax: "
                "use a shorter hop_length or a wider fmin..fmax"
            )
        local = librosa.sequence.transition_local(n, width, window="triangle", wrap=False)
        switch = librosa.sequence.transition_loop(2, 1 - self.settings.switch_prob)
        transition = np.kron(switch, local)
        log_trans = np.log(transition + self.tiny)
        zero = np.log(np.zeros(1) + self.tiny)[0]
        if not np.all(log_trans[transition == 0] == zero):
            raise AssertionError("pyin's zero transitions do not share one log weight")
        self.log_zero = float(zero)
        # librosa 1.0's Viterbi considers only transitions whose log weight reaches this floor
        floor = -np.inf
        if self.settings.transition_min_prob:
            floor = np.log(self.settings.transition_min_prob + self.tiny)
        self.log_outside = self.log_zero if zero >= floor else -np.inf
        log_trans = np.where(log_trans >= floor, log_trans, -np.inf)
        if np.isneginf(log_trans).all(axis=0).any():  # librosa.pyin refuses it too
            raise InvalidParameterError(
                f"transition_min_prob={self.settings.transition_min_prob} leaves pyin states "
                "without any transition into them: use at most "
                f"{float(transition.max(axis=0).min())!r} (or None: every transition)"
            )
        # The band into bin b: +-half around it holds every nonzero weight. An even width
        # (e.g. resolution=1) is lopsided by one bin; that bin keeps its true (zero) weight.
        sources, targets = np.nonzero(local)
        half = int(np.abs(sources - targets).max())
        bins = np.arange(n)
        self.band_lo = np.maximum(bins - half, 0)
        self.band_hi = np.minimum(bins + half, n - 1)
        # Row d of the tables: weight from bin b - half + d into bin b (-inf: no such bin).
        source = bins[None, :] - half + np.arange(2 * half + 1)[:, None]
        exists = (source >= 0) & (source < n)
        source = np.clip(source, 0, n - 1)
        self.log_stay = np.where(exists, log_trans[source, bins], -np.inf)
        self.log_switch = np.where(exists, log_trans[n + source, bins], -np.inf)
        if not (
            np.array_equal(
                self.log_stay, np.where(exists, log_trans[n + source, n + bins], -np.inf)
            )
            and np.array_equal(
                self.log_switch, np.where(exists, log_trans[source, n + bins], -np.inf)
            )
        ):
            raise AssertionError("pyin's transition matrix is not voicing-symmetric")
        p_init = np.ones(2 * n) / (2 * n)
        self.log_init = float(np.log(p_init + self.tiny)[0])

    def n_frames(self, n_samples: int) -> int:
        """Frames librosa.pyin returns for `n_samples`."""
        return frame_count(
            n_samples, span=self.frame_length, hop=self.hop_length, center=self.center
        )

    def bytes_per_window(self, n_samples: int) -> int:
        """Memory one window keeps through the batch (padded copy, observations, Viterbi)."""
        per_frame = 4 * self.n_pitch_bins + 48 * (self.max_period - self.min_period + 2)
        return 4 * (n_samples + self.frame_length) + self.n_frames(n_samples) * per_frame

    def run(self, y: np.ndarray) -> F0Frames:
        """pyin of a (batch, n) float32 array; f0 is the decoded pitch in every frame (the
        caller writes fill_na into the unvoiced ones)."""
        n_windows = y.shape[0]
        n_frames = self.n_frames(y.shape[-1])
        pad = self.frame_length // 2 if self.center else 0
        padded = np.pad(y, ((0, 0), (pad, pad)), mode="constant")
        framed = np.lib.stride_tricks.sliding_window_view(padded, self.frame_length, axis=-1)
        framed = framed[:, :: self.hop_length][:, :n_frames]
        blocks = [self._observe(block, n_frames) for block in _frame_blocks(framed)]
        rows_before = np.cumsum([0] + [b.obs_bin.size for b in blocks[:-1]])
        states = kernels.viterbi(
            n_frames,
            np.concatenate(
                [b.first_row + offset for b, offset in zip(blocks, rows_before, strict=True)]
            ),
            np.concatenate([b.n_rows for b in blocks]),
            np.concatenate([b.obs_bin for b in blocks]),
            np.concatenate([b.obs_log for b in blocks]),
            np.concatenate([b.log_unvoiced for b in blocks]),
            self.log_zero,
            self.log_init,
            self.band_lo,
            self.band_hi,
            self.log_stay,
            self.log_switch,
            self.log_outside,
        )
        n = self.n_pitch_bins
        f0 = self.freqs[states % n]
        voiced_flag = states < n
        voiced_prob = np.concatenate([b.voiced_prob for b in blocks])
        return F0Frames(f0, voiced_flag, voiced_prob.reshape(n_windows, n_frames))

    def _yin(self, frames: np.ndarray) -> np.ndarray:
        """librosa's cumulative mean normalised difference, frames on the first axis."""
        min_period, max_period = self.min_period, self.max_period
        with scipy.fft.set_workers(os.cpu_count() or 1):
            acf = librosa.autocorrelate(frames, max_size=max_period + 1, axis=-1)
        # librosa sums energies over the whole frame but reads only the first max_period.
        energy = np.square(frames[:, :max_period])
        np.cumsum(energy, out=energy, axis=-1)
        energy[:, 0] = 0  # librosa zeroes lag 0 before using the energies: kept on purpose
        difference = 2 * (acf[:, 0:1] - acf[:, 1 : max_period + 1]) - energy[:, :max_period]
        cumulative_mean = np.cumsum(difference, axis=-1) / np.arange(1, max_period + 1)
        numerator = difference[:, min_period - 1 :]
        denominator = cumulative_mean[:, min_period - 1 :]
        yin: np.ndarray = numerator / (denominator + self.tiny)
        return yin

    def _observe(self, frames: np.ndarray, frames_per_window: int) -> _Troughs:
        """Observation probabilities and voicing probability of a block of frames."""
        yin = self._yin(frames)
        counts = kernels.count_troughs(yin)
        order = np.argsort(counts, kind="stable")
        first_row = np.empty_like(counts)
        first_row[order] = np.cumsum(counts[order]) - counts[order]
        n_rows = int(counts.sum())
        lag = np.zeros(n_rows, dtype=np.int64)
        shift = np.zeros(n_rows)
        prior = np.zeros((n_rows, self.settings.n_thresholds))
        global_min_row = np.full(counts.size, -1, dtype=np.int64)
        above_min = np.zeros(counts.size, dtype=np.int64)
        kernels.fill_troughs(
            yin,
            first_row,
            self.upper_thresholds,
            self.boltzmann,
            lag,
            shift,
            prior,
            global_min_row,
            above_min,
        )
        probs = self._trough_probabilities(prior, counts[order])
        has_troughs = global_min_row >= 0
        rows = global_min_row[has_troughs]
        probs[rows] += self.settings.no_trough_prob * self.beta_head_sums[above_min[has_troughs]]

        candidates = np.flatnonzero(probs)
        period = self.min_period + lag[candidates] + shift[candidates]
        bin_index = 12 * self.bins_per_semitone * np.log2(self.sr / period / self.fmin)
        bins = np.full(n_rows, -1, dtype=np.int64)
        bins[candidates] = np.clip(np.round(bin_index), 0, self.n_pitch_bins).astype(int)

        obs_bin = np.zeros(n_rows, dtype=np.int64)
        obs_prob = np.zeros(n_rows)
        n_obs = np.zeros(counts.size, dtype=np.int64)
        voiced_prob = np.zeros(counts.size)
        unvoiced_prob = np.zeros(counts.size)
        kernels.observations(
            first_row,
            counts,
            probs,
            bins,
            self.n_pitch_bins,
            obs_bin,
            obs_prob,
            n_obs,
            voiced_prob,
            unvoiced_prob,
        )
        if frames_per_window == 1:
            self._pairwise_voiced_prob(first_row, n_obs, obs_bin, obs_prob, voiced_prob)
            unvoiced_prob = (1 - voiced_prob) / self.n_pitch_bins
        return _Troughs(
            first_row,
            n_obs,
            obs_bin,
            np.log(obs_prob + self.tiny),
            voiced_prob,
            np.log(unvoiced_prob + self.tiny),
        )

    def _trough_probabilities(self, prior: np.ndarray, sorted_counts: np.ndarray) -> np.ndarray:
        """``trough_prior.dot(beta_probs)`` per frame, frames grouped by their trough count.

        Each group is one stacked matmul whose per-frame products are the same BLAS calls
        (hence the same bits) as librosa's frame-by-frame ``dot``.
        """
        probs = np.zeros(prior.shape[0])
        sizes, frames_per_size = np.unique(sorted_counts, return_counts=True)
        row = 0
        for size, n_frames in zip(sizes.tolist(), frames_per_size.tolist(), strict=True):
            stop = row + size * n_frames
            if size:
                stack = prior[row:stop].reshape(n_frames, size, self.settings.n_thresholds)
                probs[row:stop] = np.matmul(stack, self.beta_probs).reshape(-1)
            row = stop
        return probs

    def _pairwise_voiced_prob(
        self,
        first_row: np.ndarray,
        n_obs: np.ndarray,
        obs_bin: np.ndarray,
        obs_prob: np.ndarray,
        voiced_prob: np.ndarray,
    ) -> None:
        """One-frame windows: numpy sums librosa's (bins, 1) column pairwise, not sequentially."""
        column = np.zeros((self.n_pitch_bins, 1))
        for f in range(first_row.size):
            rows = slice(first_row[f], first_row[f] + n_obs[f])
            column[obs_bin[rows], 0] = obs_prob[rows]
            voiced_prob[f] = np.clip(np.sum(column, axis=0), 0, 1)[0]
            column[obs_bin[rows], 0] = 0


def _frame_blocks(framed: np.ndarray) -> Iterator[np.ndarray]:
    """Contiguous float32 (frames, frame_length) blocks of a (windows, frames, length) view.

    Whole windows are grouped while they fit in a block, long windows are split, and the
    blocks follow window-major frame order.
    """
    n_windows, n_frames, _ = framed.shape
    if n_frames >= _FRAMES_PER_BLOCK:
        for w in range(n_windows):
            for start in range(0, n_frames, _FRAMES_PER_BLOCK):
                yield np.ascontiguousarray(framed[w, start : start + _FRAMES_PER_BLOCK])
        return
    step = max(1, _FRAMES_PER_BLOCK // n_frames)
    for w in range(0, n_windows, step):
        yield framed[w : w + step].reshape(-1, framed.shape[-1])


def _check_parameters(sr: float, fmin: float, fmax: float, frame_length: int) -> None:
    """librosa's pyin parameter checks, as gpuaudio errors (and librosa's warning)."""
    if not 0 < fmin < fmax <= sr / 2:
        raise InvalidParameterError(
            f"need 0 < fmin < fmax <= sr/2 ({sr / 2} Hz), got fmin={fmin}, fmax={fmax}"
        )
    if sr / fmin >= frame_length - 1:
        raise InvalidParameterError(
            f"fmin={fmin:.3f} is too small for frame_length={frame_length} and sr={sr}: "
            f"raise fmin to {sr / (frame_length - 1):.3f} or frame_length to "
            f"{math.ceil(sr / fmin) + 1}"
        )
    if sr / fmin >= frame_length // 2:
        warnings.warn(
            f"With fmin={fmin:.3f}, sr={sr} and frame_length={frame_length}, less than two "
            "periods of fmin fit into the frame, which can cause inaccurate pitch detection "
            "(as librosa.pyin warns).",
            stacklevel=4,
        )
