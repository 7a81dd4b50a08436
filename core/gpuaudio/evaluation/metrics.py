"""Accuracy metrics against ground truth: frame-wise F0 (mir_eval's definitions) and intervals.

F0 conventions (as in ``mir_eval.melody``):

- A reference frame is voiced where its F0 is finite and > 0; NaN or 0 means unvoiced.
- An estimate has a *pitch* where its F0 is finite and > 0. Its *voicing* is ``est_voiced``
  when given, else "has a pitch". Like mir_eval (where a negative frequency is an unvoiced frame
  carrying a pitch guess), raw pitch and raw chroma accuracy score the pitch on **every
  reference-voiced frame regardless of the estimated voicing**; a frame without an estimated
  pitch counts as wrong. For estimators that return NaN F0 whenever unvoiced (``librosa.pyin``,
  every gpuaudio F0 backend) this is the fraction of reference-voiced frames that are estimated
  voiced *and* within the tolerance.
- A pitch is correct when ``|1200 * log2(est / ref)| < cent_tolerance`` (strict, as mir_eval).
- Empty denominators give 0.0, as mir_eval does (e.g. false alarm on an all-voiced reference).

Intervals are ``(start_s, end_s)`` pairs; overlapping ones are merged before scoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "F0Scores",
    "IntervalScores",
    "f0_scores",
    "interval_scores",
    "merge_intervals",
    "resample_f0",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Interval = tuple[float, float]


@dataclass(frozen=True)
class F0Scores:
    """Frame-wise F0 accuracy of an estimate against a reference on the same frames."""

    raw_pitch_accuracy: float
    """Reference-voiced frames whose estimated pitch is within the tolerance."""
    raw_chroma_accuracy: float
    """As raw pitch accuracy, but octave errors forgiven (pitch folded onto one octave)."""
    voicing_recall: float
    """Reference-voiced frames estimated voiced."""
    voicing_false_alarm: float
    """Reference-unvoiced frames estimated voiced."""
    overall_accuracy: float
    """Frames that are right: voiced with a correct pitch, or unvoiced in both."""
    n_frames: int
    n_ref_voiced: int

    def as_dict(self) -> dict[str, float | int]:
        """The scores as a plain dict (for JSON)."""
        return asdict(self)


def _voiced(f0: npt.ArrayLike) -> tuple[FloatArray, BoolArray]:
    values = np.asarray(f0, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        voiced = np.isfinite(values) & (values > 0)
    return values, voiced


def _ratio(numerator: int, denominator: int) -> float:
    return float(numerator) / denominator if denominator else 0.0


def f0_scores(
    ref_f0: npt.ArrayLike,
    est_f0: npt.ArrayLike,
    est_voiced: npt.ArrayLike | None = None,
    *,
    cent_tolerance: float = 50.0,
) -> F0Scores:
    """Score an F0 estimate against a reference on the same frames (see the module docstring).

    `ref_f0` and `est_f0` are Hz per frame (NaN or 0 = unvoiced / no pitch); `est_voiced` is
    the estimator's voicing decision per frame, defaulting to "has a pitch".
    """
    ref, ref_voiced = _voiced(ref_f0)
    est, has_pitch = _voiced(est_f0)
    if ref.shape != est.shape or ref.ndim != 1:
        raise ValueError(
            f"ref_f0 and est_f0 must be 1-D and equal in length: {ref.shape}, {est.shape}"
        )
    voiced = has_pitch if est_voiced is None else np.asarray(est_voiced, dtype=bool)
    if voiced.shape != ref.shape:
        raise ValueError(f"est_voiced has shape {voiced.shape}, expected {ref.shape}")
    if cent_tolerance <= 0:
        raise ValueError(f"cent_tolerance must be positive, got {cent_tolerance}")

    both = ref_voiced & has_pitch
    cents = np.zeros_like(ref)
    cents[both] = 1200.0 * np.abs(np.log2(est[both] / ref[both]))
    pitch_ok = both & (cents < cent_tolerance)
    folded = np.abs(cents - 1200.0 * np.floor(cents / 1200.0 + 0.5))
    chroma_ok = both & (folded < cent_tolerance)

    n_voiced = int(ref_voiced.sum())
    n_unvoiced = ref.size - n_voiced
    correct = int((ref_voiced & voiced & pitch_ok).sum()) + int((~ref_voiced & ~voiced).sum())
    return F0Scores(
        raw_pitch_accuracy=_ratio(int(pitch_ok.sum()), n_voiced),
        raw_chroma_accuracy=_ratio(int(chroma_ok.sum()), n_voiced),
        voicing_recall=_ratio(int((ref_voiced & voiced).sum()), n_voiced),
        voicing_false_alarm=_ratio(int((~ref_voiced & voiced).sum()), n_unvoiced),
        overall_accuracy=_ratio(correct, ref.size),
        n_frames=int(ref.size),
        n_ref_voiced=n_voiced,
    )


def resample_f0(
    times: npt.ArrayLike,
    f0: npt.ArrayLike,
    new_times: npt.ArrayLike,
    *,
    kind: Literal["linear", "nearest"] = "linear",
) -> FloatArray:
    """A reference F0 track (Hz, NaN/0 unvoiced) on another frame grid; NaN where unvoiced.

    Voicing at a new time is that of the nearest reference frame, so unvoiced stays unvoiced.
    With ``kind="linear"`` a voiced frame between two voiced reference frames is interpolated
    linearly in log-frequency; next to an unvoiced frame it takes the nearest voiced value.
    Times more than half a reference step outside the reference grid are unvoiced.
    `times` must be increasing.
    """
    grid = np.asarray(times, dtype=np.float64)
    values, voiced = _voiced(f0)
    query = np.asarray(new_times, dtype=np.float64)
    if grid.ndim != 1 or grid.shape != values.shape or grid.size == 0:
        raise ValueError(f"times and f0 must be 1-D, non-empty and equal in length: {grid.shape}")
    if grid.size > 1 and np.any(np.diff(grid) <= 0):
        raise ValueError("times must be strictly increasing")
    if kind not in ("linear", "nearest"):
        raise ValueError(f"kind must be 'linear' or 'nearest', got {kind!r}")

    half_step = 0.5 * float(np.median(np.diff(grid))) if grid.size > 1 else 0.0
    right = np.clip(np.searchsorted(grid, query), 1, max(grid.size - 1, 1))
    left = right - 1
    if grid.size == 1:
        nearest = np.zeros(query.shape, dtype=np.intp)
    else:
        nearest = np.where(query - grid[left] <= grid[right] - query, left, right)
    inside = (query >= grid[0] - half_step) & (query <= grid[-1] + half_step)
    out = np.full(query.shape, np.nan)
    keep = inside & voiced[nearest]
    out[keep] = values[nearest[keep]]
    if kind == "linear" and grid.size > 1:
        weight = (query - grid[left]) / (grid[right] - grid[left])
        between = keep & voiced[left] & voiced[right] & (weight > 0) & (weight < 1)
        lo, hi, w = left[between], right[between], weight[between]
        out[between] = np.exp2((1 - w) * np.log2(values[lo]) + w * np.log2(values[hi]))
    return out


@dataclass(frozen=True)
class IntervalScores:
    """Predicted segments (e.g. escalation) scored against reference segments by time overlap."""

    recall: float
    """Share of reference time covered by predictions (0.0 when there is no reference time)."""
    precision: float
    """Share of predicted time inside references (0.0 when nothing is predicted)."""
    detected: int
    """Reference segments overlapped by at least one prediction."""
    n_reference: int
    false_alarms: int
    """Predicted segments that overlap no reference segment."""
    false_alarms_per_hour: float
    duration_s: float

    def as_dict(self) -> dict[str, float | int]:
        """The scores as a plain dict (for JSON)."""
        return asdict(self)


def merge_intervals(intervals: Iterable[Sequence[float]]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same time; rejects end < start."""
    spans = sorted((float(start), float(end)) for start, end in intervals)
    merged: list[Interval] = []
    for start, end in spans:
        if end < start:
            raise ValueError(f"interval ends before it starts: ({start}, {end})")
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _overlap(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    """Total time in both of two lists of disjoint intervals."""
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def interval_scores(
    reference: Iterable[Sequence[float]],
    predicted: Iterable[Sequence[float]],
    *,
    duration_s: float,
) -> IntervalScores:
    """Time-overlap recall and precision, detections, and false alarms per hour of audio.

    `duration_s` is the length of the recording the predictions were made on (> 0).
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    ref = merge_intervals(reference)
    pred = merge_intervals(predicted)
    shared = _overlap(ref, pred)
    ref_time = sum(end - start for start, end in ref)
    pred_time = sum(end - start for start, end in pred)
    false_alarms = sum(1 for p in pred if _overlap([p], ref) <= 0.0)
    return IntervalScores(
        recall=shared / ref_time if ref_time > 0 else 0.0,
        precision=shared / pred_time if pred_time > 0 else 0.0,
        detected=sum(1 for r in ref if _overlap([r], pred) > 0.0),
        n_reference=len(ref),
        false_alarms=false_alarms,
        false_alarms_per_hour=false_alarms * 3600.0 / duration_s,
        duration_s=float(duration_s),
    )
