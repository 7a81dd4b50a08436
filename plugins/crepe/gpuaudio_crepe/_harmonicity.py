"""A second voicing cue beside CREPE's periodicity: YIN's periodicity measure of the frame.

*Harmonicity* of a frame is ``1 - d'(period)``, where ``d'`` is YIN's cumulative-mean-normalised
difference (de Cheveigne & Kawahara 2002; pyin's cue) and ``period = rate / f0`` is the period of
the *decoded* pitch (the best lag within ``LAG_TOLERANCE``, 2 %, of it): close to 1 when the frame
repeats itself one period later, close to 0 (clipped there) for noise. It is computed from the
same mean-removed, normalised 1024-sample 16 kHz frames CREPE sees, as tensor operations on the
device, in two steps:

1. while the network runs (`difference`), every frame's ``d'`` at every lag its pitch range can
   need. The difference compares a ``WINDOW``-sample (32 ms, pyin's ``frame_length // 2``) part
   of the frame with the same part ``k`` samples later, ``d(k) = sum (x[s + n] - x[s + n + k])^2``,
   both parts placed (``s``) so that the longest lag's span is centred in the frame: the cue
   describes the middle of the frame, where the frame's time stamp is, not all 64 ms of it
   (voicing boundaries inside the frame cost fewer false alarms). ``d`` comes from an FFT
   cross-correlation and running energies; ``d'(k) = d(k) * k / sum_{j <= k} d(j)``.
2. after decoding (`at_period`), the minimum of ``d'`` over the lags around each frame's period,
   gathered for all frames at once.

The tolerance covers the pitch moving inside the frame and the decoder's own error.
"""

from __future__ import annotations

import math

import torch

__all__ = ["LAG_TOLERANCE", "WINDOW", "at_period", "difference", "difference_bytes", "lag_range"]

LAG_TOLERANCE = 0.02
"""Lags within this fraction of the period ``rate / f0`` count (the best one is taken)."""
WINDOW = 512
"""Samples compared at each lag (32 ms at 16 kHz)."""


def lag_range(f_low: float, f_high: float, rate: int, frame: int) -> tuple[int, int]:
    """Lags ``[first, last]`` that frames with pitch in ``[f_low, f_high]`` Hz can need.

    At most ``frame - WINDOW``: the window and its lagged copy must fit in the frame.
    """
    longest = frame - WINDOW
    first = min(longest, max(1, math.floor(rate / f_high / (1 + LAG_TOLERANCE))))
    last = min(longest, math.ceil(rate / f_low * (1 + LAG_TOLERANCE)))
    return first, max(first, last)


def difference_bytes(frame: int, n_lags: int) -> int:
    """Peak bytes per frame of `difference` (FFT buffers, energies, the result)."""
    return 4 * (18 * frame + 8 * n_lags)


def difference(frames: torch.Tensor, first: int, last: int) -> torch.Tensor:
    """(n, frame) mean-removed frames -> (n, last - first + 1): YIN's ``d'`` at lags first..last.

    Frames without energy give 1 (no periodicity) at every lag.
    """
    n, size = frames.shape
    start = (size - WINDOW - last) // 2
    x = frames.float()
    part = x[:, start : start + WINDOW]
    spectrum = torch.fft.rfft(x, n=2 * size) * torch.fft.rfft(part, n=2 * size).conj()
    lagged = torch.fft.irfft(spectrum, n=2 * size)  # [:, m] = sum part[i] * x[m + i]
    lags = torch.arange(1, last + 1, device=frames.device)
    cross = lagged[:, start + lags]
    energy = torch.cumsum(x.square(), dim=-1)
    energy = torch.cat([energy.new_zeros(n, 1), energy], dim=-1)  # [:, i] = sum x[:i]^2
    own = energy[:, start + WINDOW, None] - energy[:, start, None]
    shifted = energy[:, start + WINDOW + lags] - energy[:, start + lags]
    d = (own + shifted - 2 * cross).clamp_min(0.0)
    running = torch.cumsum(d, dim=-1)
    normalised = d * lags / running.clamp_min(1e-30)
    normalised = torch.where(running > 1e-6 * own.clamp_min(1e-30), normalised, 1.0)
    return normalised[:, first - 1 :]


def at_period(curve: torch.Tensor, first: int, f0: torch.Tensor, rate: int) -> torch.Tensor:
    """Harmonicity in [0, 1] of each frame: 1 - `curve`'s minimum within tolerance of its period.

    `curve` is (..., lags) from `difference` (lag ``first`` in column 0), `f0` (...) in Hz;
    frames whose f0 is NaN or whose period is outside the curve's lags get 0.
    """
    n_lags = curve.shape[-1]
    period = rate / f0
    low = torch.floor(period / (1 + LAG_TOLERANCE)) - first
    high = torch.ceil(period * (1 + LAG_TOLERANCE)) - first
    longest = first + n_lags - 1  # lags low..high around a period P: at most P * spread + 3
    width = math.ceil(longest * ((1 + LAG_TOLERANCE) - 1 / (1 + LAG_TOLERANCE))) + 3
    offsets = torch.arange(width, device=curve.device)
    low_index = torch.nan_to_num(low, nan=-1.0).clamp(-1, n_lags).long()
    high_index = torch.nan_to_num(high, nan=-2.0).clamp(-2, n_lags).long()
    index = low_index[..., None] + offsets
    valid = (index <= high_index[..., None]) & (index >= 0) & (index < n_lags)
    values = curve.gather(-1, index.clamp(0, n_lags - 1)).masked_fill(~valid, math.inf)
    return (1.0 - values.amin(dim=-1)).clamp(0.0, 1.0)
