"""Real-time escalation monitoring of an audio stream (REQ-O-003), e.g. a call being listened to.

`EscalationMonitor` takes the stream in blocks of any size and returns each analysis window
as soon as its last sample has arrived, scored against a *live* baseline; `finish()` returns
the offline `EscalationReport`, equal to `detect_escalation` on the whole stream.

- **Same windows.** Blocks are resampled to the analysis rate by `audio_io.StreamResampler`
  (bit for bit what `resample` gives the whole signal) and cut into windows at ``i * hop``
  by the offline path's own `_window_batches`, so a window holds the same samples whatever
  the block sizes, and its measurements are those of the offline analysis.
- **One F0 call per feed.** The windows a block completes are measured together: one batched
  F0 call (REQ-E-005), or one per ``memory.chunk_seconds`` of windows as offline.
- **Live baseline.** Window k is scored against the median / 1.4826 MAD of the speech
  windows 0..k, once at least ``min_baseline_windows`` of them have been seen: exactly the
  score the offline analysis would give window k if the recording ended with it. It is
  causal (later audio never changes it), uses the same robust statistics as the final
  report, and converges to the report's baseline as the call goes on.
- **Live segments.** The offline segment rule applied to the live flags as they come:
  a segment *opens* when flagged windows (gaps of at most ``max_gap_s`` merged, or pauses
  of at most ``max_pause_s`` without calm speech) span ``min_duration_s``, and *closes* as
  soon as no later window could be merged into it (the next window would start more than
  ``max_gap_s`` after its last flagged window with calm speech since, or more than
  ``max_pause_s`` after it), or when the stream ends. With two voices on the channel, a
  voice's flagged windows are also merged on their own, the other voice's turns counted as
  pauses, as the offline rule's second pass does; live segments never overlap.

See docs/streaming.md for latency and the CLI (``gpuaudio monitor``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from gpuaudio import _validation as check
from gpuaudio.analysis.escalation import (
    Baseline,
    EscalationParams,
    EscalationReport,
    Scoring,
    _assemble,
    _chunk_windows,
    _count_windows,
    _Fit,
    _measure,
    _Raw,
    _window_batches,
    check_input_rate,
    score_windows,
)
from gpuaudio.analysis.segments import (
    audible,
    floor_change,
    frame_pitch,
    level_over_loudest,
    segment_voice,
)
from gpuaudio.audio_io import StreamResampler
from gpuaudio.errors import InvalidAudioError, InvalidParameterError, StreamClosedError

if TYPE_CHECKING:
    from gpuaudio.service import AudioFeatureService

__all__ = ["EscalationMonitor", "LiveSegment", "LiveWindow", "SegmentEvent"]

_EPS = 1e-9  # the same tolerance as the offline segment rule
BAD_SAMPLES = f"NaN, inf, or magnitude over {check.MAX_PEAK:g}: far outside full scale"
"""The samples ``bad_samples="silence"`` replaces by silence, in words for messages."""


@dataclass(frozen=True)
class LiveSegment:
    """A live escalation segment as known at some moment (a snapshot)."""

    number: int
    """0-based count of live segments in this stream."""
    start_s: float
    """Start of its first flagged window."""
    end_s: float
    """End of its last flagged window so far."""
    peak_score: float
    peak_time_s: float
    """Centre of the window with the peak score."""
    n_windows: int
    """Flagged windows in it so far."""
    closed: bool

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class SegmentEvent:
    """A live segment opened or closed."""

    kind: Literal["open", "close"]
    segment: LiveSegment
    at_s: float
    """Stream time at which it was decided: the end of the window that decided it, or the end
    of the stream."""

    def line(self) -> str:
        """One human-readable line."""
        seg = self.segment
        if self.kind == "open":
            return (
                f"escalation {seg.number + 1} OPEN at {self.at_s:.1f} s: since {seg.start_s:.1f}"
                f" s, peak score {seg.peak_score:.1f}"
            )
        return (
            f"escalation {seg.number + 1} CLOSED at {self.at_s:.1f} s: {seg.start_s:.1f}-"
            f"{seg.end_s:.1f} s ({seg.duration_s:.1f} s), peak score {seg.peak_score:.1f} at "
            f"{seg.peak_time_s:.1f} s"
        )


@dataclass(frozen=True)
class LiveWindow:
    """One analysis window as the monitor saw it when it completed."""

    index: int
    start_s: float
    end_s: float
    f0_median_hz: float
    """NaN when no frame is voiced (as in the report)."""
    f0_variability_st: float
    voiced_fraction: float
    level_dbfs: float
    speech: bool
    """The voice-activity decision (as the offline analysis of the stream so far makes it)."""
    n_speech: int
    """Speech windows so far, this one included: the live baseline needs
    ``min_baseline_windows`` of them."""
    z_pitch: float | None
    z_level: float | None
    z_balance: float | None
    z_rate: float | None
    z_variability: float | None
    score: float | None
    """None while the live baseline is not established, or when the window holds no speech."""
    flagged: bool
    baseline: Baseline | None
    """The live baseline it was scored against (speech windows up to and including it)."""
    pitch_change_st: float | None = None
    """Its F0 against its voice's live baseline (semitones); None while it has no score."""
    level_change_db: float | None = None
    """Its level against its voice's live baseline (dB); None while it has no score."""
    events: tuple[SegmentEvent, ...] = ()
    """Segment events this window's completion decided."""
    voice: int = -1
    """The voice speaking (0, or 0/1 with two voices on the channel, as the analysis of the
    stream so far tells them apart); -1 without speech."""

    def line(self, min_baseline_windows: int) -> str:
        """One human-readable line (without its events)."""
        f0 = f"{self.f0_median_hz:6.1f} Hz" if math.isfinite(self.f0_median_hz) else "     - Hz"
        text = (
            f"{self.start_s:8.1f}-{self.end_s:8.1f} s  F0 {f0}  level {self.level_dbfs:6.1f} "
            f"dBFS  voiced {self.voiced_fraction:4.2f}  "
        )
        if self.score is not None:
            return text + f"score {self.score:5.2f}" + ("  FLAGGED" if self.flagged else "")
        if self.baseline is None:
            return text + f"score     -  (baseline: {self.n_speech}/{min_baseline_windows})"
        return text + "score     -  (no speech)"


