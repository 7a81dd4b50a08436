"""Speech-like test signals with exactly known F0, voicing and escalation spans (numpy + scipy).

Not speech, but built like it: a glottal-pulse source driven by phase accumulation of a known
F0 contour, vowel formant filters that change every syllable, syllable amplitude envelopes,
unvoiced consonant-like noise between syllables, pauses with breath noise and a faint noise
floor. The truth is frame-wise on a 5 ms grid: the F0 that drove the source (NaN where no
voiced sound is produced) and, for `demo_call`, the escalation spans in seconds.

Everything is deterministic for a given seed; nothing outside numpy and scipy is used, so the
built-in example works on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "CALM",
    "ESCALATED",
    "HOP_S",
    "PhraseStyle",
    "SpeechTruth",
    "demo_call",
    "synthesize_speech",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

HOP_S = 0.005
"""Spacing of the truth frames (s); frame i is centred at ``i * HOP_S``."""

# Vowel formants (Hz) of an adult male voice: F1..F4, after Peterson & Barney (1952).
_VOWELS = np.array(
    [
        [730, 1090, 2440, 3400],  # a
        [530, 1840, 2480, 3500],  # e
        [270, 2290, 3010, 3700],  # i
        [570, 840, 2410, 3300],  # o
        [300, 870, 2240, 3300],  # u
        [660, 1720, 2410, 3400],  # ae
    ],
    dtype=np.float64,
)
_BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])
_OPEN_PHASE = 0.4  # rising part of the glottal flow, as a fraction of the period
_CLOSING_PHASE = 0.2  # falling part; the glottis is closed for the rest of the period
_EDGE_S = 0.02  # attack / release of a syllable
_CALM_RMS_DBFS = -26.0


@dataclass(frozen=True)
class PhraseStyle:
    """How phrases are spoken, relative to the speaker's baseline."""

    pitch_offset_st: float = 0.0
    """Mean F0 above the speaker's baseline, in semitones."""
    swing_st: float = 2.0
    """Size of the intonation movements (declination, accents), in semitones."""
    gain_db: float = 0.0
    """Level above the calm level."""
    syllable_s: float = 0.2
    """Mean syllable duration (tempo)."""
    escalated: bool = False
    """Whether phrases in this style are part of an escalation span of the truth."""


CALM = PhraseStyle()
ESCALATED = PhraseStyle(
    pitch_offset_st=5.0, swing_st=5.0, gain_db=8.0, syllable_s=0.17, escalated=True
)


@dataclass(frozen=True)
class SpeechTruth:
    """What a synthesised signal contains, frame by frame on the `HOP_S` grid."""

    sr: int
    times: FloatArray
    """Frame centres in seconds: ``i * HOP_S``."""
    f0: FloatArray
    """F0 in Hz that drove the source at each frame centre; NaN where unvoiced."""
    escalations: tuple[tuple[float, float], ...] = field(default=())
    """Escalation spans ``(start_s, end_s)``: first to last sound of escalated phrases."""

    @property
    def voiced(self) -> BoolArray:
        """Frames where voiced sound is produced."""
        return np.isfinite(self.f0)


@dataclass
class _Syllable:
    start: int
    stop: int
    vowel: int
    pitch_st: tuple[float, float]  # at start and stop, relative to the baseline
    gain_db: float


@dataclass
class _Score:
    """Everything to render: syllables, unvoiced noises, breaths and escalation spans."""

    n: int
    syllables: list[_Syllable] = field(default_factory=list)
    consonants: list[tuple[int, int, float]] = field(default_factory=list)
    breaths: list[tuple[int, int]] = field(default_factory=list)
    escalations: list[tuple[float, float]] = field(default_factory=list)


