"""Escalation segments: flagged windows merged into stretches, kept when a listener would hear
the rise (`audible`), and described against their voice's baseline (`Segment`).

The rules of docs/escalation.md's method, step 8, shared by the offline analysis
(`escalation.score_segments`) and the live monitor (`streaming`), which opens segments by
the same rule.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gpuaudio.analysis.cues import FEATURES

if TYPE_CHECKING:
    from gpuaudio.analysis.escalation import Baseline, EscalationParams, WindowFeatures


@dataclass(frozen=True)
class Segment:
    """A stretch of escalation: merged flagged windows, at least `min_duration_s` long."""

    start_s: float
    end_s: float
    peak_score: float
    peak_time_s: float
    mean_score: float
    n_windows: int
    drivers: tuple[str, ...]
    """Features that raised the score, largest contribution first."""
    voice: int
    """The voice of most of the segment's flagged windows (0 with one voice on the channel);
    the changes below are that voice's windows against that voice's baseline."""
    f0_median_hz: float
    pitch_change_st: float
    """Median F0 of the segment's flagged windows relative to the baseline, in semitones."""
    floor_change_st: float
    """How far the voice's speech in the segment lifted its floor (`floor_change`) over its
    calm speech, in semitones."""
    level_change_db: float
    """Median recorded level of the voice's flagged windows over its baseline, in dB: what a
    listener of the recording hears. Gain read back from the noise floor (an AGC's) counts
    in the score, not here: counted here it let a calm conversation of two differently
    recorded voices pass the floor rule's loud branch (docs/escalation-history.md)."""
    variability_change_st: float
    balance_change_db: float
    syllable_rate_change_hz: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def find_segments(
    windows: WindowFeatures,
    baselines: list[Baseline | None],
    params: EscalationParams,
    pitch: np.ndarray,
) -> list[Segment]:
    """Merge flagged windows closer than `max_gap_s`, or with only a pause of up to
    `max_pause_s` between them; keep spans of `min_duration_s` or more that a listener would
    hear (`audible`). `baselines`: each voice's (`WindowFeatures.voice` indexes them);
    `pitch`: each window's frames (`frame_pitch`), for the segments' floor.

    With two voices on the channel, a voice's flagged windows that no kept span holds are
    merged once more on their own, the other voice's turns counted as pauses: in a heated
    exchange one party's raised turns alternate with the other's calm ones, which break the
    first merge into pieces shorter than the minimum. Such a span lies in no other segment,
    and when it bridges the other voice's speech its evidence is spread thin over the other's
    turns: it needs flagged windows over half the minimum duration and a rise a listener
    hears, 3 st or 6 dB, whatever its score (`_heard`, `audible`'s `across_turns`).

    A run that a listener would not hear as a whole but that holds windows flagged by a
    sustained rise alone (`_sustained_rises`: their score under the threshold) is judged again
    without them, as the score alone would have cut it: a sustained rise's weaker edges can
    dilute a short segment's rise under the bars of `audible`, and must not cost what the score
    found by itself.
    """
    if all(baseline is None for baseline in baselines):
        return []
    calm_speech = windows.speech & ~windows.flagged
    by_score = windows.flagged & (np.nan_to_num(windows.score, nan=-np.inf) >= params.threshold)
    lifted = windows.flagged & ~by_score
    taken = np.zeros(windows.flagged.shape[0], dtype=bool)
    found: list[tuple[int, int, Segment]] = []

    def keep(members: list[int], across_turns: bool) -> None:
        first, last = members[0], members[-1]
        segment = _heard(windows, np.asarray(members), baselines, params, pitch, across_turns)
        if segment is not None:
            taken[first : last + 1] = True
            found.append((first, last, segment))
        elif lifted[members].any():
            alone = np.zeros_like(by_score)
            alone[members] = by_score[members]
            calm = calm_speech | lifted
            for part, _ in merge_runs(windows.start_s, windows.end_s, alone, calm, params):
                keep(part, across_turns)

    runs = merge_runs(windows.start_s, windows.end_s, windows.flagged, calm_speech, params)
    for members, _ in runs:
        keep(members, False)
    if windows.voice.max(initial=-1) >= 1:
        for voice in (0, 1):
            own = windows.voice == voice
            runs = merge_runs(
                windows.start_s, windows.end_s, windows.flagged & own & ~taken,
                calm_speech & own, params, others=windows.speech & ~own,
            )
            for members, across_turns in runs:
                if not taken[members[0] : members[-1] + 1].any():
                    keep(members, across_turns)
    found.sort(key=lambda item: item[0])
    for number, (first, last, _) in enumerate(found):
        windows.segment[first : last + 1] = number
    return [segment for _, _, segment in found]


