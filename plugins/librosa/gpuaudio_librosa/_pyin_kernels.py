"""numba kernels of fastpyin: trough search, trough priors, observation assembly, banded Viterbi.

Every kernel repeats librosa's float64 arithmetic operation by operation (same operands, same
order), so its results are bit-identical to ``librosa.pyin``'s. Transcendental functions and
BLAS products are left to numpy in `_fastpyin`, for the same reason.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True}


@numba.njit(**_JIT)
def _is_trough(x: np.ndarray, i: int) -> bool:
    """pyin's trough test: librosa.util.localmin, with pyin's own rule for the first lag."""
    last = x.shape[0] - 1
    if i == 0:
        return bool(x[0] < x[1])
    if i == last:
        return bool(x[last] < x[last - 1])
    return bool((x[i] < x[i - 1]) & (x[i] <= x[i + 1]))


@numba.njit(parallel=True, **_JIT)
def count_troughs(yin: np.ndarray) -> np.ndarray:
    """Number of troughs of each frame's difference function (frames x lags)."""
    counts = np.zeros(yin.shape[0], dtype=np.int64)
    for f in numba.prange(yin.shape[0]):
        n = 0
        for i in range(yin.shape[1]):
            if _is_trough(yin[f], i):
                n += 1
        counts[f] = n
    return counts


@numba.njit(parallel=True, **_JIT)
def fill_troughs(
    yin: np.ndarray,
    first_row: np.ndarray,
    upper_thresholds: np.ndarray,
    boltzmann: np.ndarray,
    lag: np.ndarray,
    shift: np.ndarray,
    prior: np.ndarray,
    global_min_row: np.ndarray,
    thresholds_above_min: np.ndarray,
) -> None:
    """Per trough (one row each, from `first_row[frame]` on): lag, parabolic shift, prior.

    ``prior[row, t]`` is librosa's ``trough_prior``: the Boltzmann pmf of the trough's rank
    among the troughs below threshold ``t`` (``boltzmann[n_below, rank]``), 0 if it is above.
    Per frame, the row of the lowest trough and how many thresholds are not above it.
    """
    n_thresholds = upper_thresholds.shape[0]
    for f in numba.prange(yin.shape[0]):
        x = yin[f]
        last = x.shape[0] - 1
        row = first_row[f]
        for i in range(x.shape[0]):
            if not _is_trough(x, i):
                continue
            lag[row] = i
            shift[row] = 0.0
            if 0 < i < last:  # librosa's _pi_stencil, float64
                a = x[i + 1] + x[i - 1] - 2 * x[i]
                b = (x[i + 1] - x[i - 1]) / 2
                if not np.abs(b) >= np.abs(a):
                    shift[row] = -b / a
            row += 1
        start, stop = first_row[f], row
        if start == stop:
            continue
        best = start
        for r in range(start + 1, stop):
            if x[lag[r]] < x[lag[best]]:
                best = r
        global_min_row[f] = best
        above = 0
        for t in range(n_thresholds):
            threshold = upper_thresholds[t]
            if not x[lag[best]] < threshold:
                above += 1
            n_below = 0
            for r in range(start, stop):
                if x[lag[r]] < threshold:
                    n_below += 1
            rank = 0
            for r in range(start, stop):
                if x[lag[r]] < threshold:
                    prior[r, t] = boltzmann[n_below, rank]
                    rank += 1
                else:
                    prior[r, t] = 0.0
        thresholds_above_min[f] = above


@numba.njit(parallel=True, **_JIT)
def observations(
    first_row: np.ndarray,
    n_rows: np.ndarray,
    probs: np.ndarray,
    bins: np.ndarray,
    n_pitch_bins: int,
    out_bin: np.ndarray,
    out_prob: np.ndarray,
    n_out: np.ndarray,
    voiced_prob: np.ndarray,
    unvoiced_prob: np.ndarray,
) -> None:
    """Sparse voiced observation probabilities per frame, as librosa's ``observation_probs``.

    Candidates (troughs with nonzero probability) are written in lag order, a later one
    overwriting an earlier one in the same pitch bin, as numpy's fancy assignment does; the
    bin ``n_pitch_bins`` (clipped) is dropped as it is in librosa. Output rows are the distinct
    bins in increasing order; voiced_prob is their sequential sum (numpy's axis-0 sum), clipped.
    """
    for f in numba.prange(first_row.shape[0]):
        start = first_row[f]
        count = 0
        for r in range(start, start + n_rows[f]):
            b = bins[r]
            if probs[r] == 0 or b >= n_pitch_bins:
                continue
            slot = start
            while slot < start + count and out_bin[slot] < b:
                slot += 1
            if slot < start + count and out_bin[slot] == b:
                out_prob[slot] = probs[r]
                continue
            for s in range(start + count, slot, -1):
                out_bin[s] = out_bin[s - 1]
                out_prob[s] = out_prob[s - 1]
            out_bin[slot] = b
            out_prob[slot] = probs[r]
            count += 1
        n_out[f] = count
        total = 0.0
        for s in range(start, start + count):
            total += out_prob[s]
        total = min(max(total, 0.0), 1.0)
        voiced_prob[f] = total
        unvoiced_prob[f] = (1 - total) / n_pitch_bins


