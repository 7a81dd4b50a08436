"""numba kernels of fastpyin: trough search, trough priors, observation assembly, banded Viterbi.

Every kernel repeats librosa's float64 arithmetic operation by operation (same operands, same
order), so its results are bit-identical to ``librosa.pyin``'s. Transcendental functions and
BLAS products are left to numpy in `_fastpyin`, for the same reason. Only the Viterbi (most
of the time) runs windows in parallel; the per-frame kernels are cheap and compile faster
without numba's parallel backend.
"""

from __future__ import annotations

import numba
import numpy as np

from gpuaudio_librosa._jit import cached_njit

_jit = cached_njit(nogil=True)
_parallel_jit = cached_njit(nogil=True, parallel=True)


@_jit
def _is_trough(x: np.ndarray, i: int) -> bool:
    """pyin's trough test: librosa.util.localmin, with pyin's own rule for the first lag."""
    last = x.shape[0] - 1
    if i == 0:
        return bool(x[0] < x[1])
    if i == last:
        return bool(x[last] < x[last - 1])
    return bool((x[i] < x[i - 1]) & (x[i] <= x[i + 1]))


@_jit
def count_troughs(yin: np.ndarray) -> np.ndarray:
    """Number of troughs of each frame's difference function (frames x lags)."""
    counts = np.zeros(yin.shape[0], dtype=np.int64)
    for f in range(yin.shape[0]):
        n = 0
        for i in range(yin.shape[1]):
            if _is_trough(yin[f], i):
                n += 1
        counts[f] = n
    return counts


@_jit
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
    for f in range(yin.shape[0]):
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


@_jit
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
    for f in range(first_row.shape[0]):
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


@_jit
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


@_jit
def _improve(
    best: np.ndarray, arg: np.ndarray, target: int, candidate: np.ndarray, k: np.ndarray
) -> None:
    """best/arg[target + j] <- candidate[j] / k[j] where strictly greater (first index wins)."""
    for j in range(candidate.shape[0]):
        better = candidate[j] > best[target + j]
        best[target + j] = candidate[j] if better else best[target + j]
        arg[target + j] = k[j] if better else arg[target + j]


@_jit
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
    half = log_stay.shape[0] // 2
    n_states = 2 * n
    log_prob = np.empty(n_states)
    value = np.empty(n_states)
    outside = np.empty(n_states)
    padded = np.zeros(n + 2 * half)  # previous values of one voicing, `half` bins each side
    best = np.empty(n_states)
    arg = np.empty(n_states, dtype=np.int64)
    candidate = np.empty(n)
    k = np.empty(n, dtype=np.int64)
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
        # Every transition outside the band has the same log weight: the candidates from
        # there are the first-index maxima of value + log_outside over the runs around it.
        for s in range(n_states):
            outside[s] = value[s] + log_outside
        _segment_maxima(outside, 0, n, prefix[0], suffix[0])
        _segment_maxima(outside, n, n_states, prefix[1], suffix[1])
        best[:] = -np.inf
        arg[:] = -1
        # Predecessors in increasing index order, strict '>' (np.argmax keeps the first):
        # per source voicing, the run before the band, the band, the run after the band.
        for source in range(2):
            offset = source * n
            for target in range(0, n_states, n):
                for b in range(n):
                    k[b] = prefix[source, band_lo[b]]
                    candidate[b] = outside[k[b]] if k[b] >= 0 else -np.inf
                _improve(best, arg, target, candidate, k)
            padded[half : half + n] = value[offset : offset + n]
            for target in range(0, n_states, n):
                weights = log_stay if target == offset else log_switch
                for d in range(weights.shape[0]):
                    for b in range(n):
                        candidate[b] = padded[b + d] + weights[d, b]
                        k[b] = offset + b - half + d
                    _improve(best, arg, target, candidate, k)
            for target in range(0, n_states, n):
                for b in range(n):
                    k[b] = suffix[source, band_hi[b] + 1]
                    candidate[b] = outside[k[b]] if k[b] >= 0 else -np.inf
                _improve(best, arg, target, candidate, k)
        for j in range(n_states):
            ptr[t, j] = arg[j]
            value[j] = log_prob[j] + best[j]

    state = 0
    for j in range(1, n_states):
        if value[j] > value[state]:
            state = j
    states[n_frames - 1] = state
    for t in range(n_frames - 2, -1, -1):
        state = ptr[t + 1, state]
        states[t] = state


@_parallel_jit
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
    ``log_stay[d, b]`` / ``log_switch[d, b]`` are the log transition weights into pitch bin b
    from bin ``b - half + d`` of the same / the other voicing (``2 * half + 1`` rows, -inf
    where that bin does not exist); the nonzero band into b is ``band_lo[b] .. band_hi[b]``
    and every transition outside it has weight `log_outside`.
    """
    n_windows = log_unvoiced.shape[0] // n_frames
    states = np.empty((n_windows, n_frames), dtype=np.int64)
    for w in numba.prange(n_windows):
        _viterbi_window(
            w * n_frames,
            n_frames,
            first_row,
            n_rows,
            obs_bin,
            obs_log,
            log_unvoiced,
            log_zero,
            log_init,
            band_lo,
            band_hi,
            log_stay,
            log_switch,
            log_outside,
            states[w],
        )
    return states
