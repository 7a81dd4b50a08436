"""Build calls from real recorded speech with planted escalations of known spans.

Reads the committed source speech in ``sources/`` (see extract_sources.py and README.md),
re-synthesises every utterance with WORLD (harvest + StoneMask F0, CheapTrick, D4C) so that
resynthesis artefacts are everywhere, not only in the spans, and writes calls of one speaker
(or two, taking turns) in three channel conditions:

``clean``      16 kHz FLAC.
``telephone``  8 kHz WAV: resampled to 8 kHz, white noise at 20-25 dB SNR (re the active
               level of the call's speech outside the spans), 4th-order Butterworth
               band-pass 300-3400 Hz, G.711 mu-law 8-bit encode and decode.
``agc``        8 kHz WAV: the telephone chain with an automatic gain control before the
               mu-law coder (level of the speech frames followed with 1 s attack / 3 s
               release time constants, frames more than 12 dB under the followed level hold
               the gain; gain = target - level, within +-24 dB). It removes most of a planted
               dB rise, as a phone line's AGC does.
``gsm``        (only with ``--conditions ...,gsm``) 8 kHz WAV: the telephone chain, its noise
               included, with the GSM 06.10 full-rate coder (13 kbit/s, libsndfile's) in
               place of mu-law: the other coder issue 11 names for the phone line.
``agc-fast``   (on request) the ``agc`` chain with a fast AGC: 0.1 s attack, 0.5 s release.
``agc-open``   (on request) the ``agc`` chain with an AGC without a gate: pauses and noise
               move the followed level too, so the gain rises in pauses.
``agc-line``   (on request) the AGC on the call before the line: the line's noise comes
               after it, so the noise floor no longer follows the gain.
``room-phone`` (on request) the ``telephone`` chain fed by a far-field microphone in a
               reverberant room (`room`: RT60 0.4-0.9 s, direct-to-reverberant ratio -3..+3
               dB); ``room-agc`` the same behind the ``agc`` chain. A raised voice raises the
               reverberation between its words: the floor no longer holds still.

Inside a planted span the re-synthesis has F0 x 2^(st/12), the gain + dB and, for some
recipes, faster speech (WORLD's frame sequence resampled by the tempo factor), with a 1-2 s
linear ramp of pitch and gain at both edges. A span starts at the start of an utterance and
ends at the end of one, so the truth span (truth.csv) is where the planted span overlaps
speech. Calm calls have no span; ``questions`` calls end about 60% of their utterances with a
rising glide (+4 st over their last 0.4 s of voicing); ``dialogue`` calls alternate two
speakers (truth: no escalation; turns.csv says who speaks when). ``--all-questions`` makes
every speaker's calm call a questions call and ``--question-share/-st/-seconds`` set the glide
(a stress test of question prosody; with ``--kinds questions`` only those calls are built, ids
and seeds as in a full build). ``--every-pair`` builds only conversations: every two real
speakers of a split, once calm and once as a heated exchange (a stress test of two voices on
one channel).

``f0/<call_id>.csv`` (``time_s,f0_hz``, 5-ms grid from 0 s, 0 = unvoiced) is the F0 track
that WORLD synthesised each utterance with (question glides, span shifts and tempo included),
laid on the call's timeline: the known F0 of every condition (channels do not move pitch).

Speakers are split into ``tune`` and ``test`` halves by speaker (sources/speakers.csv).
``--split tune-spontaneous`` builds the tuning voices of unscripted speech kept apart from
the standard builds (``all`` is tune + test), so adding them changed no call of those.
Deterministic: every random draw comes from numpy Generators seeded with (seed, call, use);
the same seed gives the same files byte for byte on the same library versions.

    python benchmarks/escalation_real/build_set.py --out DIR [--seed 0] [--split tune]
        [--speakers ami-MEE009,...] [--max-calls N] [--call-seconds 120:240]
        [--conditions clean,telephone,agc] [--recipes rise-high,...] [--flat]
        [--kinds questions] [--all-questions] [--question-share 0.6] [--question-st 4]
        [--question-seconds 0.4] [--every-pair]
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import io
import itertools
import json
import math
import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "known_f0"))
from speechset import import_pyworld, pink_noise  # the known-F0 set's helpers, shared

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
SR = 16000
PHONE_SR = 8000
FRAME_MS = 5.0
HOP = int(SR * FRAME_MS / 1000)
CALM_DBFS = -30.0  # active speech level of a calm utterance before the channel
NOISE_FLOOR_DB = -45.0  # pink noise floor of the clean call, re the calm speech level
CONDITIONS = ("clean", "telephone", "agc")
EXTRA_CONDITIONS = ("gsm", "agc-fast", "agc-open", "agc-line", "room-phone", "room-agc")
"""Built on request (``--conditions``): ``gsm``, the telephone chain with a GSM 06.10 coder,
three other AGCs (`AGC_VARIANTS`): what a held-out phone line's AGC may be, and the phone
line (with or without AGC) fed from a reverberant room (`room`)."""
RT60_S = (0.4, 0.9)
DRR_DB = (-3.0, 3.0)


@dataclass(frozen=True)
class AgcVariant:
    """An automatic gain control on the phone line (`agc`'s settings) and where it sits."""

    attack_s: float = 1.0
    release_s: float = 3.0
    gate_db: float = 12.0
    before_line_noise: bool = False
    """The AGC works on the call before the line's noise is added (else after it, as a
    handset's AGC gets the noise its microphone picked up with the voice)."""

    def apply(self, y: np.ndarray) -> np.ndarray:
        return agc(
            y, PHONE_SR, attack_s=self.attack_s, release_s=self.release_s, gate_db=self.gate_db
        )


AGC_VARIANTS = {
    "agc": AgcVariant(),
    "agc-fast": AgcVariant(attack_s=0.1, release_s=0.5),
    "agc-open": AgcVariant(gate_db=math.inf),
    "agc-line": AgcVariant(before_line_noise=True),
}
MIN_SPEAKER_S = 15.0  # speakers with less source speech only appear in dialogues

# Escalation recipes: (name, spans as (kind, pitch_st, gain_db, tempo, seconds) ranges).
# Ranges are (low, high) drawn uniformly; a name as seconds is a share of the call's speech
# (`_SPEECH_SHARES`: "half" 35-50 %, "most" 55-70 %).
# Changing this list changes every build of the same seed (held-out builds included).
RECIPES: list[tuple[str, list[dict[str, Any]]]] = [
    ("rise-low", [{"st": (3.0, 3.5), "db": (4.0, 5.0), "tempo": (1.0, 1.0), "s": (20, 40)}]),
    ("rise-mid", [{"st": (4.5, 5.5), "db": (7.0, 9.0), "tempo": (1.0, 1.0), "s": (20, 40)}]),
    ("rise-high", [{"st": (6.5, 7.0), "db": (11.0, 12.0), "tempo": (1.0, 1.0), "s": (20, 40)}]),
    ("pitch-only", [{"st": (4.0, 6.0), "db": (0.0, 0.0), "tempo": (1.0, 1.0), "s": (20, 40)}]),
    ("tempo", [{"st": (4.0, 6.0), "db": (6.0, 10.0), "tempo": (1.1, 1.25), "s": (20, 40)}]),
    ("long", [{"st": (4.0, 6.0), "db": (6.0, 10.0), "tempo": (1.0, 1.0), "s": "half"}]),
    ("short", [{"st": (5.0, 7.0), "db": (8.0, 12.0), "tempo": (1.0, 1.0), "s": (8, 12)}]),
    (
        "two-spans",
        [
            {"st": (3.0, 4.0), "db": (4.0, 6.0), "tempo": (1.0, 1.0), "s": (15, 25)},
            {"st": (6.0, 7.0), "db": (10.0, 12.0), "tempo": (1.1, 1.2), "s": (15, 25)},
        ],
    ),
]
STRESS_RECIPES: list[tuple[str, list[dict[str, Any]]]] = [
    ("most", [{"st": (4.0, 6.0), "db": (6.0, 10.0), "tempo": (1.0, 1.0), "s": "most"}]),
]
"""Recipes beyond the issue's ("long": up to half the speech), only by name (`--recipes`), so
that the default rotation and every earlier build stay as they were. "most" as seconds means
55-70 % of the call's speech: in a heated exchange one party's raised speech can pass half of
hers (docs/escalation-history.md, session 31)."""
_ALL_RECIPES = dict(RECIPES) | dict(STRESS_RECIPES)
_SPEECH_SHARES = {"half": (0.35, 0.5), "most": (0.55, 0.7)}
RAMP_S = (1.0, 2.0)
OVERLAP_SHARE = 0.25
"""Share of a dialogue's turn changes where the next speaker starts early (talks over)."""
OVERLAP_S = (0.1, 0.6)
KINDS = ("escalation", "calm", "questions", "dialogue")


@dataclass(frozen=True)
class QuestionGlide:
    """The question prosody of "questions" calls: a share of their utterances end on a glide
    of `st` semitones over their last `seconds` of voicing."""

    share: float = 0.6
    st: float = 4.0
    seconds: float = 0.4


# -- sources ---------------------------------------------------------------------------------


@dataclass
class World:
    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray
    n_samples: int


@dataclass
class Speaker:
    name: str
    sex: str
    language: str
    split: str
    real: bool
    seconds: float
    utterances: list[np.ndarray] = field(default_factory=list)
    worlds: list[World] = field(default_factory=list)
    gain: float = 1.0
    """Linear gain that brings the speaker's median utterance to CALM_DBFS."""


def active_db(x: np.ndarray) -> float:
    """Level of the active part: RMS over the 20-ms frames within 30 dB of the loudest."""
    hop = SR // 50
    n = max(1, x.size // hop)
    power = np.mean(np.asarray(x[: n * hop], np.float64).reshape(n, -1) ** 2, axis=1) + 1e-20
    db = 10 * np.log10(power)
    return float(10 * np.log10(np.mean(power[db > db.max() - 30.0])))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_speakers(sources: Path, names: set[str] | None, jobs: int = 1) -> dict[str, Speaker]:
    """The speakers (all, or `names`) with their utterances, analysed with WORLD (in `jobs`
    processes)."""
    speakers: dict[str, Speaker] = {}
    for row in read_csv(sources / "speakers.csv"):
        if names is None or row["speaker"] in names:
            speakers[row["speaker"]] = Speaker(
                row["speaker"],
                row["sex"],
                row["language"],
                row["split"],
                row["real"] == "True",
                float(row["seconds"]),
            )
    audio: dict[str, np.ndarray] = {}
    for row in read_csv(sources / "utterances.csv"):
        speaker = speakers.get(row["speaker"])
        if speaker is None:
            continue
        if speaker.name not in audio:
            audio[speaker.name] = sf.read(sources / f"{speaker.name}.flac", dtype="float64")[0]
        a, b = round(float(row["start_s"]) * SR), round(float(row["end_s"]) * SR)
        speaker.utterances.append(audio[speaker.name][a:b])
    worlds = iter(_map(analyse, [u for s in speakers.values() for u in s.utterances], jobs))
    for speaker in speakers.values():
        speaker.worlds = [next(worlds) for _ in speaker.utterances]
        median_db = float(np.median([active_db(u) for u in speaker.utterances]))
        speaker.gain = 10 ** ((CALM_DBFS - median_db) / 20)
    return speakers


def _map(function: Callable[[Any], Any], items: list[Any], jobs: int) -> list[Any]:
    """`function` over `items` in order, in `jobs` forked processes when more than one (a fork
    shares what `_FORKED` holds with the workers without pickling it)."""
    if jobs <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(jobs, len(items)), mp_context=context) as pool:
        return list(pool.map(function, items))


_FORKED: dict[str, Any] = {}
"""The speakers and the build's settings, for forked call renderers: the speakers' WORLD
analyses (~1 GB for the full set) are too large to pickle for every call."""


def analyse(x: np.ndarray) -> World:
    pw = import_pyworld()
    f0, times = pw.harvest(x, SR, f0_floor=60.0, f0_ceil=500.0, frame_period=FRAME_MS)
    f0 = pw.stonemask(x, f0, times, SR)
    sp = pw.cheaptrick(x, f0, times, SR)
    ap = pw.d4c(x, f0, times, SR)
    return World(f0, sp, ap, x.size)


# -- call plans --------------------------------------------------------------------------------


@dataclass
class Placement:
    speaker: str
    utterance: int
    gap_s: float
    """Silence before the utterance."""
    jitter_db: float
    question: bool = False
    span: int = -1
    """Index of the planted span the utterance belongs to (-1: none)."""


@dataclass
class SpanPlan:
    pitch_st: float
    gain_db: float
    tempo: float
    ramp_s: float
    start_s: float = 0.0
    end_s: float = 0.0


@dataclass
class CallPlan:
    call_id: str
    split: str
    kind: str
    """escalation, calm, questions or dialogue."""
    recipe: str
    speakers: list[str]
    seed: list[int]
    seconds: float
    placements: list[Placement] = field(default_factory=list)
    spans: list[SpanPlan] = field(default_factory=list)
    questions: QuestionGlide = field(default_factory=QuestionGlide)


def plan_calls(
    speakers: dict[str, Speaker],
    seed: int,
    call_seconds: tuple[float, float],
    splits: set[str],
    recipes: list[str] | None = None,
    *,
    kinds: set[str] | None = None,
    questions: QuestionGlide = QuestionGlide(),
    all_questions: bool = False,
    every_pair: bool = False,
) -> list[CallPlan]:
    """Per speaker with enough speech: two escalation calls and one calm call (every other
    speaker's, or with `all_questions` every speaker's, a "questions" call); per split, the
    dialogues of two speakers, each once calm and once heated. Recipes (all, or `recipes`)
    rotate over the speakers of a split. `kinds` keeps only calls of those kinds (their ids
    and seeds as in a full build). `every_pair`: only dialogues, of every two real speakers."""
    names = recipes or [name for name, _ in RECIPES]
    unknown = set(names) - set(_ALL_RECIPES)
    if unknown:
        raise SystemExit(f"unknown recipe(s) {sorted(unknown)}; known: {list(_ALL_RECIPES)}")
    if kinds is not None and not kinds <= set(KINDS):
        raise SystemExit(f"unknown kind(s) {sorted(kinds - set(KINDS))}; known: {list(KINDS)}")
    plans: list[CallPlan] = []
    for split in SPLITS:
        if split not in splits:
            continue
        members = [s for s in speakers.values() if s.split == split]
        mains = [] if every_pair else [s for s in members if s.seconds >= MIN_SPEAKER_S]
        turn = 0
        for index, speaker in enumerate(mains):
            for _k in range(2):
                recipe = names[turn % len(names)]
                turn += 1
                plans.append(_plan(split, "escalation", recipe, [speaker.name], seed, len(plans)))
            kind = "questions" if all_questions or index % 2 else "calm"
            plans.append(_plan(split, kind, "-", [speaker.name], seed, len(plans)))
        for pair in _pairs(split, speakers, every_pair):
            plans.append(_plan(split, "dialogue", "-", pair, seed, len(plans)))
            # The same two in a heated exchange: both escalate over the planted span.
            recipe = names[turn % len(names)]
            turn += 1
            plans.append(_plan(split, "escalation", recipe, pair, seed, len(plans)))
    plans = [plan for plan in plans if kinds is None or plan.kind in kinds]
    for plan in plans:
        plan.questions = questions
        rng = np.random.default_rng([*plan.seed, 0])
        low, high = call_seconds
        plan.seconds = float(rng.uniform(low, high)) if high > low else low
        _place(plan, speakers, rng)
    return plans


def _plan(split: str, kind: str, recipe: str, names: list[str], seed: int, n: int) -> CallPlan:
    label = "+".join(names)
    suffix = recipe if kind == "escalation" else kind
    return CallPlan(f"{split}-{n:02d}-{label}-{suffix}", split, kind, recipe, names, [seed, n], 0.0)


SPLITS = ("tune", "test", "tune-spontaneous")
"""Speaker splits, in the order their calls are numbered ("all" builds the first two)."""
DIALOGUES = {
    # two speakers taking turns; ground truth: no escalation. Per half also a pair recorded
    # apart (two phone lines' worth of different rooms and microphones).
    "tune": [
        ["ami-MEE009", "ami-MEE012"],
        ["ami-FEE078", "ami-MEE009"],
        ["ast-en-allison", "librivox-ss01"],
        ["ast-en-allison", "ast-ru-ivrvoice"],
        ["ami-FEE078", "ast-es-allison"],
        ["ast-it-carlo", "ami-MEE012"],
    ],
    "tune-spontaneous": [],
    "test": [
        ["sample-a", "sample-b"],
        ["ami-FEE083", "ami-MEO069"],
        ["ami-MEO069", "ami-MEE068"],
        ["librivox-sonnet01", "ami-MEO069"],
        ["ast-fr-june", "ast-it-menardi"],
        ["librivox-sonnet01", "ami-FEE083"],
    ],
}


def _pairs(split: str, speakers: dict[str, Speaker], every: bool = False) -> list[list[str]]:
    """The split's dialogues whose two speakers are both loaded; with `every`, every two of
    its real speakers."""
    if every:
        real = sorted(s.name for s in speakers.values() if s.split == split and s.real)
        return [list(pair) for pair in itertools.combinations(real, 2)]
    return [pair for pair in DIALOGUES[split] if all(name in speakers for name in pair)]


def _place(plan: CallPlan, speakers: dict[str, Speaker], rng: np.random.Generator) -> None:
    """Utterances (shuffled, cycled), pauses, question glides and span membership."""
    orders = {name: _cycle(len(speakers[name].utterances), rng) for name in plan.speakers}
    offsets = {name: 0.0 for name in plan.speakers}
    if len(plan.speakers) == 2:
        offsets[plan.speakers[1]] = float(rng.uniform(-3.0, 3.0))
    total, current, left_in_turn = 0.5, 0, 0
    durations: list[float] = []
    while total < plan.seconds:
        turn_change = False
        if len(plan.speakers) == 2:
            if left_in_turn == 0:
                current, left_in_turn = (current + 1) % 2, int(rng.integers(1, 4))
                turn_change = len(plan.placements) > 0
            left_in_turn -= 1
        name = plan.speakers[current]
        utterance = next(orders[name])
        gap = float(rng.uniform(0.2, 1.0))
        if turn_change and rng.random() < OVERLAP_SHARE:
            gap = -float(rng.uniform(*OVERLAP_S))  # the next turn starts before this one ends
        question = plan.kind == "questions" and bool(rng.random() < plan.questions.share)
        jitter = float(rng.uniform(-1.0, 1.0)) + offsets[name]
        plan.placements.append(Placement(name, utterance, gap, jitter, question))
        seconds = speakers[name].utterances[utterance].size / SR
        durations.append(seconds)
        total += gap + seconds
    if plan.kind == "escalation":
        _choose_spans(plan, durations, rng)


def _cycle(n: int, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """Endless shuffled passes over range(n), never the same utterance twice in a row."""
    last = -1
    while True:
        order = rng.permutation(n)
        if n > 1 and order[0] == last:
            order = np.roll(order, -1)
        yield from (int(i) for i in order)
        last = int(order[-1])


def _choose_spans(plan: CallPlan, durations: list[float], rng: np.random.Generator) -> None:
    recipe = _ALL_RECIPES[plan.recipe]
    speech = float(sum(durations))
    n = len(durations)
    # Spans lie after the first 20% of the utterances (a calm start) and apart from each other.
    regions = (
        [(int(0.2 * n), n)] if len(recipe) == 1 else [(int(0.15 * n), n // 2), (n // 2 + 2, n)]
    )
    for index, (ranges, (lo, hi)) in enumerate(zip(recipe, regions, strict=True)):
        if ranges["s"] in _SPEECH_SHARES:
            want = float(rng.uniform(*_SPEECH_SHARES[ranges["s"]])) * speech
        else:
            want = min(float(rng.uniform(*ranges["s"])), 0.4 * speech)
        # the fewest utterances from a random start that reach `want` seconds
        starts = list(range(lo, max(lo + 1, hi)))
        first = starts[int(rng.integers(len(starts)))]
        last = first
        while last + 1 < hi and sum(durations[first : last + 1]) < want:
            last += 1
        while first > lo and sum(durations[first : last + 1]) < want:
            first -= 1
        for p in plan.placements[first : last + 1]:
            p.span = index
        plan.spans.append(
            SpanPlan(
                pitch_st=round(float(rng.uniform(*ranges["st"])), 2),
                gain_db=round(float(rng.uniform(*ranges["db"])), 2),
                tempo=round(float(rng.uniform(*ranges["tempo"])), 3),
                ramp_s=round(float(rng.uniform(*RAMP_S)), 2),
            )
        )


# -- rendering ---------------------------------------------------------------------------------


def _trapezoid(t: np.ndarray, span: SpanPlan) -> np.ndarray:
    """0 at the span's edges, 1 after `ramp_s` inside it (linear), 0 outside."""
    ramp = max(min(span.ramp_s, (span.end_s - span.start_s) / 2), 1e-3)
    up = (t - span.start_s) / ramp
    down = (span.end_s - t) / ramp
    return np.clip(np.minimum(up, down), 0.0, 1.0)


def _time_scaled(world: World, tempo: float) -> World:
    """WORLD frames resampled to play `tempo` times faster (same pitch, same spectra)."""
    n = world.f0.size
    positions = np.arange(0.0, n - 1 + 1e-9, tempo)
    lo = np.floor(positions).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (positions - lo)[:, None]
    nearest = np.round(positions).astype(int)
    f0 = world.f0[nearest].copy()
    voiced = (world.f0[lo] > 0) & (world.f0[hi] > 0)
    f0[voiced] = np.exp(
        (1 - w[voiced, 0]) * np.log(world.f0[lo][voiced])
        + w[voiced, 0] * np.log(world.f0[hi][voiced])
    )
    sp = np.exp((1 - w) * np.log(world.sp[lo]) + w * np.log(world.sp[hi]))
    ap = (1 - w) * world.ap[lo] + w * world.ap[hi]
    return World(
        np.ascontiguousarray(f0),
        np.ascontiguousarray(sp),
        np.ascontiguousarray(ap),
        round(world.n_samples / tempo),
    )


def _question_f0(f0: np.ndarray, glide: QuestionGlide) -> np.ndarray:
    """+`glide.st` semitones glided in over the last `glide.seconds` of voicing."""
    voiced = np.flatnonzero(f0 > 0)
    out = f0.copy()
    if voiced.size == 0:
        return out
    last = voiced[-1]
    frames = int(glide.seconds * 1000 / FRAME_MS)
    idx = np.arange(max(0, last - frames + 1), last + 1)
    rise = glide.st * (idx - idx[0] + 1) / idx.size
    out[idx] = np.where(out[idx] > 0, out[idx] * 2 ** (rise / 12), 0.0)
    return out


def _synth(world: World, f0: np.ndarray) -> np.ndarray:
    pw = import_pyworld()
    y = pw.synthesize(np.ascontiguousarray(f0), world.sp, world.ap, SR, FRAME_MS)
    return np.asarray(y[: world.n_samples], np.float64)


def placement_times(
    plan: CallPlan, speakers: dict[str, Speaker]
) -> tuple[list[float], list[int]]:
    """Each placement's start (s) and length (samples at SR): a tempo shortens a span's
    utterances; the call starts with 0.5 s of silence."""
    starts, lengths = [], []
    position = 0.5
    for p in plan.placements:
        world = speakers[p.speaker].worlds[p.utterance]
        tempo = plan.spans[p.span].tempo if p.span >= 0 else 1.0
        position += p.gap_s
        starts.append(position)
        n = world.n_samples if tempo == 1.0 else round(world.n_samples / tempo)
        lengths.append(n)
        position += n / SR
    return starts, lengths


def render(
    plan: CallPlan,
    speakers: dict[str, Speaker],
    flat: bool,
    cache: dict[Any, np.ndarray],
    f0_parts: list[tuple[float, np.ndarray, int]] | None = None,
) -> np.ndarray:
    """The clean call at SR; fills the spans' times (speech-bounded) into `plan.spans`.

    `flat`: the spans' pitch and gain are not applied (their tempo is), for checks.
    `f0_parts`: if given, gets ``(start_s, f0, n_samples)`` per utterance: the F0 track fed to
    WORLD's synthesis (FRAME_MS frames from `start_s`) and the utterance's length (see
    `f0_truth`).
    """
    rng = np.random.default_rng([*plan.seed, 1])
    starts, lengths = placement_times(plan, speakers)
    for index, span in enumerate(plan.spans):
        members = [i for i, p in enumerate(plan.placements) if p.span == index]
        span.start_s = round(starts[members[0]], 4)
        span.end_s = round(starts[members[-1]] + lengths[members[-1]] / SR, 4)
    total = int(np.ceil((starts[-1] + lengths[-1] / SR + 0.5) * SR))
    out = np.zeros(total)
    for p, start, _length in zip(plan.placements, starts, lengths, strict=True):
        speaker = speakers[p.speaker]
        world = speaker.worlds[p.utterance]
        key = (p.speaker, p.utterance, p.question)
        if p.span < 0:
            f0 = _question_f0(world.f0, plan.questions) if p.question else world.f0
            if key not in cache:
                cache[key] = _synth(world, f0)
            y = cache[key]
        else:
            span = plan.spans[p.span]
            if span.tempo != 1.0:
                world = _time_scaled(world, span.tempo)
            t = start + np.arange(world.f0.size) * FRAME_MS / 1000
            st = 0.0 if flat else span.pitch_st
            f0 = world.f0 * 2 ** (st * _trapezoid(t, span) / 12)
            y = _synth(world, f0)
            if not flat:
                ts = start + np.arange(y.size) / SR
                y = y * 10 ** (span.gain_db * _trapezoid(ts, span) / 20)
        if f0_parts is not None:
            f0_parts.append((start, f0, y.size))
        a = round(start * SR)
        out[a : a + y.size] += y * speaker.gain * 10 ** (p.jitter_db / 20)
    noise_db = CALM_DBFS + NOISE_FLOOR_DB
    out += pink_noise(out.size, rng) * 10 ** (noise_db / 20)
    peak = float(np.max(np.abs(out)))
    if peak > 0.95:  # keep relative levels; the whole call is turned down
        out *= 0.95 / peak
    return out


def f0_truth(
    parts: list[tuple[float, np.ndarray, int]], n_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """The call's F0 truth on a FRAME_MS grid from 0 s (Hz, 0 = unvoiced): the F0 fed to WORLD
    for each utterance (`render`'s `f0_parts`), moved from the utterance's own frames (which
    start at its start time) to the call's grid by log-linear interpolation between voiced
    frames (`gpuaudio.evaluation.metrics.resample_f0`); pauses are unvoiced. Channels do not
    move pitch, so one truth serves every condition."""
    from gpuaudio.evaluation.metrics import resample_f0

    step = FRAME_MS / 1000
    times = np.arange(int(np.ceil(n_samples / HOP))) * step
    truth = np.zeros(times.size)
    for start, f0, size in parts:
        # frames whose centre lies inside the synthesised (length-trimmed) utterance
        n = min(f0.size, int(np.ceil(size / HOP)))
        own = start + np.arange(n) * step
        k0 = int(np.ceil((own[0] - 1e-9) / step))
        k1 = min(int(np.floor((own[-1] + 1e-9) / step)), times.size - 1)
        if k1 < k0:
            continue
        grid = resample_f0(own, f0[:n], times[k0 : k1 + 1])
        truth[k0 : k1 + 1] = np.nan_to_num(grid, nan=0.0)
    return times, truth


# -- channels ----------------------------------------------------------------------------------


def mulaw(x: np.ndarray, mu: int = 255) -> np.ndarray:
    """G.711-style mu-law: compress, quantise to 8 bits (256 levels), expand."""
    x = np.clip(x, -1.0, 1.0)
    compressed = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    code = np.round((compressed + 1) / 2 * mu).astype(np.int64)  # 0..255
    decoded = 2 * code / mu - 1
    result: np.ndarray = np.sign(decoded) * ((1 + mu) ** np.abs(decoded) - 1) / mu
    return result


def agc(
    x: np.ndarray,
    sr: int,
    *,
    target_dbfs: float = -24.0,
    attack_s: float = 1.0,
    release_s: float = 3.0,
    gate_db: float = 12.0,
    max_gain_db: float = 24.0,
) -> np.ndarray:
    """Slow automatic gain control: follow the level of speech frames, normalise it to target.

    10-ms frames; the followed level moves towards a frame's dB with time constant `attack_s`
    when the frame is louder, `release_s` when quieter; frames more than `gate_db` under the
    followed level (pauses, noise) leave it and the gain unchanged. Gain = target - level,
    within +-max_gain_db, interpolated between frame centres.
    """
    hop = sr // 100
    n = x.size // hop
    if n == 0:
        return x.copy()
    frame_db = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    loud = frame_db[frame_db > np.percentile(frame_db, 90) - 20]
    level = float(np.median(loud[:200])) if loud.size else target_dbfs
    a_up, a_down = np.exp(-0.01 / attack_s), np.exp(-0.01 / release_s)
    gains = np.empty(n)
    for i, db in enumerate(frame_db):
        if db > level - gate_db:
            coef = a_up if db > level else a_down
            level = coef * level + (1 - coef) * db
        gains[i] = np.clip(target_dbfs - level, -max_gain_db, max_gain_db)
    centres = (np.arange(n) + 0.5) * hop
    gain = np.interp(np.arange(x.size), centres, gains)
    result: np.ndarray = x * 10 ** (gain / 20)
    return result


def room(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`x` (at SR) as a far-field microphone hears it in a reverberant room: the direct sound
    plus an exponentially decaying noise tail (RT60 drawn from `RT60_S`, starting 5 ms after
    the direct sound) at a direct-to-reverberant energy ratio drawn from `DRR_DB`; the active
    level kept."""
    rt60 = float(rng.uniform(*RT60_S))
    drr_db = float(rng.uniform(*DRR_DB))
    t = np.arange(int(1.5 * rt60 * SR)) / SR
    tail = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60)
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    response = np.concatenate([[1.0], np.zeros(int(0.005 * SR) - 1), tail])
    wet = fftconvolve(x, response)[: x.size]
    result: np.ndarray = wet * 10 ** ((active_db(x) - active_db(wet)) / 20)
    return result


def gsm610(x: np.ndarray) -> np.ndarray:
    """A round trip through the GSM 06.10 full-rate coder (13 kbit/s, libsndfile's), at
    PHONE_SR."""
    coded = io.BytesIO()
    sf.write(coded, np.clip(x, -1.0, 1.0), PHONE_SR, format="RAW", subtype="GSM610")
    coded.seek(0)
    decoded, _ = sf.read(
        coded, samplerate=PHONE_SR, channels=1, format="RAW", subtype="GSM610", dtype="float64"
    )
    return np.asarray(decoded[: x.size], np.float64)


def telephone(
    clean: np.ndarray,
    rng: np.random.Generator,
    gain_control: AgcVariant | None,
    speech_db: float,
    codec: str = "mulaw",
) -> tuple[np.ndarray, float]:
    """The telephone chain at PHONE_SR (and the SNR drawn); `gain_control` puts an AGC before
    the coder (`codec`: "mulaw", G.711, or "gsm", GSM 06.10). The SNR is that of the calm
    speech (active level `speech_db`, dBFS, before the line) to the white noise (before the
    band-pass). All phone conditions of a call draw the same noise."""
    y = resample_poly(clean, PHONE_SR, SR)
    snr = float(rng.uniform(20.0, 25.0))
    noise = rng.standard_normal(y.size) * 10 ** ((speech_db - snr) / 20)
    sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=PHONE_SR, output="sos")
    if gain_control is not None and gain_control.before_line_noise:
        y = gain_control.apply(y)
    y = sosfilt(sos, y + noise)
    if gain_control is not None and not gain_control.before_line_noise:
        y = gain_control.apply(y)
    peak = float(np.max(np.abs(y)))
    if peak > 0.95:
        y *= 0.95 / peak
    return (gsm610(y) if codec == "gsm" else mulaw(y)), snr


# -- the set -----------------------------------------------------------------------------------


def build(
    out: Path,
    seed: int = 0,
    *,
    sources: Path = SOURCES,
    splits: set[str] | None = None,
    speaker_names: set[str] | None = None,
    max_calls: int | None = None,
    call_seconds: tuple[float, float] = (120.0, 240.0),
    conditions: tuple[str, ...] = CONDITIONS,
    flat: bool = False,
    recipes: list[str] | None = None,
    kinds: set[str] | None = None,
    questions: QuestionGlide = QuestionGlide(),
    all_questions: bool = False,
    every_pair: bool = False,
    verbose: bool = True,
    jobs: int = 1,
) -> list[CallPlan]:
    splits = splits or {"tune", "test"}
    unknown = set(conditions) - set(CONDITIONS + EXTRA_CONDITIONS)
    if unknown:
        raise SystemExit(
            f"unknown condition(s) {sorted(unknown)}; known: {list(CONDITIONS + EXTRA_CONDITIONS)}"
        )
    speakers = load_speakers(sources, speaker_names, jobs)
    plans = plan_calls(
        speakers, seed, call_seconds, splits, recipes,
        kinds=kinds, questions=questions, all_questions=all_questions, every_pair=every_pair,
    )
    if max_calls is not None:
        plans = plans[:max_calls]
    for condition in conditions:
        (out / condition).mkdir(parents=True, exist_ok=True)
    (out / "f0").mkdir(parents=True, exist_ok=True)
    _FORKED.update(speakers=speakers, out=out, conditions=conditions, flat=flat, cache={})
    manifest, truth = [], []
    turns: list[dict[str, Any]] = []
    for rows, spans, talk, line in _map(_make_call, plans, jobs):
        manifest += rows
        truth += spans
        turns += talk
        if verbose:
            print(line, flush=True)
    _FORKED.clear()
    _write(out / "manifest.csv", manifest, list(manifest[0]) if manifest else ["call_id"])
    fields = [
        "call_id",
        "span",
        "start_s",
        "end_s",
        "pitch_st",
        "gain_db",
        "tempo",
        "ramp_s",
        "recipe",
    ]
    _write(out / "truth.csv", truth, fields)
    _write(out / "turns.csv", turns, ["call_id", "speaker", "start_s", "end_s"])
    about = {
        "generator": "benchmarks/escalation_real/build_set.py",
        "seed": seed,
        "splits": sorted(splits),
        "speakers": sorted(speaker_names) if speaker_names else "all",
        "max_calls": max_calls,
        "call_seconds": list(call_seconds),
        "flat": flat,
        "recipes": recipes or "all",
        "kinds": sorted(kinds) if kinds else "all",
        "questions": {**asdict(questions), "every_speaker": all_questions},
        "every_pair": every_pair,
        "versions": {name: _version(name) for name in ("numpy", "scipy", "pyworld", "soundfile")},
        "libsndfile": sf.__libsndfile_version__,
    }
    (out / "build.json").write_text(json.dumps(about, indent=1) + "\n")
    return plans


def _make_call(
    plan: CallPlan,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], str]:
    """Render one call, write its copies and F0 truth; its manifest rows, truth rows, turn rows
    (who speaks when: `turn_rows`) and a line for the log. Reads the build's settings from
    `_FORKED`."""
    speakers, out = _FORKED["speakers"], _FORKED["out"]
    conditions, flat, cache = _FORKED["conditions"], _FORKED["flat"], _FORKED["cache"]
    from gpuaudio.evaluation.speechset import write_truth

    manifest: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    parts: list[tuple[float, np.ndarray, int]] = []
    clean = render(plan, speakers, flat, cache, parts)
    write_truth(out / "f0" / f"{plan.call_id}.csv", *f0_truth(parts, clean.size))
    outside = np.ones(clean.size, dtype=bool)
    for span in plan.spans:
        outside[round(span.start_s * SR) : round(span.end_s * SR)] = False
    calm_db = active_db(clean[outside])
    members = [speakers[name] for name in plan.speakers]
    common = {
        "call_id": plan.call_id,
        "speakers": "+".join(plan.speakers),
        "sex": "+".join(s.sex for s in members),
        "language": "+".join(sorted({s.language for s in members})),
        "real": all(s.real for s in members),
        "split": plan.split,
        "kind": plan.kind,
        "recipe": plan.recipe,
        "n_spans": len(plan.spans),
    }
    for condition in conditions:
        rng = np.random.default_rng([*plan.seed, 2])  # same noise on every phone copy
        if condition == "clean":
            audio, sr, name, snr = clean, SR, f"clean/{plan.call_id}.flac", None
            sf.write(out / name, audio, sr, subtype="PCM_16", format="FLAC")
        else:
            codec = "gsm" if condition == "gsm" else "mulaw"
            source, control = clean, AGC_VARIANTS.get(condition)
            if condition.startswith("room-"):  # the same room on both room copies
                source = room(clean, np.random.default_rng([*plan.seed, 3]))
                control = AGC_VARIANTS["agc"] if condition == "room-agc" else None
            audio, snr = telephone(source, rng, control, calm_db, codec)
            sr, name = PHONE_SR, f"{condition}/{plan.call_id}.wav"
            sf.write(out / name, audio, sr, subtype="PCM_16", format="WAV")
        manifest.append(
            common
            | {
                "condition": condition,
                "file": name,
                "sr": sr,
                "snr_db": "" if snr is None else round(snr, 2),
                "duration_s": round(audio.size / sr, 3),
            }
        )
    for index, span in enumerate(plan.spans):
        truth.append(
            {
                "call_id": plan.call_id,
                "span": index,
                "start_s": span.start_s,
                "end_s": span.end_s,
                "pitch_st": 0.0 if flat else span.pitch_st,
                "gain_db": 0.0 if flat else span.gain_db,
                "tempo": span.tempo,
                "ramp_s": span.ramp_s,
                "recipe": plan.recipe,
            }
        )
    spans = ", ".join(
        f"{s.start_s:.1f}-{s.end_s:.1f} s (+{s.pitch_st} st, +{s.gain_db} dB, x{s.tempo})"
        for s in plan.spans
    )
    line = f"{plan.call_id}: {clean.size / SR:.0f} s {spans}"
    return manifest, truth, turn_rows(plan, speakers), line


def turn_rows(plan: CallPlan, speakers: dict[str, Speaker]) -> list[dict[str, Any]]:
    """Who speaks when: a row per utterance (call, speaker, start and end in s). In a dialogue
    the next turn may start before one ends (`OVERLAP_SHARE`)."""
    starts, lengths = placement_times(plan, speakers)
    return [
        {
            "call_id": plan.call_id,
            "speaker": p.speaker,
            "start_s": round(start, 4),
            "end_s": round(start + length / SR, 4),
        }
        for p, start, length in zip(plan.placements, starts, lengths, strict=True)
    ]


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _write(path: Path, rows: list[dict[str, Any]], fields: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sources", type=Path, default=SOURCES)
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    parser.add_argument("--speakers", default=None, help="comma-separated speaker names")
    parser.add_argument("--max-calls", type=int, default=None)
    parser.add_argument("--call-seconds", default="120:240", help="MIN:MAX length of a call")
    parser.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help=f"comma-separated, of {', '.join(CONDITIONS + EXTRA_CONDITIONS)}",
    )
    parser.add_argument("--flat", action="store_true", help="spans without pitch and gain (checks)")
    parser.add_argument("--recipes", default=None, help="comma-separated recipes to rotate")
    parser.add_argument(
        "--kinds", default=None, help=f"comma-separated kinds of call to keep ({', '.join(KINDS)})"
    )
    parser.add_argument(
        "--all-questions", action="store_true",
        help="every speaker's calm call is a questions call (a stress test of question prosody)",
    )
    parser.add_argument(
        "--every-pair", action="store_true",
        help="only conversations: every two real speakers of a split, calm and heated",
    )
    parser.add_argument(
        "--jobs", type=int, default=1,
        help="processes for the WORLD analysis and the calls (the files are the same for any)",
    )
    glide = QuestionGlide()
    parser.add_argument("--question-share", type=float, default=glide.share)
    parser.add_argument("--question-st", type=float, default=glide.st)
    parser.add_argument("--question-seconds", type=float, default=glide.seconds)
    args = parser.parse_args(argv)
    low, _, high = args.call_seconds.partition(":")
    build(
        args.out,
        args.seed,
        sources=args.sources,
        splits={"tune", "test"} if args.split == "all" else {args.split},
        speaker_names=set(args.speakers.split(",")) if args.speakers else None,
        max_calls=args.max_calls,
        call_seconds=(float(low), float(high or low)),
        conditions=tuple(c for c in args.conditions.split(",") if c),
        flat=args.flat,
        recipes=args.recipes.split(",") if args.recipes else None,
        kinds=set(args.kinds.split(",")) if args.kinds else None,
        questions=QuestionGlide(args.question_share, args.question_st, args.question_seconds),
        all_questions=args.all_questions,
        every_pair=args.every_pair,
        jobs=args.jobs,
    )


if __name__ == "__main__":
    main()
