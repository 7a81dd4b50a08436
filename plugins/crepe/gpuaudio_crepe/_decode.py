"""From CREPE's pitch-bin salience to F0, vectorised over (batch, frames) on the device.

Three decoders pick a bin per frame: ``argmax``; ``weighted_argmax`` (argmax refined by the
salience-weighted mean of the nine bins around it, as the original CREPE does); ``viterbi``
(torchcrepe's HMM: softmax observations, a triangular transition over +-11 bins, max-product
decoding, then the same nine-bin refinement around the path). No dithering: the same input
always gives the same F0.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from gpuaudio_crepe._network import PITCH_BINS

__all__ = ["DECODERS", "allowed_bins", "bin_hz", "cents_to_hz", "decode", "viterbi_path"]

DECODERS = ("viterbi", "weighted_argmax", "argmax")
CENTS_PER_BIN = 20
_CENTS_OF_BIN_0 = 1997.3794084376191
"""Cents above 10 Hz of bin 0 (32.7 Hz), torchcrepe's constant."""
_REFINE_RADIUS = 4
"""The refinement averages bins ``b - 4 .. b + 4`` around the decoded bin ``b``."""
_TRANSITION_RADIUS = 11
"""torchcrepe's transition weights are ``max(12 - |i - j|, 0)``: non-zero for |i - j| <= 11."""
VITERBI_BLOCK = 1024
VITERBI_MARGIN = 256
"""Sequences longer than ``VITERBI_BLOCK + 2 * VITERBI_MARGIN`` frames are decoded as
overlapping blocks in one batch, keeping each block's central ``VITERBI_BLOCK`` frames."""


def allowed_bins(fmin: float, fmax: float) -> tuple[int, int]:
    """Bins ``[lo, hi)`` inside ``[fmin, fmax]``, rounded outwards as torchcrepe does."""
    lo = math.floor((1200 * math.log2(fmin / 10.0) - _CENTS_OF_BIN_0) / CENTS_PER_BIN)
    hi = math.ceil((1200 * math.log2(fmax / 10.0) - _CENTS_OF_BIN_0) / CENTS_PER_BIN)
    lo, hi = max(0, lo), min(PITCH_BINS, hi)
    if lo >= hi:
        raise ValueError(f"no CREPE pitch bin lies in [{fmin}, {fmax}] Hz (32.7 Hz - 1975.5 Hz)")
    return lo, hi


def bin_hz(index: int) -> float:
    """Centre frequency in Hz of pitch bin `index`."""
    return float(10.0 * 2.0 ** ((CENTS_PER_BIN * index + _CENTS_OF_BIN_0) / 1200.0))


def cents_to_hz(cents: torch.Tensor) -> torch.Tensor:
    """Cents above 10 Hz to Hz."""
    return 10.0 * torch.pow(2.0, cents / 1200.0)