def merge_runs(
    starts: np.ndarray,
    ends: np.ndarray,
    flagged: np.ndarray,
    calm_speech: np.ndarray,
    params: EscalationParams,
    others: np.ndarray | None = None,
) -> list[tuple[list[int], bool]]:
    """The `flagged` windows merged into runs by `find_segments`' rule (only `calm_speech` breaks
    a pause), each with whether it bridges any of the `others` windows (the other voice's
    speech)."""
    runs: list[tuple[list[int], bool]] = []
    for index in np.flatnonzero(flagged):
        if runs:
            members, across = runs[-1]
            last = members[-1]
            gap = starts[index] - ends[last]
            pause = not calm_speech[last + 1 : index].any()
            if gap <= params.max_gap_s + 1e-9 or (pause and gap <= params.max_pause_s + 1e-9):
                members.append(int(index))
                bridged = others is not None and bool(others[last + 1 : index].any())
                runs[-1] = (members, across or bridged)
                continue
        runs.append(([int(index)], False))
    return runs


def _heard(
    windows: WindowFeatures,
    members: np.ndarray,
    baselines: list[Baseline | None],
    params: EscalationParams,
    pitch: np.ndarray,
    across_turns: bool,
) -> Segment | None:
    """The segment of a run of flagged windows, or None when it is shorter than
    `min_duration_s` or a listener would not hear it (`audible`). A run merged across the
    other voice's turns also needs flagged windows over half of `min_duration_s`: two raised
    words 7 s apart are not an escalation."""
    start, end = float(windows.start_s[members[0]]), float(windows.end_s[members[-1]])
    if end - start < params.min_duration_s - 1e-9:
        return None
    if across_turns and members.size * params.hop < params.min_duration_s / 2:
        return None
    segment = _describe(windows, members, start, end, baselines, params, pitch)
    louder_db = level_over_loudest(segment.level_change_db, baselines, segment.voice)
    heard = audible(
        segment.pitch_change_st, louder_db, params,
        duration_s=end - start, mean_score=segment.mean_score, across_turns=across_turns,
        floor_change_st=segment.floor_change_st,
    )
    return segment if heard else None


def level_over_loudest(
    level_change_db: float, baselines: list[Baseline | None], voice: int
) -> float:
    """The level rise that counts as louder (`audible`): `voice`'s rise over its baseline, less
    how far the loudest voice's baseline lies above its own. With two voices on a channel, a
    window of the louder voice given to the quieter one, or both speaking at once, reads that
    much louder: the quieter voice is louder only when it is louder than both (seen: the
    calm conversations of two voices of alike pitch; tuning half unchanged, session 27)."""
    levels = [b.level_dbfs for b in baselines if b is not None]
    own = baselines[voice] if 0 <= voice < len(baselines) else None
    if own is None or len(levels) < 2:
        return level_change_db
    return level_change_db - (max(levels) - own.level_dbfs)


def audible(
    pitch_change_st: float,
    level_change_db: float,
    params: EscalationParams,
    *,
    duration_s: float,
    mean_score: float,
    floor_change_st: float,
    across_turns: bool = False,
) -> bool:
    """Whether a stretch's rise over its baseline is large enough to be heard as escalation
    (NaN counts as no rise): pitch up by `min_pitch_rise_st` or level up by
    `min_level_rise_db`, when `min_pitch_rise_st` is set; and for a short, weak stretch
    (`short_segment_s`) pitch up by `short_min_pitch_rise_st` or level up by
    `min_level_rise_db`; the same for a stretch merged across the other voice's turns
    (`across_turns`), whatever its length and score: its scores are of scattered windows;
    and for a stretch shorter than `floor_segment_s` its voice's floor up by
    `min_floor_rise_st` (and `short_min_floor_rise_st` when it is shorter than
    `short_segment_s`) with the pitch up by `floor_min_pitch_rise_st`, or level up by
    `min_level_rise_db` with the floor up by `loud_min_floor_rise_st` and the pitch by
    `loud_min_pitch_rise_st`."""
    louder = level_change_db >= params.min_level_rise_db
    short = duration_s < params.short_segment_s - 1e-9
    floor_rise_st = max(params.min_floor_rise_st, params.short_min_floor_rise_st if short else 0.0)
    if duration_s < params.floor_segment_s - 1e-9 and not (
        (floor_change_st >= floor_rise_st and pitch_change_st >= params.floor_min_pitch_rise_st)
        or (
            louder
            and floor_change_st >= params.loud_min_floor_rise_st
            and pitch_change_st >= params.loud_min_pitch_rise_st
        )
    ):
        return False
    if params.min_pitch_rise_st is not None and not (
        pitch_change_st >= params.min_pitch_rise_st or louder
    ):
        return False
    short_and_weak = short and not mean_score >= params.threshold + params.short_score_margin
    must_rise = short_and_weak or across_turns
    return bool(not must_rise or pitch_change_st >= params.short_min_pitch_rise_st or louder)


_FLOOR_PERCENTILE = 20.0
"""A voice's floor: this percentile of its voiced frames' pitch (eGeMAPS' F0 20th percentile)."""
_SLIP_ST = 8.0
"""A frame further than this from its window's median pitch is a slip of the pitch track (an
octave error), not the voice's floor or peak."""


