"""Emotional-escalation analysis: where a speaker's pitch and level rise above their own baseline.

The recording is cut into windows (1 s by default). Per window: median F0 of the voiced
frames, F0 variability, voiced fraction and RMS level. F0 for *all* windows comes from one
batched backend call (REQ-E-005); recordings longer than `ANALYSIS_CHUNK_S` (or a shorter
``memory.chunk_seconds``) are processed in window-aligned chunks, one call each (REQ-S-002), with
the same result, so memory stays flat in recording length.

Arousal score (see docs/escalation.md): five cues per window (pitch, level, spectral
balance, speech rate, F0 variability) are smoothed over their time context (a running median
over ``context_s`` of speech), turned into robust z-scores against the speaker's baseline in
the same recording, and added as evidence: a weighted sum divided by the norm of the weights,
so two cues at z = 2 give more than one (an average would give the same). The baseline is
refitted without the windows it flags, so it stays calm when escalation covers up to half of
the speech. Two voices taking turns on one channel (a conversation on a mixed line) are told
apart by their pitch, or by their timbre when their pitch is alike (`speakers`), and each scored
against a baseline of its own. Windows count as speech only
when the voice-activity decision says so (voicing, spectral flatness, level above the
recording's floor).

Its parts live beside it: `params` (its settings, `EscalationParams`), `voice_activity` (which
windows hold speech), `states` (a calm and a raised part of one voice, for the baseline),
`voices` (two voices on one channel), `cues` (spectral balance, speech rate, running medians),
`speakers` (the voice encoder) and `segments` (flagged windows merged into the stretches a
listener would hear).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gpuaudio import _validation as check
from gpuaudio.analysis import speakers
from gpuaudio.analysis.cues import (
    FEATURES,
    HIGH_BAND_HZ,
    running_mean,
    running_median,
    running_noise_floor,
    spectral_measures,
    syllable_rate,
)
from gpuaudio.analysis.params import ANALYSIS_SR as ANALYSIS_SR  # re-exported
from gpuaudio.analysis.params import EscalationParams as EscalationParams  # re-exported
from gpuaudio.analysis.segments import Segment as Segment  # a report's; re-exported
from gpuaudio.analysis.segments import find_segments, frame_pitch, merge_runs
from gpuaudio.analysis.states import Cues, calmer_state
from gpuaudio.analysis.voice_activity import (
    MUSIC_CONTEXT_S,
    shaped_sound,
    voice_activity,
    why_not_speech,
)
from gpuaudio.analysis.voices import find_voices
from gpuaudio.errors import InvalidAudioError, InvalidParameterError
from gpuaudio.progress import clock as clock  # lives in the framework; re-exported

if TYPE_CHECKING:
    from gpuaudio.audio_io import AudioInfo
    from gpuaudio.service import AudioFeatureService

MIN_INPUT_SR = round(2 * HIGH_BAND_HZ[1])
"""Lowest sample rate analysed (6800 Hz): the spectral cues and the voice-activity decision
read the telephone band up to 3400 Hz (`cues.HIGH_BAND_HZ`), which a slower recording lacks."""
_MAD_TO_SIGMA = 1.4826
Z_LIMIT = 5.0
"""z-scores are clipped to [-Z_FLOOR, Z_LIMIT], so one mis-tracked cue (an octave error)
cannot dominate a window's score, and a cue below its baseline (a quieter line behind AGC)
cannot cancel the evidence of the others."""
Z_FLOOR = 1.0
ANALYSIS_CHUNK_S = 600.0
"""Most audio (seconds) analysed at once: window-aligned chunks well below an hour keep a
worker's peak memory the same for a 30-minute and a 4-hour recording (docs/batch.md)."""
_LEVEL_FLOOR_DB = -200.0
ANALYSIS_F0 = ("acpitch?", "auto")
"""The analysis' F0 where the config leaves ``[backends] f0`` on auto: acpitch wherever it is
registered, on a GPU machine too (where the resolver's own pick is CREPE), then the resolver's
best. Every weight and threshold was tuned, and every held-out figure measured, with acpitch's
F0; CREPE tiny on cuda scored the same held-out build 0.07-0.09 lower in time recall on the
phone copies with 1.5-2.5x the calm false alarms (docs/escalation.md, "On a GPU"). So one
recording gets one analysis on any machine; the GPU still serves the spectral cues and the
voice encoder."""

Progress = Callable[[str, float], None]
"""``progress(stage, fraction_done)``: called as the analysis advances."""


@dataclass
class WindowFeatures:
    """Per-window columns, each an array of length n_windows."""

    start_s: np.ndarray
    end_s: np.ndarray
    f0_median_hz: np.ndarray
    """Median F0 of the voiced frames; NaN when none is voiced."""
    f0_variability_st: np.ndarray
    """Spread of the voiced frames' F0 in semitones: interquartile range / 1.349 (a robust
    standard deviation); NaN with fewer than 2 voiced frames."""
    f0_steadiness: np.ndarray
    """Share of the voiced frame pairs 0.1 s apart whose F0 differs by less than 0.2
    semitones (held notes are steady, speech glides); NaN without such a pair."""
    voiced_fraction: np.ndarray
    level_dbfs: np.ndarray
    """RMS level in dB re full scale (a full-scale sine is -3 dBFS)."""
    gain_change_db: np.ndarray
    """The gain a phone line's AGC took away here, read from the noise floor (<= 0 dB; 0 where
    the floor is usual or unknown): the level cue is ``level_dbfs - gain_change_db``."""
    balance_db: np.ndarray
    """Spectral balance of the voiced frames: 1000-3400 Hz over 300-1000 Hz energy, dB."""
    syllable_rate_hz: np.ndarray
    """Syllable nuclei per second (voiced peaks of the 300-3400 Hz intensity): speech rate."""
    flatness: np.ndarray
    """Spectral flatness of 300-3400 Hz (median over frames): ~0.56 for white noise."""
    speech: np.ndarray
    """The voice-activity decision: the window holds speech (only these are scored)."""
    voice: np.ndarray
    """Which voice speaks in a speech window (0, or 0/1 with two voices on the channel; the
    lower-pitched is 0); -1 in windows without speech."""
    z_pitch: np.ndarray
    z_level: np.ndarray
    z_balance: np.ndarray
    z_rate: np.ndarray
    z_variability: np.ndarray
    score: np.ndarray
    """Weighted sum of the z-scores over the norm of the weights; NaN without speech."""
    score_sustained: np.ndarray
    """The same score over the longer context (`EscalationParams.sustained_context_s`); NaN
    without speech or with the sustained context off."""
    flagged: np.ndarray
    """The score reaches the threshold, or the window lies in a sustained rise
    (`score_sustained`) with its score within `sustained_score_margin` of the threshold."""
    segment: np.ndarray
    """Index of the segment a window belongs to, -1 when none."""

    def __len__(self) -> int:
        return int(self.start_s.shape[0])

    def columns(self) -> dict[str, np.ndarray]:
        """Column name -> array, in table order."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Baseline:
    """The speaker's reference level in this recording: robust centre and scale per feature."""

    n_windows: int
    f0_median_hz: float
    pitch_scale_st: float
    level_dbfs: float
    level_scale_db: float
    variability_st: float
    variability_scale_st: float
    balance_db: float
    balance_scale_db: float
    syllable_rate_hz: float
    syllable_rate_scale_hz: float
    iterations: int
    """Fits until the baseline stopped changing (1: no window was excluded)."""
    excluded_windows: int
    """Speech windows left out of the final fit because they were flagged."""