def _compose(
    schedule: list[tuple[float, PhraseStyle]], sr: int, rng: np.random.Generator
) -> _Score:
    """Lay out phrases: each schedule entry ``(until_s, style)`` fills time up to ``until_s``."""
    total_s = schedule[-1][0]
    score = _Score(n=round(total_s * sr))
    t = float(rng.uniform(0.2, 0.4))
    for until_s, style in schedule:
        span_start = None
        while True:
            durations = style.syllable_s * rng.uniform(0.7, 1.3, int(rng.integers(4, 10)))
            gaps = rng.uniform(0.04, 0.09, durations.size - 1)
            ends = t + np.cumsum(durations) + np.concatenate([[0.0], np.cumsum(gaps)])
            n_syl = int(np.searchsorted(ends, until_s - 0.1, side="right"))
            if n_syl == 0:
                break
            span_start = t if span_start is None else span_start
            declination = np.linspace(0.5, -0.5, n_syl + 1) * style.swing_st
            accents = rng.uniform(-0.5, 0.5, n_syl) * style.swing_st
            slopes = rng.uniform(-0.3, 0.3, n_syl) * style.swing_st
            for i in range(n_syl):
                centre = style.pitch_offset_st + declination[i] + accents[i]
                start = round(t * sr)
                t += durations[i]
                score.syllables.append(
                    _Syllable(
                        start=start,
                        stop=round(t * sr),
                        vowel=int(rng.integers(len(_VOWELS))),
                        pitch_st=(centre - slopes[i], centre + slopes[i]),
                        gain_db=style.gain_db + float(rng.uniform(-2.0, 2.0)),
                    )
                )
                if i < n_syl - 1:
                    if rng.random() < 0.6:
                        score.consonants.append(
                            (round(t * sr), round((t + gaps[i]) * sr), style.gain_db)
                        )
                    t += gaps[i]
            if style.escalated:
                score.escalations.append((float(span_start), float(t)))
            pause = float(rng.uniform(0.35, 0.9))
            if rng.random() < 0.5 and t + pause < total_s:
                score.breaths.append((round((t + 0.1) * sr), round((t + pause - 0.05) * sr)))
            t += pause
        t = max(t, until_s)
    score.escalations = _joined(score.escalations)
    return score