def frame_pitch(contour_f0: np.ndarray, n_windows: int) -> np.ndarray:
    """Each window's own frames' pitch, (windows, frames) in semitones: NaN where unvoiced and
    where a frame lies over `_SLIP_ST` from its window's median (octave slips)."""
    if n_windows == 0:
        return np.zeros((0, 0))
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # windows without voicing
        semitones = 12 * np.log2(contour_f0.reshape(n_windows, -1))
        median = np.nanmedian(semitones, axis=1, keepdims=True)
    return np.where(np.abs(semitones - median) <= _SLIP_ST, semitones, np.nan)


def floor_change(
    pitch: np.ndarray,
    speech: np.ndarray,
    voices: np.ndarray,
    flagged: np.ndarray,
    voice: int,
    first: int,
    last: int,
) -> float:
    """How far the stretch of windows `first`..`last` lifts `voice`'s floor: the
    `_FLOOR_PERCENTILE` of the frames' `pitch` (`frame_pitch`) of the voice's speech windows
    in the stretch (its calm ones included: a lively phrase falls back to the floor between
    its peaks) over that of the voice's calm (speech, not `flagged`) windows, in semitones;
    NaN when either holds no voiced frame. `voices`: each window's voice."""
    speaking = speech & (voices == voice)
    spoken = first + np.flatnonzero(speaking[first : last + 1])
    raised, usual = pitch[spoken], pitch[speaking & ~flagged]
    raised, usual = raised[np.isfinite(raised)], usual[np.isfinite(usual)]
    if raised.size == 0 or usual.size == 0:
        return math.nan
    return float(np.percentile(raised, _FLOOR_PERCENTILE) - np.percentile(usual, _FLOOR_PERCENTILE))


def segment_voice(voices: np.ndarray, baselines: list[Baseline | None]) -> int:
    """The voice a segment of windows belongs to: the voice of most of them among the voices
    that have a baseline (the lowest on a tie); of most of them when none has one yet (the
    live monitor before its first fit). `voices`: each window's voice, -1 counted as 0."""
    counts = np.bincount(np.maximum(voices, 0), minlength=max(len(baselines), 1))
    scored = [voice for voice, baseline in enumerate(baselines) if baseline is not None]
    return max(scored, key=lambda voice: counts[voice]) if scored else int(counts.argmax())


def cue_contributions(
    windows: WindowFeatures, members: np.ndarray, weights: tuple[float, ...]
) -> list[float]:
    """Each cue's mean share of the score over the `members` windows (w_i * z_i / |w|), in
    `FEATURES` order: they add up to the windows' mean score."""
    norm = math.sqrt(sum(w * w for w in weights))
    return [
        w * float(np.mean(getattr(windows, f"z_{name}")[members])) / norm
        for w, name in zip(weights, FEATURES, strict=True)
    ]


def _describe(
    windows: WindowFeatures,
    members: np.ndarray,
    start: float,
    end: float,
    baselines: list[Baseline | None],
    params: EscalationParams,
    pitch: np.ndarray,
) -> Segment:
    """The segment of the `members` windows (`start`..`end`): its scores, the cues that drove
    them, and its voice's changes over that voice's baseline (the voice of most members among
    those with a baseline; its own members only, when it has any)."""
    scores = windows.score[members]
    peak = int(np.argmax(scores))
    contributions = cue_contributions(windows, members, params.weights)
    order = sorted(range(len(FEATURES)), key=lambda i: -contributions[i])
    drivers = tuple(FEATURES[i] for i in order if contributions[i] > 0)
    peak_time_s = float(windows.start_s[members[peak]] + params.window_s / 2)
    voice = segment_voice(windows.voice[members], baselines)
    baseline = baselines[voice]
    assert baseline is not None  # segments are found only when a voice has a baseline
    floor = floor_change(
        pitch, windows.speech, windows.voice, windows.flagged, voice, members[0], members[-1]
    )
    own = members[windows.voice[members] == voice]
    members = own if own.size else members
    f0 = float(np.nanmedian(windows.f0_median_hz[members]))
    return Segment(
        start_s=start,
        end_s=end,
        peak_score=float(scores[peak]),
        peak_time_s=peak_time_s,
        mean_score=float(np.mean(scores)),
        n_windows=int(scores.size),
        drivers=drivers,
        voice=int(voice),
        f0_median_hz=f0,
        pitch_change_st=12 * math.log2(f0 / baseline.f0_median_hz),
        floor_change_st=floor,
        level_change_db=float(np.median(windows.level_dbfs[members])) - baseline.level_dbfs,
        variability_change_st=float(np.nanmedian(windows.f0_variability_st[members]))
        - baseline.variability_st,
        balance_change_db=float(np.nanmedian(windows.balance_db[members])) - baseline.balance_db,
        syllable_rate_change_hz=float(np.median(windows.syllable_rate_hz[members]))
        - baseline.syllable_rate_hz,
    )