@dataclass
class F0Contour:
    """Frame-wise F0 over the whole recording (for the figure): times and Hz, NaN unvoiced."""

    times_s: np.ndarray
    f0_hz: np.ndarray


@dataclass
class EscalationReport:
    """The result of `detect_emotional_escalation`: windows, baseline, segments, provenance."""

    params: EscalationParams
    duration_s: float
    windows: WindowFeatures
    baseline: Baseline | None
    """The baseline of the voice with the most speech (the only voice, usually)."""
    segments: list[Segment]
    contour: F0Contour
    provenance: dict[str, Any]
    """Per feature: backend, version, device, precision, why it was chosen (and what not)."""
    timing_s: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    partial: bool = False
    """The input was stopped before its end (a monitored stream ended by a signal): the
    report covers `duration_s` of it only."""
    voices: list[Baseline | None] = field(default_factory=list)
    """With two voices on the channel, each voice's baseline (voice 0 first); else empty."""

    @property
    def escalated_s(self) -> float:
        return float(sum(s.duration_s for s in self.segments))

    def voice_label(self, segment: Segment) -> str:
        """Whose voice a segment is, for people: "" with one voice on the channel, else
        "voice 1 (lower)" or "voice 2 (higher)"."""
        if len(self.voices) < 2:
            return ""
        return "voice 1 (lower)" if segment.voice == 0 else "voice 2 (higher)"

    def summary(self) -> str:
        """One line: how many segments, where, and how much of the recording."""
        if not self.segments:
            return f"no escalation found in {clock(self.duration_s)} of audio"
        spans = ", ".join(
            f"{clock(s.start_s)}-{clock(s.end_s)} (peak {s.peak_score:.1f})"
            for s in self.segments
        )
        return (
            f"{len(self.segments)} escalation segment(s) in {clock(self.duration_s)} of audio, "
            f"{self.escalated_s:.0f} s in all: {spans}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (windows excluded; NaN as None)."""
        params = asdict(self.params)
        params["hop_s"] = self.params.hop
        document: dict[str, Any] = _json_ready(
            {
                "params": params,
                "duration_s": self.duration_s,
                "n_windows": len(self.windows),
                "baseline": asdict(self.baseline) if self.baseline else None,
                "voices": [asdict(v) if v else None for v in self.voices],
                "segments": [asdict(s) | {"duration_s": s.duration_s} for s in self.segments],
                "escalated_s": self.escalated_s,
                "provenance": self.provenance,
                "timing_s": self.timing_s,
                "warnings": self.warnings,
                "partial": self.partial,
            }
        )
        return document


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# -- entry points --------------------------------------------------------------------------


def detect_escalation(
    service: AudioFeatureService,
    y: Any,
    sr: int,
    params: EscalationParams | None = None,
    *,
    progress: Progress | None = None,
) -> EscalationReport:
    """Analyse an in-memory signal; multi-channel input (channels first) is averaged."""
    from gpuaudio.audio_io import resample

    params = (params or EscalationParams()).validate()
    signal = check.audio(y)
    sr = check_input_rate(check.sample_rate(sr), "y")
    check.full_scale(signal, where="y", sr=sr)
    mono = signal.reshape(-1, signal.shape[-1]).mean(axis=0, dtype=np.float64).astype(np.float32)
    started = time.perf_counter()
    analysis = resample(mono, sr, params.analysis_sr)
    read_s = time.perf_counter() - started
    return _analyze(service, [analysis], analysis.shape[0], params, progress, read_s)


def detect_escalation_file(
    service: AudioFeatureService,
    path: str | Path,
    params: EscalationParams | None = None,
    *,
    channel: int | None = None,
    chunk_s: float | None = None,
    progress: Progress | None = None,
    blocks: Iterable[np.ndarray] | None = None,
) -> tuple[EscalationReport, AudioInfo]:
    """Analyse a file, streamed from disk in chunks of `chunk_s` seconds (default: see
    `analysis_chunk_s`); the report equals the one-piece analysis. `blocks`, when given, is the
    file's audio as ``stream_audio(path, params.analysis_sr, channel=channel)`` yields it (e.g.
    decoded ahead on a thread by a batch worker); any block sizes give the same report."""
    from gpuaudio.audio_io import audio_info, stream_audio

    params = (params or EscalationParams()).validate()
    info = audio_info(path)
    check_input_rate(info.sample_rate, str(path))
    chunk = _checked_chunk_s(service, chunk_s)
    if blocks is None:
        blocks = stream_audio(path, params.analysis_sr, channel=channel, block_s=chunk)
    n_samples = -(-info.frames * params.analysis_sr // info.sample_rate)
    report = _analyze(service, blocks, n_samples, params, progress, 0.0, chunk_s=chunk)
    report.warnings[:0] = [f"{Path(path).name}: {problem}" for problem in info.problems]
    return report, info


def check_input_rate(sr: int, where: str) -> int:
    """`sr`, or `InvalidAudioError` when it is below `MIN_INPUT_SR` (`where`: the input)."""
    if sr < MIN_INPUT_SR:
        raise InvalidAudioError(
            f"{where}: a sample rate of {sr} Hz holds frequencies up to {sr / 2:g} Hz only; the "
            f"analysis reads the telephone band up to {HIGH_BAND_HZ[1]:g} Hz and needs at least "
            f"{MIN_INPUT_SR} Hz (8000 Hz telephone audio is fine): is the rate right?"
        )
    return sr


# -- the pipeline ----------------------------------------------------------------------------


@dataclass
class _Raw:
    """Unscored per-window measurements of one chunk."""

    f0_median_hz: np.ndarray
    f0_variability_st: np.ndarray
    f0_steadiness: np.ndarray
    voiced_fraction: np.ndarray
    level_dbfs: np.ndarray
    balance_db: np.ndarray
    syllable_rate_hz: np.ndarray
    flatness: np.ndarray
    quiet_dbfs: np.ndarray
    """Level of the window's quieter frames (their 10th percentile), dBFS."""
    dc_offset: np.ndarray
    """Mean of the window's samples (full scale), removed before anything was measured."""
    speaker_embedding: np.ndarray
    """(windows, 256) voice-encoder embeddings of the voiced windows (`speakers`), NaN rows for
    the others; (windows, 0) without the encoder."""
    contour_times: np.ndarray
    contour_f0: np.ndarray

    @classmethod
    def concatenate(cls, parts: list[_Raw]) -> _Raw:
        """The measurements of consecutive chunks as one."""
        names = cls.__dataclass_fields__
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in names))

    def head(self, stop: int) -> _Raw:
        """The per-window measurements of the first `stop` windows (no contour)."""
        names = [name for name in self.__dataclass_fields__ if not name.startswith("contour")]
        columns = {name: getattr(self, name)[:stop] for name in names}
        return _Raw(**columns, contour_times=np.zeros(0), contour_f0=np.zeros(0))