@numba.njit(**_JIT)
def _segment_maxima(
    score: np.ndarray, lo: int, hi: int, prefix: np.ndarray, suffix: np.ndarray
) -> None:
    """First-index running maxima of score[lo:hi]: prefix[i] over [lo, lo+i), suffix over the rest.

    ``prefix[0]`` and ``suffix[hi-lo]`` are -1 (empty).
    """
    size = hi - lo
    prefix[0] = -1
    for i in range(size):
        best = prefix[i]
        prefix[i + 1] = lo + i if best < 0 or score[lo + i] > score[best] else best
    suffix[size] = -1
    for i in range(size - 1, -1, -1):
        best = suffix[i + 1]
        suffix[i] = lo + i if best < 0 or score[lo + i] >= score[best] else best


@numba.njit(**_JIT)
def _viterbi_window(
    first_frame: int,
    n_frames: int,
    first_row: np.ndarray,
    n_rows: np.ndarray,
    obs_bin: np.ndarray,
    obs_log: np.ndarray,
    log_unvoiced: np.ndarray,
    log_zero: float,
    log_init: float,
    band_lo: np.ndarray,
    band_hi: np.ndarray,
    log_stay: np.ndarray,
    log_switch: np.ndarray,
    log_outside: float,
    states: np.ndarray,
) -> None:
    n = band_lo.shape[0]
    n_states = 2 * n
    log_prob = np.empty(n_states)
    value = np.empty(n_states)
    previous = np.empty(n_states)
    outside = np.empty(n_states)
    prefix = np.empty((2, n + 1), dtype=np.int64)
    suffix = np.empty((2, n + 1), dtype=np.int64)
    ptr = np.zeros((n_frames, n_states), dtype=np.uint16)

    for t in range(n_frames):
        f = first_frame + t
        log_prob[:n] = log_zero
        log_prob[n:] = log_unvoiced[f]
        for r in range(first_row[f], first_row[f] + n_rows[f]):
            log_prob[obs_bin[r]] = obs_log[r]
        if t == 0:
            for j in range(n_states):
                value[j] = log_prob[j] + log_init
            continue
        previous[:] = value
        # Transitions outside the band all have the same log weight: candidates from there are
        # the first-index maxima of previous + log_outside over the four runs around the band.
        for k in range(n_states):
            outside[k] = previous[k] + log_outside
        _segment_maxima(outside, 0, n, prefix[0], suffix[0])
        _segment_maxima(outside, n, n_states, prefix[1], suffix[1])
        for j in range(n_states):
            b = j % n
            lo, hi = band_lo[b], band_hi[b]
            from_voiced = log_stay[b] if j < n else log_switch[b]
            from_unvoiced = log_switch[b] if j < n else log_stay[b]
            best_k = -1
            best = -np.inf
            # Scan predecessors in index order with a strict '>' (np.argmax keeps the first).
            for block in range(2):
                offset = block * n
                k = prefix[block, lo]
                if k >= 0 and outside[k] > best:
                    best, best_k = outside[k], k
                weights = from_voiced if block == 0 else from_unvoiced
                for d in range(hi - lo + 1):
                    candidate = previous[offset + lo + d] + weights[d]
                    if candidate > best:
                        best, best_k = candidate, offset + lo + d
                k = suffix[block, hi + 1]
                if k >= 0 and outside[k] > best:
                    best, best_k = outside[k], k
            ptr[t, j] = best_k
            value[j] = log_prob[j] + best

    state = 0
    for j in range(1, n_states):
        if value[j] > value[state]:
            state = j
    states[n_frames - 1] = state
    for t in range(n_frames - 2, -1, -1):
        state = ptr[t + 1, state]
        states[t] = state


@numba.njit(parallel=True, **_JIT)
def viterbi(
    n_frames: int,
    first_row: np.ndarray,
    n_rows: np.ndarray,
    obs_bin: np.ndarray,
    obs_log: np.ndarray,
    log_unvoiced: np.ndarray,
    log_zero: float,
    log_init: float,
    band_lo: np.ndarray,
    band_hi: np.ndarray,
    log_stay: np.ndarray,
    log_switch: np.ndarray,
    log_outside: float,
) -> np.ndarray:
    """Decoded states (windows x frames) of librosa.sequence.viterbi, one window per thread.

    Frames of window w are ``w * n_frames ... (w + 1) * n_frames - 1``; each frame's voiced
    log-observations are sparse (`obs_bin`, `obs_log` rows), the rest being `log_zero`.
    `log_stay[b]` / `log_switch[b]` hold the log transition weights into pitch bin b from
    bins ``band_lo[b] .. band_hi[b]`` of the same / the other voicing; every other
    transition has weight `log_outside`.
    """
    n_windows = log_unvoiced.shape[0] // n_frames
    states = np.empty((n_windows, n_frames), dtype=np.int64)
    for w in numba.prange(n_windows):
        _viterbi_window(
            w * n_frames, n_frames, first_row, n_rows, obs_bin, obs_log, log_unvoiced,
            log_zero, log_init, band_lo, band_hi, log_stay, log_switch, log_outside, states[w],
        )
    return states