def _joined(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Consecutive escalated phrases (separated only by their pauses) as one span."""
    out: list[tuple[float, float]] = []
    for start, end in spans:
        if out and start - out[-1][1] < 1.0:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _pitch_contour(score: _Score, sr: int, base_f0: float, at_s: FloatArray) -> FloatArray:
    """F0 (Hz) at times `at_s`: piecewise linear in semitones through every syllable."""
    knots_t = np.array([[s.start / sr, s.stop / sr] for s in score.syllables]).ravel()
    knots_st = np.array([s.pitch_st for s in score.syllables]).ravel()
    contour: FloatArray = base_f0 * np.exp2(np.interp(at_s, knots_t, knots_st) / 12.0)
    return contour


def _glottal_flow_derivative(phase: FloatArray) -> FloatArray:
    """Rosenberg-like glottal flow at each phase (cycles), differentiated (lip radiation)."""
    p = phase % 1.0
    rising = p < _OPEN_PHASE
    falling = ~rising & (p < _OPEN_PHASE + _CLOSING_PHASE)
    flow = np.zeros_like(p)
    flow[rising] = 0.5 * (1.0 - np.cos(np.pi * p[rising] / _OPEN_PHASE))
    flow[falling] = np.cos(0.5 * np.pi * (p[falling] - _OPEN_PHASE) / _CLOSING_PHASE)
    return np.diff(flow, prepend=flow[:1])


def _formant_sos(formants: FloatArray, sr: int) -> FloatArray:
    """Cascade of two-pole resonators, one per formant, each with unit gain at 0 Hz."""
    sections = []
    for freq, bandwidth in zip(formants, _BANDWIDTHS, strict=True):
        radius = np.exp(-np.pi * bandwidth / sr)
        a1, a2 = -2.0 * radius * np.cos(2.0 * np.pi * freq / sr), radius * radius
        sections.append([1.0 + a1 + a2, 0.0, 0.0, 1.0, a1, a2])
    return np.array(sections)


def _raised_cosine_envelope(n: int, edge: int) -> FloatArray:
    edge = max(1, min(edge, n // 2))
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(edge) / edge)
    envelope = np.ones(n)
    envelope[:edge], envelope[n - edge :] = ramp, ramp[::-1]
    return envelope


def _band_noise(n: int, low: float, high: float, sr: int, rng: np.random.Generator) -> FloatArray:
    from scipy.signal import butter, sosfilt

    sos = butter(4, [low, min(high, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    noise: FloatArray = sosfilt(sos, rng.standard_normal(n))
    normalised: FloatArray = noise / (np.sqrt(np.mean(noise**2)) + 1e-12)
    return normalised


def _render(
    score: _Score,
    sr: int,
    rng: np.random.Generator,
    *,
    base_f0: float,
    formant_scale: float,
) -> tuple[npt.NDArray[np.float32], SpeechTruth]:
    from scipy.signal import sosfilt

    calm_rms = 10.0 ** (_CALM_RMS_DBFS / 20.0)
    out = np.zeros(score.n + sr // 10)
    times = np.arange(score.n) / sr
    f0 = _pitch_contour(score, sr, base_f0, times)
    source = _glottal_flow_derivative(np.cumsum(f0) / sr)
    tail = int(0.03 * sr)  # formant ringing kept after a syllable
    for syl in score.syllables:
        excitation = np.zeros(syl.stop - syl.start + tail)
        excitation[: syl.stop - syl.start] = source[syl.start : syl.stop] * _raised_cosine_envelope(
            syl.stop - syl.start, int(_EDGE_S * sr)
        )
        formants = _VOWELS[syl.vowel] * formant_scale * rng.uniform(0.95, 1.05, 4)
        voiced = sosfilt(_formant_sos(np.minimum(formants, 0.45 * sr), sr), excitation)
        level = np.sqrt(np.mean(voiced[: syl.stop - syl.start] ** 2)) + 1e-12
        out[syl.start : syl.stop + tail] += voiced * calm_rms * 10.0 ** (syl.gain_db / 20) / level
    for start, stop, gain_db in score.consonants:
        low = float(rng.choice([1500.0, 3500.0]))
        hiss = _band_noise(stop - start, low, low + 3500.0, sr, rng)
        envelope = _raised_cosine_envelope(stop - start, (stop - start) // 3)
        out[start:stop] += hiss * envelope * calm_rms * 10.0 ** ((gain_db - 14.0) / 20)
    for start, stop in score.breaths:
        breath = _band_noise(stop - start, 400.0, 2500.0, sr, rng)
        out[start:stop] += (
            breath
            * _raised_cosine_envelope(stop - start, (stop - start) // 2)
            * (calm_rms * 10.0 ** (-30.0 / 20))
        )
    audio = out[: score.n] + 10.0 ** (-70.0 / 20) * rng.standard_normal(score.n)

    n_frames = int(score.n / sr / HOP_S + 1e-9) + 1
    frame_times = np.asarray(np.arange(n_frames) * HOP_S, dtype=np.float64)
    frame_samples = np.round(frame_times * sr)
    starts = np.array([s.start for s in score.syllables])
    stops = np.array([s.stop for s in score.syllables])
    index = np.searchsorted(starts, frame_samples, side="right") - 1
    voiced_frames = (index >= 0) & (frame_samples < stops[np.maximum(index, 0)])
    truth_f0: FloatArray = np.where(
        voiced_frames, _pitch_contour(score, sr, base_f0, frame_times), np.nan
    )
    truth = SpeechTruth(sr, frame_times, truth_f0, tuple(score.escalations))
    return audio.astype(np.float32), truth


def _check(sr: int, seconds: float, base_f0: float) -> None:
    if sr < 8000:
        raise ValueError(f"sr must be at least 8000 Hz, got {sr}")
    if seconds < 1.0:
        raise ValueError(f"seconds must be at least 1.0, got {seconds}")
    if not 50.0 <= base_f0 <= 400.0:
        raise ValueError(f"base_f0 must be within 50..400 Hz, got {base_f0}")


def synthesize_speech(
    seconds: float,
    sr: int = 16000,
    seed: int = 0,
    *,
    base_f0: float = 120.0,
    formant_scale: float = 1.0,
    style: PhraseStyle = CALM,
) -> tuple[npt.NDArray[np.float32], SpeechTruth]:
    """Speech-like phrases in one style: float32 audio of `seconds` and its frame-wise truth.

    `base_f0` is the speaker's baseline (about 120 Hz male, 210 Hz female); `formant_scale`
    scales the vowel formants (about 1.15-1.2 for a female voice).
    """
    _check(sr, seconds, base_f0)
    rng = np.random.default_rng(seed)
    score = _compose([(seconds, style)], sr, rng)
    return _render(score, sr, rng, base_f0=base_f0, formant_scale=formant_scale)


def demo_call(sr: int = 16000, seed: int = 0) -> tuple[npt.NDArray[np.float32], SpeechTruth]:
    """A 75-second example "call": calm speech with two escalation spans.

    Calm phrases move about a 120 Hz baseline at -26 dBFS; the escalated ones (roughly 28-40 s
    and 56-64 s, exact spans in ``truth.escalations``) are 5 semitones higher, swing 2.5 times
    as far, are 8 dB louder and faster.
    """
    _check(sr, 75.0, 120.0)
    rng = np.random.default_rng(seed)
    schedule = [(28.0, CALM), (40.0, ESCALATED), (56.0, CALM), (64.0, ESCALATED), (75.0, CALM)]
    score = _compose(schedule, sr, rng)
    return _render(score, sr, rng, base_f0=120.0, formant_scale=1.0)