def _count_windows(n_samples: int, params: EscalationParams) -> int:
    """Whole windows in `n_samples` analysis samples; raises when there is not one."""
    window, hop = params.window_samples()
    n_windows = 0 if n_samples < window else 1 + (n_samples - window) // hop
    if n_windows == 0:
        raise InvalidAudioError(
            f"the recording lasts {n_samples / params.analysis_sr:.2f} s, shorter than one "
            f"analysis window ({params.window_s} s); use a shorter window (window_s; --window on "
            "the command line)"
        )
    return n_windows


def analysis_chunk_s(service: AudioFeatureService) -> float:
    """Seconds of audio analysed at once by default: `ANALYSIS_CHUNK_S`, or the config's
    ``memory.chunk_seconds`` when that is shorter."""
    return min(ANALYSIS_CHUNK_S, service.config.memory.chunk_seconds)


def analysis_f0(service: AudioFeatureService) -> str | list[str]:
    """The F0 backend choice of the analysis: the config's ``[backends] f0`` when it names one,
    else `ANALYSIS_F0`."""
    configured = service.config.backends.f0
    return list(ANALYSIS_F0) if configured == "auto" else configured


def _f0_notes(backend: str) -> list[str]:
    """A warning when the F0 is not the one the analysis was tuned and validated with."""
    tuned = ANALYSIS_F0[0].rstrip("?")
    if backend == tuned:
        return []
    return [
        f"F0 by {backend}, not {tuned}: the analysis was tuned and validated with {tuned}'s F0; "
        "others track voices through a phone line less well and score worse there (CREPE tiny "
        "on a held-out build: recall -0.08, calm false alarms x1.5-2.5; docs/escalation.md, "
        "'On a GPU')"
    ]


MAX_CHUNK_S = 7 * 24 * 3600.0
"""`chunk_s` beyond this (a week, the config's ``memory.chunk_seconds`` bound) is taken as
this: one chunk for any recording."""