def decode(
    salience: torch.Tensor, decoder: str, lo: int, hi: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, frames, 360) salience -> (f0 in Hz, periodicity), each (batch, frames).

    Only bins ``[lo, hi)`` are considered; periodicity is the salience of the decoded bin.
    """
    inside = _inside(lo, hi, salience.device)
    if decoder == "viterbi":
        bins = viterbi_path(torch.log_softmax(salience.masked_fill(~inside, -math.inf), -1))
    elif decoder in ("argmax", "weighted_argmax"):
        bins = salience.masked_fill(~inside, -1.0).argmax(dim=-1)
    else:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {DECODERS}")
    periodicity = salience.gather(-1, bins[..., None])[..., 0]
    cents = _bin_cents(bins.to(salience.dtype))
    if decoder != "argmax":
        cents = _refine(salience.masked_fill(~inside, 0.0), bins, cents)
    return cents_to_hz(cents), periodicity


def _bin_cents(bins: torch.Tensor) -> torch.Tensor:
    return CENTS_PER_BIN * bins + _CENTS_OF_BIN_0


def _inside(lo: int, hi: int, device: torch.device) -> torch.Tensor:
    index = torch.arange(PITCH_BINS, device=device)
    return (index >= lo) & (index < hi)


def _refine(salience: torch.Tensor, bins: torch.Tensor, cents: torch.Tensor) -> torch.Tensor:
    """Salience-weighted mean cents of the bins within ``_REFINE_RADIUS`` of `bins`."""
    offsets = torch.arange(-_REFINE_RADIUS, _REFINE_RADIUS + 1, device=bins.device)
    neighbours = bins[..., None] + offsets
    valid = (neighbours >= 0) & (neighbours < PITCH_BINS)
    weights = salience.gather(-1, neighbours.clamp(0, PITCH_BINS - 1)) * valid
    total = weights.sum(-1)
    mean = (weights * _bin_cents(neighbours.to(salience.dtype))).sum(-1) / total.clamp_min(1e-12)
    return torch.where(total > 0, mean, cents)


@functools.lru_cache(maxsize=8)
def _log_transition(device: torch.device) -> torch.Tensor:
    """(23, 360): log weight of the move from bin ``j + d`` into bin ``j``, row d + 11.

    Rows of torchcrepe's transition matrix are normalised per source bin, so bins near the
    edges have larger weights; impossible moves (outside 0..359) are -inf.
    """
    offsets = torch.arange(-_TRANSITION_RADIUS, _TRANSITION_RADIUS + 1)
    weight = (_TRANSITION_RADIUS + 1 - offsets.abs()).double()
    neighbours = torch.arange(PITCH_BINS)[None, :] + offsets[:, None]  # (23, 360)
    inside = (neighbours >= 0) & (neighbours < PITCH_BINS)
    # The same offsets seen from a source bin give its destinations: sum = the row's norm.
    row_sums = (weight[:, None] * inside).sum(0)
    log_w = torch.log(weight)[:, None] - torch.log(row_sums[neighbours.clamp(0, PITCH_BINS - 1)])
    return log_w.masked_fill(~inside, -math.inf).float().to(device)


def viterbi_path(log_obs: torch.Tensor) -> torch.Tensor:
    """Most likely bin sequence, (batch, frames), for log observations (batch, frames, 360).

    Long sequences are cut into overlapping blocks decoded together (see `VITERBI_BLOCK`);
    the margins let the paths of neighbouring blocks meet before the kept frames.
    """
    batch, frames, _ = log_obs.shape
    if frames <= VITERBI_BLOCK + 2 * VITERBI_MARGIN:
        return _viterbi(log_obs)
    n_blocks = math.ceil(frames / VITERBI_BLOCK)
    # Frames that say nothing: every allowed bin (finite in any frame) equally likely.
    uninformative = torch.where(torch.isfinite(log_obs[0, 0]), 0.0, -math.inf)
    tail = n_blocks * VITERBI_BLOCK - frames + VITERBI_MARGIN
    padded = torch.cat(
        [
            uninformative.expand(batch, VITERBI_MARGIN, PITCH_BINS),
            log_obs,
            uninformative.expand(batch, tail, PITCH_BINS),
        ],
        dim=1,
    )
    span = VITERBI_BLOCK + 2 * VITERBI_MARGIN
    blocks = padded.unfold(1, span, VITERBI_BLOCK).permute(0, 1, 3, 2)  # (b, n, span, 360)
    paths = _viterbi(blocks.reshape(batch * n_blocks, span, PITCH_BINS))
    kept = paths[:, VITERBI_MARGIN : VITERBI_MARGIN + VITERBI_BLOCK]
    return kept.reshape(batch, n_blocks * VITERBI_BLOCK)[:, :frames]


def _viterbi(log_obs: torch.Tensor) -> torch.Tensor:
    """Exact max-product decoding over the banded transition, one step per frame.

    The forward pass keeps every frame's best log score (no back pointers); the backward pass
    recomputes, for the chosen bin only, which of its 23 possible sources led there.
    """
    batch, frames, bins = log_obs.shape
    log_trans = _log_transition(log_obs.device)
    scores = torch.empty_like(log_obs)
    scores[:, 0] = log_obs[:, 0]
    band_max = _band_max_unfolded if log_obs.is_cuda else _band_max_shifted
    for t in range(1, frames):
        torch.add(band_max(scores[:, t - 1], log_trans), log_obs[:, t], out=scores[:, t])
    path = torch.empty(batch, frames, dtype=torch.long, device=log_obs.device)
    state = scores[:, -1].argmax(dim=-1)
    path[:, -1] = state
    rows = torch.arange(batch, device=log_obs.device)[:, None]
    offsets = torch.arange(-_TRANSITION_RADIUS, _TRANSITION_RADIUS + 1, device=log_obs.device)
    for t in range(frames - 1, 0, -1):
        sources = state[:, None] + offsets
        candidates = scores[rows, t - 1, sources.clamp(0, bins - 1)] + log_trans[:, state].T
        state = sources.gather(1, candidates.argmax(dim=1, keepdim=True))[:, 0]
        path[:, t - 1] = state
    return path


def _band_max_shifted(previous: torch.Tensor, log_trans: torch.Tensor) -> torch.Tensor:
    """max over d of ``previous[j + d] + log_trans[d, j]``: 23 shifted maxima (fast on CPU)."""
    bins = previous.shape[-1]
    padded = F.pad(previous, (_TRANSITION_RADIUS, _TRANSITION_RADIUS), value=-math.inf)
    best = padded[:, :bins] + log_trans[0]
    for d in range(1, log_trans.shape[0]):
        torch.maximum(best, padded[:, d : d + bins] + log_trans[d], out=best)
    return best


def _band_max_unfolded(previous: torch.Tensor, log_trans: torch.Tensor) -> torch.Tensor:
    """The same maximum as one unfolded reduction: few kernel launches per frame (GPU)."""
    width = log_trans.shape[0]
    padded = F.pad(previous, (_TRANSITION_RADIUS, _TRANSITION_RADIUS), value=-math.inf)
    return (padded.unfold(1, width, 1) + log_trans.T).amax(dim=-1)