@dataclass
class _LiveRun:
    """Flagged windows merged by the offline segment rule as they come."""

    windows: list[LiveWindow] = field(default_factory=list)
    opened: bool = False
    """The run is a live segment (it stays one until it closes)."""
    calm_after: bool = False
    """A calm speech window that breaks the run came after its last flagged window."""
    other_since: bool = False
    """The other voice spoke since the run's last flagged window."""
    across: bool = False
    """The run bridges the other voice's speech (`segments.merge_runs`)."""

    def add(self, window: LiveWindow) -> None:
        self.across = self.across or (bool(self.windows) and self.other_since)
        self.windows.append(window)
        self.calm_after = self.other_since = False

    def clear(self) -> None:
        self.windows = []
        self.opened = self.calm_after = self.other_since = self.across = False

    def over(self, next_start_s: float, params: EscalationParams) -> bool:
        """No window from `next_start_s` on could be merged into the run."""
        limit = params.max_gap_s if self.calm_after else max(params.max_gap_s, params.max_pause_s)
        return bool(self.windows) and next_start_s - self.windows[-1].end_s > limit + _EPS


class EscalationMonitor:
    """Causal, incremental escalation analysis of one audio stream.

    ``feed(block)`` with mono blocks of any length at the stream's rate `sr` returns the
    windows that block completed (`LiveWindow`, with live scores and segment events);
    ``finish()`` ends the stream and returns the offline `EscalationReport` of all of it,
    equal to `detect_escalation(service, whole_stream, sr, params)` (same windows, features,
    baseline, scores and segments; provenance counts one F0 call per feed that completed
    windows, and the timings differ). Not thread-safe: feed it from one thread.

    Args:
        service: the feature service that computes F0 (default: a new `AudioFeatureService`).
        params: analysis settings, as for the offline analysis.
        sr: sample rate of the stream; blocks are resampled to ``params.analysis_sr``.
        chunk_s: most audio (seconds) per batched F0 call when one block completes many
            windows (default: the config's ``memory.chunk_seconds``).
        bad_samples: ``"raise"`` (default): a block with NaN, inf or a sample beyond
            ±`MAX_PEAK` (100: not audio scaled to full scale) raises `InvalidAudioError` and
            changes nothing; ``"silence"``: such samples become 0, the stream goes on, and the
            report's warnings say how many, and where.
    """

    def __init__(
        self,
        service: AudioFeatureService | None = None,
        params: EscalationParams | None = None,
        *,
        sr: int,
        chunk_s: float | None = None,
        bad_samples: Literal["raise", "silence"] = "raise",
    ) -> None:
        if bad_samples not in ("raise", "silence"):
            raise InvalidParameterError(
                f"bad_samples must be 'raise' or 'silence', got {bad_samples!r}"
            )
        self.bad_samples = bad_samples
        self.silenced: list[tuple[float, int]] = []
        """Per accepted block with bad samples (NaN, inf or beyond ±100) made silence: (stream
        time in s of the first, count)."""
        if service is None:
            from gpuaudio.service import AudioFeatureService

            service = AudioFeatureService()
        self.service = service
        self.params = (params or EscalationParams()).validate()
        self.sr = check_input_rate(check.sample_rate(sr), "the stream")
        self._resampler = StreamResampler(self.sr, self.params.analysis_sr)
        self._window, self._hop = self.params.window_samples()
        self._chunk_windows = _chunk_windows(service, self.params, chunk_s)
        self._analysis = np.zeros(0, dtype=np.float32)  # from stream sample _next * hop
        self._next = 0  # index of the next window to complete
        self._blocks = 0
        self._parts: list[_Raw] = []
        self._measured: _Raw | None = None  # every window so far, contour left out
        self._pitch = np.zeros((0, 0))  # every window's frames (`frame_pitch`)
        self._scoring: Scoring | None = None  # of the windows so far
        self._fit: _Fit | None = None
        self._windows: list[LiveWindow] = []
        self._events: list[SegmentEvent] = []
        self._segments: list[LiveSegment] = []
        self._run = _LiveRun()  # flagged windows of any voice, broken by any calm speech
        self._voice_runs = (_LiveRun(), _LiveRun())  # one voice's, across the other's turns
        self._provenance: dict[str, Any] = {}
        self._timing = {
            "read_s": 0.0, "f0_s": 0.0, "level_s": 0.0, "spectral_s": 0.0, "speakers_s": 0.0
        }
        self._busy_s = 0.0
        self._ended = False
        self._flushed = False
        self._report: EscalationReport | None = None

    # -- state -----------------------------------------------------------------------------

    @property
    def windows(self) -> list[LiveWindow]:
        """Every window completed so far, in order (a copy)."""
        return list(self._windows)

    @property
    def events(self) -> list[SegmentEvent]:
        """Every segment event so far, in order, the close at the end of the stream included."""
        return list(self._events)

    @property
    def segments(self) -> list[LiveSegment]:
        """Live segments so far: the closed ones, then the open one (if any)."""
        current = self.open_segment
        return self._segments + ([current] if current else [])

    @property
    def open_segment(self) -> LiveSegment | None:
        """The segment in progress, or None."""
        run = self._open_run()
        return self._snapshot(run, closed=False) if run else None

    def _open_run(self) -> _LiveRun | None:
        return next((r for r in (self._run, *self._voice_runs) if r.opened), None)

    @property
    def baseline(self) -> Baseline | None:
        """The live baseline after the last completed window (None until established)."""
        return self._fit.baseline() if self._fit else None

    @property
    def fed_s(self) -> float:
        """Seconds of audio fed so far."""
        return self._resampler.received / self.sr

    @property
    def lookahead_s(self) -> float:
        """Most audio that can be held back by the resampler's filter (0 when `sr` is the
        analysis rate): a window is complete this long after its last sample was fed."""
        return self._resampler.lookahead / self.sr

    @property
    def ended(self) -> bool:
        """True once `flush` or `finish` has been called: feeding raises."""
        return self._ended

    # -- input -----------------------------------------------------------------------------

    def feed(self, samples: Any) -> list[LiveWindow]:
        """Add a block of mono samples; return the windows it completed, oldest first.

        `samples`: 1-D float (cast to float32) or integer PCM (scaled as
        ``librosa.util.buf_to_float``), at least one sample, all finite and of magnitude at
        most 100 (else see `bad_samples`). The block is copied, never modified. Raises
        `InvalidAudioError` (the stream's state, `silenced` included, is then unchanged) or
        `StreamClosedError` after `flush`/`finish`. If the F0 backend fails, its error
        propagates; the windows measured before it are in `windows`, and the next `feed` or
        `flush` measures the rest.
        """
        if self._ended:
            raise StreamClosedError(
                "this stream has ended (flush() or finish() was called); start a new "
                "EscalationMonitor for more audio"
            )
        block = self._validate(samples)
        started = time.perf_counter()
        self._blocks += 1
        self._resampler.push(block)
        needed = (self._next * self._hop + self._window) - self._resampler.produced
        if self._resampler.ready() < needed:
            self._busy_s += time.perf_counter() - started
            return []  # nothing can complete yet: no resampling, no copy
        return self._advance(started)

    def flush(self) -> list[LiveWindow]:
        """End the stream: return the windows its last samples completed (the resampler holds
        back up to `lookahead_s`) and close the open live segment. Feeding then raises."""
        if not self._ended:
            self._ended = True
            self._resampler.close()
        if self._flushed:
            return []
        done = self._advance(time.perf_counter())  # on a backend error, flush() again
        run = self._open_run()
        if run is not None:
            self._close(run, self._resampler.received / self.sr)
        self._run, self._voice_runs = _LiveRun(), (_LiveRun(), _LiveRun())
        self._flushed = True
        return done

    def finish(self) -> EscalationReport:
        """`flush`, then the offline report of the whole stream (computed once).

        Raises `InvalidAudioError` when the stream is shorter than one window, as the
        offline analysis does.
        """
        self.flush()
        if self._report is None:
            n_samples = self._resampler.produced
            _count_windows(n_samples, self.params)
            provenance = {"f0": dict(self._provenance)}
            self._report = _assemble(
                self.service, self._parts, n_samples, self.params, provenance,
                dict(self._timing), self._busy_s,
            )
            if self.silenced:
                count = sum(n for _, n in self.silenced)
                places = ", ".join(f"{t:.2f} s" for t, _ in self.silenced[:5])
                extra = len(self.silenced) - 5
                more = f" and {extra} more blocks" if extra > 0 else ""
                self._report.warnings.append(
                    f"{count} bad sample(s) ({BAD_SAMPLES}) in the stream were replaced by "
                    f"silence, in blocks at {places}{more}"
                )
        return self._report

    def _validate(self, samples: Any) -> np.ndarray:
        name = f"block {self._blocks} (from stream sample {self._resampler.received})"
        try:
            shape = np.shape(samples)
        except ValueError:  # a ragged sequence
            raise InvalidAudioError(f"{name} is not an array of samples") from None
        if len(shape) != 1:
            raise InvalidAudioError(
                f"{name} has shape {shape}; feed mono blocks of shape (samples,): downmix "
                "first, e.g. block.mean(axis=1) for (samples, channels), or start one monitor "
                "per channel"
            )
        silenced = None
        if self.bad_samples == "silence":
            samples, silenced = self._silence_bad(samples)
        block = check.audio(samples, name=name)
        check.full_scale(block, where=name, sr=self.sr, offset=self._resampler.received)
        if silenced is not None:  # only once the block is accepted: a refused one changes nothing
            self.silenced.append(silenced)
        return block

    def _silence_bad(self, samples: Any) -> tuple[Any, tuple[float, int] | None]:
        """`samples` with its bad ones (NaN, inf or beyond ±`MAX_PEAK`) made 0, and (stream
        time in s of the first, count) of them; None when there are none."""
        array = np.asarray(samples)
        if array.dtype.kind != "f":  # integer PCM is in range; other dtypes are refused
            return samples, None
        bad = ~(np.abs(array) <= check.MAX_PEAK)  # NaN compares False
        if not bad.any():
            return samples, None
        first = int(np.flatnonzero(bad)[0])
        return np.where(bad, 0, array), (
            (self._resampler.received + first) / self.sr, int(np.count_nonzero(bad))
        )

    # -- the pipeline ----------------------------------------------------------------------

    def _advance(self, started: float) -> list[LiveWindow]:
        """Resample what is final, measure every window that is complete, score it live."""
        resampling = time.perf_counter()
        fresh = self._resampler.pull()
        self._timing["read_s"] += time.perf_counter() - resampling
        self._analysis = np.concatenate([self._analysis, fresh])
        available = self._analysis.shape[0]
        count = 0 if available < self._window else 1 + (available - self._window) // self._hop
        done: list[LiveWindow] = []
        batches = _window_batches(
            [self._analysis], self._window, self._hop, count, self._chunk_windows, self._timing
        )
        for _, batch in batches:
            raw = _measure(self.service, batch, self._next, self.params, self._timing)
            self._provenance = self.service.provenance["f0"].as_dict()
            self._parts.append(raw)
            done.extend(self._score(raw))
            # Consumed batch by batch: after a backend error, what was measured stays, and the
            # next feed or flush measures the rest.
            self._next += batch.shape[0]
            self._analysis = self._analysis[batch.shape[0] * self._hop :]
        self._busy_s += time.perf_counter() - started
        return done

    def _score(self, raw: _Raw) -> list[LiveWindow]:
        """Live scores of a batch's windows: each is scored as the offline analysis of the
        stream up to and including it would score it."""
        rows = raw.head(raw.f0_median_hz.shape[0])
        offset = 0 if self._measured is None else self._measured.f0_median_hz.shape[0]
        self._measured = _Raw.concatenate([*([self._measured] if self._measured else []), rows])
        pitch = frame_pitch(raw.contour_f0, raw.f0_median_hz.shape[0])
        self._pitch = np.concatenate([self._pitch, pitch]) if self._pitch.size else pitch
        sr = self.params.analysis_sr
        window_s, hop_s = self._window / sr, self._hop / sr
        done = []
        for row in range(raw.f0_median_hz.shape[0]):
            k = offset + row
            scoring = score_windows(self._measured.head(k + 1), self.params)
            self._scoring, self._fit = scoring, scoring.fit
            speech, z, score, flagged = scoring.speech, scoring.z, scoring.score, scoring.flagged
            scored = bool(np.isfinite(score[k]))
            own = scoring.fits[scoring.voice[k]] if scored else None
            voice_baseline = own.baseline() if own is not None else None
            window = LiveWindow(
                index=k,
                start_s=k * hop_s,
                end_s=k * hop_s + window_s,
                f0_median_hz=float(raw.f0_median_hz[row]),
                f0_variability_st=float(raw.f0_variability_st[row]),
                voiced_fraction=float(raw.voiced_fraction[row]),
                level_dbfs=float(raw.level_dbfs[row]),
                speech=bool(speech[k]),
                n_speech=int(speech.sum()),
                z_pitch=float(z[0][k]) if scored else None,
                z_level=float(z[1][k]) if scored else None,
                z_balance=float(z[2][k]) if scored else None,
                z_rate=float(z[3][k]) if scored else None,
                z_variability=float(z[4][k]) if scored else None,
                score=float(score[k]) if scored else None,
                flagged=bool(flagged[k]),
                baseline=self._fit.baseline() if self._fit else None,
                pitch_change_st=None if voice_baseline is None else 12 * math.log2(
                    float(raw.f0_median_hz[row]) / voice_baseline.f0_median_hz
                ),
                level_change_db=None if voice_baseline is None
                else float(raw.level_dbfs[row]) - voice_baseline.level_dbfs,
                voice=int(scoring.voice[k]),
            )
            window = self._segment(window, scoring.voices_st is not None)
            self._windows.append(window)
            done.append(window)
        return done

    # -- live segments ---------------------------------------------------------------------

    def _segment(self, window: LiveWindow, two_voices: bool) -> LiveWindow:
        """Apply the offline segment rule to the live flags; return `window` with its events.

        The run of every voice's flagged windows (any calm speech breaks it) comes first, as
        in the offline rule's first pass; with two voices on the channel, each voice's flagged
        windows outside an opened run also run on their own, the other voice's speech counted
        as a pause (the second pass). One live segment is open at a time: a voice's run opens
        only when none is, after the last closed one, and a run of every voice that opens
        while a voice's segment is open takes that segment over (no new event)."""
        before = len(self._events)
        joint = self._run
        if window.flagged:
            joint.add(window)
        elif window.speech:
            joint.calm_after = True
        if window.flagged and not joint.opened and self._opens(joint):  # it only grows on flags
            held = next((run for run in self._voice_runs if run.opened), None)
            if held is None:
                self._open(joint, window.end_s)
            else:
                merged = {w.index: w for w in held.windows + joint.windows}
                joint.windows = [merged[index] for index in sorted(merged)]
            joint.opened = True
            for run in self._voice_runs:
                run.clear()  # their windows are the open segment's
        if two_voices and not joint.opened:
            self._voice_turn(window)
        next_start = window.start_s + self._hop / self.params.analysis_sr
        for run in (joint, *self._voice_runs):
            if run.over(next_start, self.params):
                if run.opened:
                    self._close(run, window.end_s)
                run.clear()
        events = tuple(self._events[before:])
        if not events:
            return window
        return replace(window, events=events)

    def _voice_turn(self, window: LiveWindow) -> None:
        """Add `window` to its voice's own run (the other voice's speech is a pause there), and
        open that run when it passes the offline rule and no segment is open."""
        for voice, run in enumerate(self._voice_runs):
            if window.voice != voice:
                run.other_since = run.other_since or window.speech
            elif window.flagged:
                run.add(window)
            elif window.speech:
                run.calm_after = True
        last_end = self._segments[-1].end_s if self._segments else -math.inf
        for run in self._voice_runs:
            if (
                self._open_run() is None
                and run.windows
                and run.windows[0].start_s >= last_end - _EPS
                and self._opens(run)
            ):
                self._open(run, window.end_s)

    def _opens(self, run: _LiveRun) -> bool:
        """The offline rule (`segments._heard`) on the run so far: long enough, and a rise a
        listener hears (the median of its windows' changes, each against its voice's live
        baseline; a short run of modest score must rise more, `EscalationParams.short_segment_s`;
        so must a run across the other voice's turns, which also needs flagged windows over
        half of `min_duration_s`)."""
        if not run.windows:
            return False
        duration_s = run.windows[-1].end_s - run.windows[0].start_s
        if duration_s < self.params.min_duration_s - _EPS:
            return False
        if run.across and len(run.windows) * self.params.hop < self.params.min_duration_s / 2:
            return False
        pitch = [w.pitch_change_st for w in run.windows if w.pitch_change_st is not None]
        level = [w.level_change_db for w in run.windows if w.level_change_db is not None]
        scores = [w.score for w in run.windows if w.score is not None]
        baselines = self._scoring.baselines() if self._scoring is not None else []
        return audible(
            float(np.median(pitch)) if pitch else math.nan,
            level_over_loudest(
                float(np.median(level)) if level else math.nan, baselines, self._run_voice(run)
            ),
            self.params,
            duration_s=duration_s,
            mean_score=float(np.mean(scores)) if scores else math.nan,
            floor_change_st=self._floor_change(run),
            across_turns=run.across,
        )

    def _floor_change(self, run: _LiveRun) -> float:
        """How far the run lifts its voice's floor over that voice's calm speech so far
        (`segments.floor_change`; the voice of most of its windows, as offline)."""
        scoring = self._scoring
        if scoring is None:
            return math.nan
        return floor_change(
            self._pitch[: scoring.speech.shape[0]], scoring.speech, scoring.voice,
            scoring.flagged, self._run_voice(run), run.windows[0].index, run.windows[-1].index,
        )

    def _run_voice(self, run: _LiveRun) -> int:
        """The run's voice, as offline (`segments.segment_voice`): of most of its windows
        among the voices with a live baseline."""
        baselines = self._scoring.baselines() if self._scoring is not None else []
        return segment_voice(np.array([w.voice for w in run.windows]), baselines)

    def _snapshot(self, run: _LiveRun, closed: bool) -> LiveSegment:
        scores = [w.score if w.score is not None else -math.inf for w in run.windows]
        peak = run.windows[int(np.argmax(scores))]
        return LiveSegment(
            number=len(self._segments),
            start_s=run.windows[0].start_s,
            end_s=run.windows[-1].end_s,
            peak_score=float(max(scores)),
            peak_time_s=(peak.start_s + peak.end_s) / 2,
            n_windows=len(run.windows),
            closed=closed,
        )

    def _open(self, run: _LiveRun, at_s: float) -> None:
        run.opened = True
        self._events.append(SegmentEvent("open", self._snapshot(run, closed=False), at_s))

    def _close(self, run: _LiveRun, at_s: float) -> None:
        segment = self._snapshot(run, closed=True)
        self._segments.append(segment)
        self._events.append(SegmentEvent("close", segment, at_s))