def _chunk_windows(
    service: AudioFeatureService, params: EscalationParams, chunk_s: float | None
) -> int:
    """Windows per batched F0 call: `chunk_s` seconds (`_checked_chunk_s`)."""
    chunk = _checked_chunk_s(service, chunk_s)
    return max(1, int(chunk * params.analysis_sr) // params.window_samples()[1])


def _checked_chunk_s(service: AudioFeatureService, chunk_s: Any) -> float:
    """`chunk_s` (default `analysis_chunk_s`), at most `MAX_CHUNK_S`; raises
    `InvalidParameterError` unless it is a finite number of seconds over 0."""
    if chunk_s is None:
        return analysis_chunk_s(service)
    chunk = check.finite_real("chunk_s", chunk_s)
    if chunk <= 0:
        raise InvalidParameterError(f"chunk_s must be over 0 seconds, got {chunk_s!r}")
    return min(chunk, MAX_CHUNK_S)


def _analyze(
    service: AudioFeatureService,
    blocks: Iterable[np.ndarray],
    n_samples: int,
    params: EscalationParams,
    progress: Progress | None,
    read_s: float,
    *,
    chunk_s: float | None = None,
) -> EscalationReport:
    window, hop = params.window_samples()
    n_windows = _count_windows(n_samples, params)
    chunk_windows = _chunk_windows(service, params, chunk_s)
    parts: list[_Raw] = []
    timing = {"read_s": read_s, "f0_s": 0.0, "level_s": 0.0, "spectral_s": 0.0, "speakers_s": 0.0}
    provenance: dict[str, Any] = {}
    started = time.perf_counter()
    for first, batch in _window_batches(blocks, window, hop, n_windows, chunk_windows, timing):
        if progress:
            progress("F0 and level", first / n_windows)
        parts.append(_measure(service, batch, first, params, timing))
        provenance["f0"] = service.provenance["f0"].as_dict()
    if progress:
        progress("scoring", 1.0)
    busy_s = time.perf_counter() - started + read_s
    return _assemble(service, parts, n_samples, params, provenance, timing, busy_s)


def _speakers_provenance(service: AudioFeatureService, scoring: Scoring) -> dict[str, Any]:
    """How voices on the channel were told apart, and with what."""
    encoder = speakers.encoder_name()
    return {
        "encoder": encoder,
        "device": speakers.encoder_device(service) if encoder else None,
        "method": (
            "pitch states; where pitch is alike, speaker embeddings of each voiced window "
            "(GE2E voice encoder, weights from the installed package) split in two groups"
            if encoder
            else "pitch states only (no voice encoder installed: pip install gpuaudio[voices])"
        ),
        "voices_by": scoring.voices_by,
    }


def _assemble(
    service: AudioFeatureService,
    parts: list[_Raw],
    n_samples: int,
    params: EscalationParams,
    provenance: dict[str, Any],
    timing: dict[str, float],
    busy_s: float,
) -> EscalationReport:
    """Score the measured windows of the whole recording against its baseline: the report.

    `provenance` holds the F0 provenance of the last call; `busy_s` is the time spent so far
    (reading included).
    """
    started = time.perf_counter()
    window, hop = params.window_samples()
    raw = _Raw.concatenate(parts)
    starts = np.arange(raw.f0_median_hz.shape[0]) * hop / params.analysis_sr
    windows, scoring, notes, segments = score_segments(
        raw, starts, starts + window / params.analysis_sr, params
    )
    notes += _gain_notes(windows, segments) + _octave_notes(segments)
    choice = analysis_f0(service)
    resolution = service.resolution("f0", choice)
    provenance["f0"]["choice"] = choice
    if choice != service.config.backends.f0:  # named by the analysis, not by the user
        reason = provenance["f0"]["reason"]
        provenance["f0"]["reason"] = reason.replace("named in config", "the analysis' F0", 1)
    provenance["f0"]["rejected"] = [
        {"backend": r.spec.name, "reason": r.reason} for r in resolution.rejected
    ]
    provenance["f0"]["calls"] = len(parts)
    notes += _f0_notes(provenance["f0"]["backend"])
    provenance["level"] = {"backend": "numpy", "method": "RMS of each window's samples, dBFS"}
    if "stft" in service.provenance:
        provenance["spectral"] = service.provenance["stft"].as_dict()
    provenance["speakers"] = _speakers_provenance(service, scoring)
    timing["total_s"] = busy_s + time.perf_counter() - started
    return EscalationReport(
        params=params,
        duration_s=n_samples / params.analysis_sr,
        windows=windows,
        baseline=scoring.fit.baseline() if scoring.fit else None,
        segments=segments,
        contour=F0Contour(raw.contour_times, raw.contour_f0),
        provenance=provenance,
        timing_s=timing,
        warnings=notes,
        voices=scoring.baselines() if len(scoring.fits) > 1 else [],
    )


def _window_batches(
    blocks: Iterable[np.ndarray],
    window: int,
    hop: int,
    n_windows: int,
    chunk_windows: int,
    timing: dict[str, float],
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_window, windows[m, window])`` for consecutive chunks of whole windows.

    Windows are cut at ``i * hop`` in the concatenated stream, whatever the block sizes, so
    chunking never changes what a window holds.
    """
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0  # stream index of buffer[0]
    first = 0
    iterator = iter(blocks)
    exhausted = False
    while first < n_windows:
        needed = (min(first + chunk_windows, n_windows) - 1) * hop + window
        while not exhausted and offset + buffer.shape[0] < needed:
            started = time.perf_counter()
            block = next(iterator, None)
            timing["read_s"] += time.perf_counter() - started
            if block is None:
                exhausted = True
            else:
                buffer = np.concatenate([buffer, block])
        available = offset + buffer.shape[0]
        stop = min(first + chunk_windows, n_windows, 1 + (available - window) // hop)
        if stop <= first:
            raise InvalidAudioError(
                f"the audio stream ended after {available} samples, before window {first}"
            )
        local = first * hop - offset
        frames = np.lib.stride_tricks.sliding_window_view(buffer[local:], window)[::hop]
        yield first, np.ascontiguousarray(frames[: stop - first])
        keep = stop * hop - offset
        buffer, offset, first = buffer[keep:], offset + keep, stop


def _measure(
    service: AudioFeatureService,
    batch: np.ndarray,
    first: int,
    params: EscalationParams,
    timing: dict[str, float],
) -> _Raw:
    """F0 (one batched call) and level of a chunk of windows."""
    from gpuaudio.service import window_frame_grid

    sr = params.analysis_sr
    frame_length, frame_hop = window_frame_grid(sr)
    started = time.perf_counter()
    # A DC offset (a faulty recording chain) would count as level and fill the pauses, so no
    # window would stand above the noise floor: each window is measured around its own mean,
    # as Praat's "Subtract mean" does for a whole sound.
    # The quiet frames' power is taken around each frame's own mean too, so that digital
    # silence (or a constant) in a pause stays silence once the window's mean is removed.
    offset = batch.mean(axis=1, dtype=np.float64)
    batch = batch - offset[:, None].astype(batch.dtype)
    level = _db(np.square(batch, dtype=np.float64).mean(axis=1))
    n_frames = batch.shape[1] // frame_hop
    frames = batch[:, : n_frames * frame_hop].reshape(batch.shape[0], n_frames, frame_hop)
    quiet = _db(np.percentile(frames.var(axis=2, dtype=np.float64), 10, axis=1))
    timing["level_s"] += time.perf_counter() - started

    started = time.perf_counter()
    f0, voiced, _ = service.extract_f0(
        batch,
        sr,
        fmin=params.fmin,
        fmax=params.fmax,
        frame_length=frame_length,
        hop_length=frame_hop,
        backend=analysis_f0(service),
    )
    timing["f0_s"] += time.perf_counter() - started

    started = time.perf_counter()
    balance, flatness = spectral_measures(service, batch, sr, frame_hop, voiced)
    rate = syllable_rate(service, batch, sr, frame_hop, voiced, params.window_s)
    timing["spectral_s"] += time.perf_counter() - started

    started = time.perf_counter()
    embedding = _embeddings(service, batch, voiced.mean(axis=1) >= params.min_voiced_fraction, sr)
    timing["speakers_s"] += time.perf_counter() - started

    voiced_f0 = np.where(voiced, f0, np.nan)
    semitones = 12 * np.log2(voiced_f0)
    n_voiced = voiced.sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # rows without voiced frames
        median = np.nanmedian(voiced_f0, axis=1)
        q25, q75 = np.nanpercentile(semitones, [25, 75], axis=1)
    spread = np.where(n_voiced >= 2, (q75 - q25) / 1.349, np.nan)
    steadiness = _steadiness(semitones, max(1, round(_STEADY_LAG_S * sr / frame_hop)))

    # Contour: each window's frames that start before the next window (no duplicates).
    hop_s = params.hop
    frame_times = np.arange(f0.shape[1]) * frame_hop / sr
    own = frame_times < hop_s - 1e-9
    starts = (first + np.arange(batch.shape[0])) * round(hop_s * sr) / sr
    times = (starts[:, None] + frame_times[None, own]).reshape(-1)
    return _Raw(
        f0_median_hz=median,
        f0_variability_st=spread,
        f0_steadiness=steadiness,
        voiced_fraction=voiced.mean(axis=1),
        level_dbfs=level,
        balance_db=balance,
        syllable_rate_hz=rate,
        flatness=flatness,
        quiet_dbfs=quiet,
        dc_offset=offset,
        speaker_embedding=embedding,
        contour_times=times,
        contour_f0=voiced_f0[:, own].reshape(-1),
    )


def _embeddings(
    service: AudioFeatureService, batch: np.ndarray, voiced: np.ndarray, sr: int
) -> np.ndarray:
    """Speaker embeddings of the `voiced` windows of `batch` (the only ones that can be speech),
    NaN rows for the rest; (windows, 0) without the voice encoder."""
    found = speakers.speaker_embeddings(service, batch[voiced], sr)
    embedding = np.full((batch.shape[0], found.shape[1]), np.nan, dtype=np.float32)
    embedding[voiced] = found
    return embedding


def _robust(values: np.ndarray, floor: float) -> tuple[float, float]:
    """Median and 1.4826 * MAD (at least `floor`) of the finite values."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, floor
    centre = float(np.median(finite))
    scale = _MAD_TO_SIGMA * float(np.median(np.abs(finite - centre)))
    return centre, max(scale, floor)


@dataclass(frozen=True)
class _Fit:
    """Robust centre and scale of each cue (`FEATURES` order) over the baseline windows."""

    centres: tuple[float, ...]
    scales: tuple[float, ...]
    n_windows: int
    iterations: int = 1
    excluded: int = 0

    def baseline(self) -> Baseline:
        pitch, level, balance, rate, variability = range(len(FEATURES))
        return Baseline(
            n_windows=self.n_windows,
            f0_median_hz=float(2 ** (self.centres[pitch] / 12)),
            pitch_scale_st=self.scales[pitch],
            level_dbfs=self.centres[level],
            level_scale_db=self.scales[level],
            variability_st=self.centres[variability],
            variability_scale_st=self.scales[variability],
            balance_db=self.centres[balance],
            balance_scale_db=self.scales[balance],
            syllable_rate_hz=self.centres[rate],
            syllable_rate_scale_hz=self.scales[rate],
            iterations=self.iterations,
            excluded_windows=self.excluded,
        )


def _features(raw: _Raw, gain_change_db: np.ndarray) -> Cues:
    """Per window, the raw cues: pitch (st), level (dB, with the gain a line's AGC took away
    added back), balance (dB), rate (1/s), variability (st)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pitch_st = 12 * np.log2(raw.f0_median_hz)
    level = raw.level_dbfs - gain_change_db
    return pitch_st, level, raw.balance_db, raw.syllable_rate_hz, raw.f0_variability_st


_GAIN_CONTEXT_S = 10.0
"""The noise floor under a window is read within this many seconds before it and after it: a
few pauses at least."""
_GAIN_NEAR_SPEECH = 1
"""...from the speech windows and the windows next to them (pauses between turns)."""
_DIGITAL_SILENCE_DBFS = -110.0
"""Quieter frames than this are digital silence (zeros, padding), not a noise floor."""


def _gain_change(raw: _Raw, speech: np.ndarray, params: EscalationParams) -> np.ndarray:
    """Per window, the gain an automatic gain control took away (<= 0 dB), 0 where unknown.

    An AGC holds the speech level constant, so a raised voice is turned down and keeps little
    of its level rise; the background noise captured with it is turned down as well. The
    local floor (10th percentile of the quiet-frame levels within `_GAIN_CONTEXT_S` before the
    window or after it, whichever is higher: `running_noise_floor`; digital silence left out) under
    the recording's usual one (its median over the speech windows) gives the gain taken away,
    at most `max_gain_correction_db`. A floor above the usual one (more noise) changes nothing.
    Tuning half, AGC copies: time recall 0.81 -> 0.91; clean and telephone copies (a steady
    floor) unchanged. One-sided (session 27): a centred context read the gain taken from a
    raised voice up to 8 s before it began, lengthening a short rise with calm windows that
    hid its lifted floor (docs/escalation.md).
    """
    change = np.zeros(speech.shape[0])
    if params.max_gain_correction_db <= 0:
        return change
    half_width = int(_GAIN_CONTEXT_S / params.hop)
    # The background of the call while it goes on: speech windows and their neighbours (the
    # pauses between turns). A long stretch without speech (a lead-in before the call
    # connects, a hold) may sit on another floor and would read as gain taken away.
    near_speech = speech.copy()
    for step in range(1, _GAIN_NEAR_SPEECH + 1):
        near_speech[step:] |= speech[:-step]
        near_speech[:-step] |= speech[step:]
    measured = near_speech & (raw.quiet_dbfs > _DIGITAL_SILENCE_DBFS)
    floor = running_noise_floor(raw.quiet_dbfs, measured, half_width, 10.0)
    known = speech & np.isfinite(floor)
    if known.sum() < params.min_baseline_windows:
        return change
    drop = floor[known] - float(np.median(floor[known]))
    change[known] = np.clip(drop, -params.max_gain_correction_db, 0.0)
    return change


_STEADY_LAG_S = 0.1
"""Frames this far apart are compared for `WindowFeatures.f0_steadiness`."""


def _steadiness(semitones: np.ndarray, lag: int) -> np.ndarray:
    """Per row: the share of voiced frame pairs `lag` frames apart within 0.2 semitones
    (NaN without a pair)."""
    before, after = semitones[:, :-lag], semitones[:, lag:]
    pairs = np.isfinite(before) & np.isfinite(after)
    with np.errstate(invalid="ignore"):
        steady = pairs & (np.abs(after - before) < 0.2)
    n_pairs = pairs.sum(axis=1)
    share: np.ndarray = np.where(n_pairs > 0, steady.sum(axis=1) / np.maximum(n_pairs, 1), np.nan)
    return share


_GAIN_NOTE_DB = 3.0
"""A segment whose windows had this much level read back from the noise floor gets a note."""


def _gain_notes(windows: WindowFeatures, segments: list[Segment]) -> list[str]:
    """A note naming the segments whose level cue counts gain read back from the noise floor
    (median `gain_change_db` at least `_GAIN_NOTE_DB` down), so an analyst can check it: the
    same drop of the floor is heard when the background noise itself stops."""
    read_back = []
    for index in range(len(segments)):
        members = (windows.segment == index) & windows.speech
        change = float(np.median(windows.gain_change_db[members]))
        if change <= -_GAIN_NOTE_DB:
            read_back.append((index + 1, f"{-change:.0f} dB"))
    return _segments_note(
        read_back,
        "the level cue includes gain that the noise floor says a phone line's automatic gain "
        "control took away (windows.csv gain_change_db); if the background noise itself fell "
        "quiet there instead, analyse again with --max-gain-correction 0",
    )


def _segments_note(named: list[tuple[int, str]], text: str) -> list[str]:
    """One warning naming segments (number, what about it), or none when none is named."""
    if not named:
        return []
    listed = ", ".join(f"{number} ({about})" for number, about in named)
    return [f"segment(s) {listed}: {text}"]


_OTHER_VOICE_ST = 12.0
"""A segment this far (an octave) or more above its voice's baseline gets a note: it may be
another speaker who talks once, or the pitch track an octave off, rather than escalation."""


def _octave_notes(segments: list[Segment]) -> list[str]:
    """A note naming the segments that rise an octave or more over their voice's baseline.
    Two voices are told apart only when they take turns through the call, so a second
    speaker who talks in one stretch (a briefing handed over, a call that ends with another
    party) reads as the first voice's escalation (session 19: a woman's closing 35-s turn after
    a man's, +18 st); a scream can rise as far, so the segment is kept and named."""
    far = [
        (index + 1, f"+{segment.pitch_change_st:.0f} st")
        for index, segment in enumerate(segments)
        if segment.pitch_change_st >= _OTHER_VOICE_ST
    ]
    return _segments_note(
        far,
        "pitch an octave or more above the voice's baseline; this may be another speaker's "
        "turn (a voice that speaks only once in the call is not told apart from an "
        "escalation) or the pitch track an octave off: listen before reading it as escalation",
    )


def _db(power: np.ndarray) -> np.ndarray:
    """Mean squares as dBFS, floored at -200 dB (digital silence)."""
    return np.asarray(10 * np.log10(np.maximum(power, 10 ** (_LEVEL_FLOOR_DB / 10))))


def _smooth(
    cues: Cues, speech: np.ndarray, params: EscalationParams, *, own_turns: bool = False
) -> Cues:
    """Each cue as the running median over its speech context (`context_s`); the rate (a
    count) as the running mean.

    With `own_turns` (one of two voices on a channel) the context is as many of the voice's
    own nearest speech windows, its turns laid end to end: within +-4.5 s a voice that takes
    turns has only a few windows of its own, whose median scatters, and its baseline's scale
    widened until its rises no longer stood out (a man on a phone line in conversation: 2.5
    st against 1.5 st clean). Tuning half, 36 conversations of every two tuning voices in
    two builds: recall +0.02..+0.05 per channel, calm false alarms about the same; the five
    standard builds unchanged or better (docs/escalation-history.md, session 10)."""
    if own_turns:
        own = np.flatnonzero(speech)
        laid = _smooth(tuple(values[own] for values in cues), np.ones(own.size, bool), params)
        placed = []
        for values in laid:
            full = np.full(speech.shape[0], np.nan)
            full[own] = values
            placed.append(full)
        return tuple(placed)
    half_width = int(params.context_s / params.hop / 2)  # windows each side
    return tuple(
        (running_mean if name == "rate" else running_median)(values, speech, half_width)
        for name, values in zip(FEATURES, cues, strict=True)
    )


def _fit_once(
    cues: Cues, keep: np.ndarray, params: EscalationParams, iterations: int, excluded: int
) -> _Fit:
    robust = [
        _robust(values[keep], floor)
        for values, floor in zip(cues, params.scale_floors, strict=True)
    ]
    return _Fit(
        tuple(c for c, _ in robust), tuple(s for _, s in robust), int(keep.sum()),
        iterations, excluded,
    )


def _fit(
    cues: Cues, speech: np.ndarray, params: EscalationParams, exclude: np.ndarray | None = None
) -> _Fit | None:
    """The baseline over the speech windows; None with fewer than `min_baseline_windows`.

    Fitted over all speech, then refitted without the windows that fit flags, until the set
    stops changing (`baseline_iterations`): escalated windows are outliers that would pull
    the centre and widen the scale. At least half of the speech always stays in the fit, or
    half of the calmer state (`calmer_state`) once the refits start from it: when a heated
    exchange holds most of a voice's speech, half of all of it would take raised windows back.
    `exclude`: windows never taken into it (a sustained rise, `_sustained_runs`), unless
    that would leave less than half of the speech.
    """
    n_speech = int(speech.sum())
    if n_speech < params.min_baseline_windows:
        return None
    candidates = speech  # windows a refit may take into the baseline
    pool = speech  # the refits keep at least half of it
    if exclude is not None:
        rest = speech & ~exclude
        if rest.sum() >= max(params.min_baseline_windows, n_speech / 2):
            candidates = rest
    keep = candidates
    fit = _fit_once(cues, keep, params, 1, n_speech - int(keep.sum()))
    if params.baseline_iterations and n_speech >= 2 * params.min_baseline_windows:
        # Escalation over nearly half of the speech hides in a wide scale: start the refits
        # from the calmer of two well-separated pitch states, when there are two, and never
        # take the upper state back: its windows that score just under the threshold (no
        # level cue behind a phone line's AGC) would widen the scale, unflag more of them,
        # and the refits would end on all the speech again.
        calmer = calmer_state(cues, speech)
        if calmer is not None:
            calmer = calmer & candidates
        if calmer is not None and calmer.sum() >= params.min_baseline_windows:
            keep = candidates = pool = calmer
            fit = _fit_once(cues, keep, params, 1, n_speech - int(keep.sum()))
    for iteration in range(2, params.baseline_iterations + 2):
        _, score, flagged = _zscores(cues, speech, fit, params)
        calm = candidates & ~flagged
        if calm.sum() < max(params.min_baseline_windows, pool.sum() / 2):
            # Never below half of the pool: keep its lower-scoring half.
            cut = np.nanmedian(score[pool])
            calm = pool & (np.nan_to_num(score, nan=np.inf) <= cut)
        if np.array_equal(calm, keep):
            break
        keep = calm
        fit = _fit_once(cues, keep, params, iteration, n_speech - int(keep.sum()))
    return fit


def _zscores(
    cues: Cues, speech: np.ndarray, fit: _Fit | None, params: EscalationParams
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Clipped z-scores against `fit`, the score and the flags (NaN, NaN, False without a fit
    or without speech).

    score = sum(w_i * z_i) / sqrt(sum(w_i^2)): for independent cues with unit variance this is
    again a unit-variance score (Stouffer's combination), so evidence adds up: two cues at
    z = 2 give 2.8 with equal weights, where an average would give 2.
    """
    if fit is None:
        nan = np.full(speech.shape[0], np.nan)
        z = [nan] * len(FEATURES)
    else:
        z = []
        for values, centre, scale in zip(cues, fit.centres, fit.scales, strict=True):
            # A speech window without a value (one voiced frame: no spread) is at baseline.
            deviation = np.nan_to_num((values - centre) / scale)
            z.append(np.where(speech, np.clip(deviation, -Z_FLOOR, Z_LIMIT), np.nan))
    weights = np.asarray(params.weights, dtype=np.float64)
    total = np.asarray(sum(w * zi for w, zi in zip(weights, z, strict=True)), np.float64)
    score = total / float(np.sqrt(np.sum(weights**2)))
    flagged = np.nan_to_num(score, nan=-np.inf) >= params.threshold
    return z, score, flagged


@dataclass(frozen=True)
class Scoring:
    """The scoring of measured windows (`score_windows`)."""

    speech: np.ndarray
    music: np.ndarray
    """Voiced windows left out of the speech because they sound like music (`_music`)."""
    gain_change_db: np.ndarray
    """The gain a line's AGC took away, per window (`_gain_change`)."""
    voice: np.ndarray
    """Per window: the voice speaking (0, or 0/1 with two voices), -1 without speech."""
    fits: tuple[_Fit | None, ...]
    """Each voice's baseline fit (None with too little of its speech)."""
    voices_st: float | None
    """Semitones between two voices on the channel; None with one voice."""
    voices_by: str | None
    """What told two voices apart: "pitch" or "timbre"; None with one voice."""
    z: list[np.ndarray]
    score: np.ndarray
    score_sustained: np.ndarray
    """The score over the longer context (`_sustained_rises`)."""
    flagged: np.ndarray

    @property
    def fit(self) -> _Fit | None:
        """The fit of the voice with the most speech windows."""
        fitted = [fit for fit in self.fits if fit is not None]
        return max(fitted, key=lambda fit: fit.n_windows) if fitted else None

    def baselines(self) -> list[Baseline | None]:
        """Each voice's baseline (None with too little of its speech)."""
        return [fit.baseline() if fit else None for fit in self.fits]


_TIMBRE_PITCH_SCALE_FLOOR_ST = 1.0
"""The least pitch scale of a voice told apart from another by timbre (`voices.timbre_voices`;
`scale_floors`' 0.75 otherwise). Timbre gives each window to a voice less surely than pitch
does: a window at a turn change holds both voices, and behind a phone line a low voice's
octave slips land at the other voice's pitch; the fewer windows a voice keeps, the narrower
its baseline, and a handful of such windows in a row made a calm voice "rise" 3-5 st
(session 25: on the test half's calm conversation of the AMI woman and the non-native AMI man,
seen, disclosed). Tuning half (1,480 analyses): no span at the bar changed, no calm false
alarm either way, recall -0.011..0, precision +0.001..+0.006; 1.25 st lost two spans at the
bar (exchange build 31)."""


def _with_timbre_pitch_floor(params: EscalationParams) -> EscalationParams:
    """`params` whose pitch scale floor is at least `_TIMBRE_PITCH_SCALE_FLOOR_ST`."""
    pitch_floor, *others = params.scale_floors
    floors = (max(pitch_floor, _TIMBRE_PITCH_SCALE_FLOOR_ST), *others)
    return replace(params, scale_floors=floors)  # type: ignore[arg-type]


def score_windows(raw: _Raw, params: EscalationParams) -> Scoring:
    """The whole scoring of measured windows: voices, baselines, z-scores, scores and flags.

    With two voices on the channel (`find_voices`) each voice's windows are smoothed, fitted
    and scored on their own, so one voice's turns are not taken for the other's escalation.
    Each voice is scored over `sustained_context_s` and over `context_s`, whose baseline
    leaves out the voice's sustained rises (`_sustained_runs`: a rise that lasts is not calm
    speech); those rises flag windows too (`_sustained_rises`). The offline report and the
    live monitor (on the windows so far) both use it.
    """
    speech, music = voice_activity(raw, params)
    gain_change = _gain_change(raw, speech, params)
    features = _features(raw, gain_change)
    voices = find_voices(features, speech, raw.speaker_embedding, params)
    groups = [speech] if voices is None else [speech & voices.lower, speech & ~voices.lower]
    n = speech.shape[0]
    voice = np.full(n, -1, dtype=np.int64)
    z = [np.full(n, np.nan) for _ in FEATURES]
    score = np.full(n, np.nan)
    score_sustained = np.full(n, np.nan)
    flagged = np.zeros(n, dtype=bool)
    if voices is not None and voices.by == "timbre":
        params = _with_timbre_pitch_floor(params)
    sustained = (
        replace(params, context_s=params.sustained_context_s, threshold=params.sustained_threshold)
        if params.sustained_context_s > 0
        else None
    )
    fits = []
    for index, members in enumerate(groups):
        own_turns = voices is not None
        rise = None
        if sustained is not None:
            long_cues = _smooth(features, members, sustained, own_turns=own_turns)
            long_fit = _fit(long_cues, members, sustained)
            score_sustained[members] = _zscores(long_cues, members, long_fit, sustained)[1][members]
            rise = _sustained_runs(score_sustained, members, params)
        cues = _smooth(features, members, params, own_turns=own_turns)
        fit = _fit(cues, members, params, exclude=rise)
        voice_z, voice_score, voice_flagged = _zscores(cues, members, fit, params)
        if rise is not None:
            voice_flagged |= _sustained_rises(rise, voice_score, params)
        voice[members] = index
        for target, values in zip(z, voice_z, strict=True):
            target[members] = values[members]
        score[members] = voice_score[members]
        flagged[members] = voice_flagged[members]
        fits.append(fit)
    return Scoring(
        speech, music, gain_change, voice, tuple(fits),
        None if voices is None else voices.distance_st, None if voices is None else voices.by,
        z, score, score_sustained, flagged,
    )


def _sustained_runs(
    score_sustained: np.ndarray, speech: np.ndarray, params: EscalationParams
) -> np.ndarray:
    """The `speech` windows of sustained rises: runs of speech windows whose `score_sustained`
    reaches `sustained_threshold` (merged as segments merge, `merge_runs`) lasting
    `sustained_min_s` or more."""
    raised = speech & (np.nan_to_num(score_sustained, nan=-np.inf) >= params.sustained_threshold)
    starts = np.arange(speech.shape[0]) * params.hop
    rise = np.zeros(speech.shape[0], dtype=bool)
    runs = merge_runs(starts, starts + params.window_s, raised, speech & ~raised, params)
    for members, _ in runs:
        first, last = members[0], members[-1]
        if starts[last] + params.window_s - starts[first] >= params.sustained_min_s - 1e-9:
            rise[first : last + 1] = True
    result: np.ndarray = rise & raised
    return result


def _sustained_rises(rise: np.ndarray, score: np.ndarray, params: EscalationParams) -> np.ndarray:
    """Windows in a sustained rise (`rise`: a voice's `_sustained_runs`) that the score over
    `context_s` leaves just under the threshold: those whose own score is within
    `sustained_score_margin` of the threshold.

    A phone line widens a voice's window-to-window pitch scatter and its AGC takes the level
    cue: a 40-s rise of +4-5 st then scores 1.5-2.5 for most of its windows over 9 s of
    context and falls apart into pieces under the minimum, while over 31 s its scatter
    averages out and it stands out as a whole. Lively phrases and turn starts (7-15 s) are
    smoothed away over 31 s. docs/escalation.md, method step 7."""
    near = np.nan_to_num(score, nan=-np.inf) >= params.threshold - params.sustained_score_margin
    result: np.ndarray = rise & near
    return result


def score_segments(
    raw: _Raw, starts: np.ndarray, ends: np.ndarray, params: EscalationParams
) -> tuple[WindowFeatures, Scoring, list[str], list[Segment]]:
    """The windows' table, its scoring, the notes on the speech found and the segments, from
    measured windows: the report's, and what measurements kept from an analysis give when
    scored again with other scoring params (benchmarks/escalation_real/evaluate.py)."""
    windows, scoring, notes = _score(raw, starts, ends, params)
    pitch = frame_pitch(raw.contour_f0, len(starts))
    return windows, scoring, notes, find_segments(windows, scoring.baselines(), params, pitch)


def _score(
    raw: _Raw, starts: np.ndarray, ends: np.ndarray, params: EscalationParams
) -> tuple[WindowFeatures, Scoring, list[str]]:
    """The windows' table, the scoring behind it and the notes on the speech found."""
    n = starts.shape[0]
    scoring = score_windows(raw, params)
    speech, z, score, flagged = scoring.speech, scoring.z, scoring.score, scoring.flagged
    notes = _speech_notes(raw, speech, scoring.music, scoring.fit, params)
    if scoring.voices_st is not None:
        told = (
            f"pitch {scoring.voices_st:.0f} semitones apart"
            if scoring.voices_by == "pitch"
            else f"told apart by timbre, pitch {scoring.voices_st:.0f} semitones apart"
        )
        notes.append(
            f"two voices take turns on this channel ({told}): each is scored against a "
            "baseline of its own (report.json's voices); where the call has one channel per "
            "party, analyse each (--channel N)"
        )
    windows = WindowFeatures(
        start_s=starts,
        end_s=ends,
        f0_median_hz=raw.f0_median_hz,
        f0_variability_st=raw.f0_variability_st,
        f0_steadiness=raw.f0_steadiness,
        voiced_fraction=raw.voiced_fraction,
        level_dbfs=raw.level_dbfs,
        gain_change_db=scoring.gain_change_db,
        balance_db=raw.balance_db,
        syllable_rate_hz=raw.syllable_rate_hz,
        flatness=raw.flatness,
        speech=speech,
        voice=scoring.voice,
        z_pitch=z[0],
        z_level=z[1],
        z_balance=z[2],
        z_rate=z[3],
        z_variability=z[4],
        score=score,
        score_sustained=scoring.score_sustained,
        flagged=flagged,
        segment=np.full(n, -1, dtype=np.int64),
    )
    return windows, scoring, notes


_DC_NOTE = 0.01
"""A DC offset from this share of full scale (-40 dBFS) up is named in the warnings."""


def _speech_notes(
    raw: _Raw,
    speech: np.ndarray,
    music: np.ndarray,
    fit: _Fit | None,
    params: EscalationParams,
) -> list[str]:
    """Warnings about the recording and the speech found: a DC offset removed, music left
    out, no speech to score, or too little for a sure baseline."""
    n_speech = int(speech.sum())
    speech_s = n_speech * params.hop
    n_music = int(music.sum())
    notes = []
    offset = float(np.median(np.abs(raw.dc_offset))) if raw.dc_offset.size else 0.0
    if offset >= _DC_NOTE:
        notes.append(
            f"the recording has a DC offset ({offset:.3f} of full scale, median over the "
            "windows): each window was measured around its own mean; check the recording chain"
        )
    if n_music:
        context_s = min(MUSIC_CONTEXT_S, speech.size * params.hop)
        notes.append(
            f"{n_music} window(s) ({n_music * params.hop:.0f} s) sound like music (pitch held "
            f"like notes, or spread like several voices at once, over ~{context_s:.0f} s) and "
            "were not analysed as speech"
        )
    if fit is None:
        voiced = raw.voiced_fraction >= params.min_voiced_fraction
        unvoiced = int((shaped_sound(raw, params) & ~voiced).sum())
        if unvoiced >= params.min_baseline_windows:
            notes.append(
                f"only {n_speech} window(s) hold voiced speech, and {unvoiced} more sound like "
                "speech with too little voicing (a hoarse, breathy or whispered voice?): the "
                f"analysis needs voiced speech (pitch), at least {params.min_baseline_windows} "
                "windows of it for a baseline, so nothing was scored"
            )
        else:
            others = "; ".join(why_not_speech(raw, params, music))
            notes.append(
                f"only {n_speech} window(s) hold speech; of the {speech.size - n_speech} others: "
                f"{others}. At least {params.min_baseline_windows} are needed for a baseline, "
                "so nothing was scored: is this a recording of speech?"
            )
    elif speech_s < params.min_speech_s:
        notes.append(
            f"only {speech_s:.0f} s of speech (under {params.min_speech_s:.0f} s): the "
            "baseline rests on little speech, read the scores with care"
        )
    return notes
