"""Real-time streaming mode (REQ-O-003): `EscalationMonitor`, `StreamResampler`, `PcmReader`
and ``gpuaudio monitor``.

The key property: whatever the block sizes, the windows, their measurements and the final
report equal the offline analysis of the whole stream bit for bit, while the live scores are
causal (those of the offline analysis of the stream cut after each window).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import time
import types
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuaudio.cli.monitor
from gpuaudio import (
    AudioFeatureService,
    BackendError,
    EscalationMonitor,
    InvalidAudioError,
    InvalidParameterError,
    StreamClosedError,
)
from gpuaudio.analysis.escalation import EscalationParams, detect_escalation
from gpuaudio.analysis.report import REPORT_JSON, WINDOWS_CSV
from gpuaudio.audio_io import PcmReader, StreamResampler, resample
from gpuaudio.cli import main
from gpuaudio.device import CPU_ONLY
from gpuaudio.evaluation.synth import ESCALATED, synthesize_speech

ESCALATION = (14.0, 22.0)  # the escalated phrases of `_call`, to within a syllable


def _call(sr: int) -> np.ndarray:
    """28 s: 14 s calm, 8 s escalated (+5 st, +8 dB), 6 s calm."""
    parts = [
        synthesize_speech(14.0, sr, seed=1)[0],
        synthesize_speech(8.0, sr, seed=2, style=ESCALATED)[0],
        synthesize_speech(6.0, sr, seed=3)[0],
    ]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def service():
    return AudioFeatureService({"backends": {"f0": "fastpyin"}}, device_info=CPU_ONLY)


@pytest.fixture(scope="module")
def calls():
    """sr -> (the call at sr, its offline report)."""
    service = AudioFeatureService({"backends": {"f0": "fastpyin"}}, device_info=CPU_ONLY)
    out = {}
    for sr in (16000, 22050, 8000):
        y = _call(sr)
        out[sr] = (y, detect_escalation(service, y, sr))
    return out


def _stream(monitor: EscalationMonitor, y: np.ndarray, sizes: list[int]) -> list:
    """Feed `y` in blocks of `sizes` (cycled); return the live windows, flush included."""
    live, start, i = [], 0, 0
    while start < y.shape[0]:
        size = sizes[i % len(sizes)]
        live += monitor.feed(y[start : start + size])
        start, i = start + size, i + 1
    return live + monitor.flush()


def _assert_same_report(streamed, offline):
    for name, column in offline.windows.columns().items():
        np.testing.assert_array_equal(getattr(streamed.windows, name), column, err_msg=name)
    np.testing.assert_array_equal(streamed.contour.times_s, offline.contour.times_s)
    np.testing.assert_array_equal(streamed.contour.f0_hz, offline.contour.f0_hz)
    assert streamed.baseline == offline.baseline
    assert streamed.voices == offline.voices
    assert streamed.segments == offline.segments
    assert streamed.duration_s == offline.duration_s
    assert streamed.params == offline.params
    assert streamed.warnings == offline.warnings
    assert streamed.provenance["f0"]["backend"] == offline.provenance["f0"]["backend"]
    assert streamed.provenance["level"] == offline.provenance["level"]


# -- the stream equals the offline analysis ------------------------------------------------

_SIZES = st.one_of(st.integers(1, 16), st.integers(17, 5000), st.integers(5001, 60000))


@settings(max_examples=8, deadline=None)
@given(
    sr=st.sampled_from([16000, 22050, 8000]),
    # At least one block of 1000+ samples per cycle: all-tiny blocks are the next test's.
    sizes=st.tuples(st.lists(_SIZES, max_size=5), st.integers(1000, 60000)).map(
        lambda drawn: [*drawn[0], drawn[1]]
    ),
)
def test_stream_equals_offline_whatever_the_blocks(service, calls, sr, sizes):
    y, offline = calls[sr]
    monitor = EscalationMonitor(service, sr=sr)
    live = _stream(monitor, y, sizes)
    assert [w.index for w in live] == list(range(len(offline.windows)))
    _assert_same_report(monitor.finish(), offline)
    np.testing.assert_array_equal([w.level_dbfs for w in live], offline.windows.level_dbfs)
    np.testing.assert_array_equal([w.start_s for w in live], offline.windows.start_s)


def test_tiny_blocks_equal_offline(service, calls):
    y, offline = calls[22050]
    monitor = EscalationMonitor(service, sr=22050)
    sizes = list(np.random.default_rng(0).integers(1, 8, 997))
    _stream(monitor, y, sizes)
    _assert_same_report(monitor.finish(), offline)


def test_one_block_longer_than_everything_and_overlapping_windows(service, calls):
    y, _ = calls[22050]
    params = EscalationParams(window_s=2.0, hop_s=0.5)
    offline = detect_escalation(service, y, 22050, params)
    monitor = EscalationMonitor(service, params, sr=22050)
    live = _stream(monitor, y, [y.shape[0] + 1000])
    assert len(live) == len(offline.windows) == 1 + (28 - 2) * 2
    _assert_same_report(monitor.finish(), offline)


def test_int16_and_float64_blocks_are_read_as_offline(service, calls):
    y, _ = calls[16000]
    pcm = np.clip(np.round(y * 32768), -32768, 32767).astype(np.int16)
    monitor = EscalationMonitor(service, sr=16000)
    _stream(monitor, pcm, [4000, 123])
    _assert_same_report(monitor.finish(), detect_escalation(service, pcm, 16000))
    monitor = EscalationMonitor(service, sr=16000)
    _stream(monitor, y.astype(np.float64), [7777])
    _assert_same_report(monitor.finish(), calls[16000][1])


def test_one_batched_f0_call_per_feed(service, calls, monkeypatch):
    y, _ = calls[16000]
    batches = []
    original = service.extract_f0

    def spy(batch, *args, **kwargs):
        batches.append(batch.shape)
        return original(batch, *args, **kwargs)

    monkeypatch.setattr(service, "extract_f0", spy)
    monitor = EscalationMonitor(service, sr=16000)
    assert monitor.feed(y[: 5 * 16000 + 10]) and batches == [(5, 16000)]  # REQ-E-005
    assert monitor.feed(y[5 * 16000 + 10 : 5 * 16000 + 100]) == [] and len(batches) == 1
    chunked = EscalationMonitor(service, sr=16000, chunk_s=2.0)
    batches.clear()
    assert len(chunked.feed(y[: 5 * 16000])) == 5
    assert batches == [(2, 16000), (2, 16000), (1, 16000)]  # memory.chunk_seconds, as offline
    assert chunked.finish().provenance["f0"]["calls"] == 3


# -- the live view -------------------------------------------------------------------------


def test_live_score_of_a_window_is_the_offline_score_of_the_stream_cut_after_it(service, calls):
    y, _ = calls[16000]
    live = _stream(EscalationMonitor(service, sr=16000), y, [16000 * 3])
    for k in (9, 10, 13, 15, 21, 27):
        cut = detect_escalation(service, y[: (k + 1) * 16000], 16000)
        score = np.nan if live[k].score is None else live[k].score
        np.testing.assert_equal(score, cut.windows.score[k])  # bit for bit (NaN: no score)
        assert live[k].baseline == cut.baseline
        assert live[k].flagged == cut.windows.flagged[k]
    assert live[27].baseline == calls[16000][1].baseline  # the last one is the report's


def test_live_scores_are_causal(service, calls):
    y, _ = calls[22050]
    other = y.copy()
    other[15 * 22050 :] = np.random.default_rng(5).normal(0, 0.3, other.shape[0] - 15 * 22050)
    first = _stream(EscalationMonitor(service, sr=22050), y, [3000])
    second = _stream(EscalationMonitor(service, sr=22050), other, [3000])
    # Windows ending before the audio differs (less the resampler's reach) are the same...
    assert [repr(w) for w in first[:14]] == [repr(w) for w in second[:14]]
    # ...and the later ones do differ: the comparison could fail.
    assert all(repr(a) != repr(b) for a, b in zip(first[16:], second[16:], strict=True))


def test_baseline_is_pending_until_enough_speech(service, calls):
    y, _ = calls[16000]
    live = _stream(EscalationMonitor(service, sr=16000), y, [16000])
    pending = [w for w in live if w.n_speech < 10]
    assert pending and all(w.score is None and w.baseline is None for w in pending)
    assert not any(w.flagged for w in pending)
    established = [w for w in live if w.n_speech >= 10]
    assert all(w.baseline is not None for w in established)
    assert all((w.score is None) == (not w.speech) for w in established)
    assert live[2].line(10).endswith("score     -  (baseline: 3/10)")


def test_live_escalation_is_flagged_and_segmented_with_bounded_delay(service, calls):
    y, offline = calls[16000]
    monitor = EscalationMonitor(service, sr=16000)
    live = _stream(monitor, y, [1600])
    params = monitor.params
    flagged = [w for w in live if w.flagged]
    start, end = ESCALATION
    # At the live edge a cue's context is its past half (context_s / 2): live flags may trail
    # the escalation by that much; the offline report (finish) has the whole context.
    trail = params.context_s / 2
    assert flagged and all(start - 1 <= w.start_s and w.end_s <= end + trail + 1 for w in flagged)
    events = monitor.events
    assert [e.kind for e in events] == ["open", "close"]
    opened, closed = events
    # Opened once flagged windows span min_duration_s, closed once max_gap_s has passed.
    assert opened.at_s <= start + params.min_duration_s + params.window_s
    assert opened.segment.start_s == pytest.approx(start, abs=1.0) and not opened.segment.closed
    assert closed.segment.closed and end - 1 <= closed.segment.end_s <= end + trail + 1
    # Closed once the last window that could merge (max_gap_s after the segment) is in.
    assert closed.at_s == closed.segment.end_s + params.max_gap_s + params.window_s
    # The events ride on the windows whose completion decided them.
    assert [e for w in live for e in w.events] == events
    assert live[int(opened.at_s) - 1].events == (opened,)
    assert monitor.open_segment is None and monitor.segments == [closed.segment]
    (segment,) = offline.segments
    assert segment.start_s == pytest.approx(start, abs=1.0)
    assert segment.end_s == pytest.approx(end, abs=1.0)
    assert closed.segment.start_s - 1 <= segment.start_s and segment.end_s <= closed.segment.end_s


def test_a_segment_open_at_the_end_of_the_stream_is_closed_by_flush(service, calls):
    y, _ = calls[16000]
    monitor = EscalationMonitor(service, sr=16000)
    fed = 0
    while monitor.open_segment is None and fed < y.shape[0]:  # up to the live segment's opening
        monitor.feed(y[fed : fed + 16000])
        fed += 16000
    assert monitor.open_segment is not None and not monitor.open_segment.closed
    assert monitor.events[-1].kind == "open" and fed < y.shape[0]
    monitor.flush()
    assert monitor.open_segment is None
    last = monitor.events[-1]
    assert last.kind == "close" and last.at_s == fed / 16000 and last.segment.closed


def test_a_pause_inside_a_live_segment_keeps_it_open(service):
    """Escalated speech, 5 s of silence, escalated speech: the live run stays open across the
    pause (no calm speech in it, `max_pause_s`), one segment as offline; with
    `max_pause_s=0` the pause closes it."""
    sr = 16000
    y = np.concatenate([
        synthesize_speech(20.0, sr, seed=1)[0],
        synthesize_speech(10.0, sr, seed=2, style=ESCALATED)[0],
        np.zeros(5 * sr, np.float32),
        synthesize_speech(10.0, sr, seed=4, style=ESCALATED)[0],
        synthesize_speech(12.0, sr, seed=3)[0],
    ])  # fmt: skip
    offline = detect_escalation(service, y, sr)
    assert len(offline.segments) == 1 and offline.segments[0].duration_s > 18
    bridged = EscalationMonitor(service, sr=sr)
    _stream(bridged, y, [sr])
    assert [e.kind for e in bridged.events] == ["open", "close"]
    (live,), (whole,) = bridged.segments, offline.segments
    trail = bridged.params.context_s / 2  # live flags may trail by the missing future context
    assert whole.start_s - 1 <= live.start_s <= whole.start_s + trail
    assert live.end_s >= whole.end_s - 1 and live.end_s - live.start_s > 13
    split = EscalationMonitor(service, sr=sr, params=EscalationParams(max_pause_s=0.0))
    _stream(split, y, [sr])
    assert len(split.segments) == 2


def test_live_segments_follow_min_pitch_rise(fake_service, tones):
    """The offline rule live: asked for a 2-st rise, the flagged windows of a 14-s, +1.6 st,
    +4 dB rise of a steady voice open no live segment (nor an offline one); by default they do."""
    sr = 16000
    y = tones(sr, 60, [(30, 44)], raise_st=1.6, gain_db=4.0)
    floor_off = EscalationParams(floor_segment_s=0)  # the floor rule would drop it as well
    audible = EscalationMonitor(fake_service, sr=sr, params=replace(floor_off, min_pitch_rise_st=2))
    live = _stream(audible, y, [sr])
    flagged = [w for w in live if w.flagged]
    assert len(flagged) >= 8 and audible.events == []
    assert 1.0 <= np.median([w.pitch_change_st for w in flagged]) <= 2.0
    assert np.median([w.level_change_db for w in flagged]) < 6
    assert audible.finish().segments == []
    default = EscalationMonitor(fake_service, sr=sr, params=floor_off)
    _stream(default, y, [sr])
    assert [e.kind for e in default.events] == ["open", "close"]
    assert len(default.finish().segments) == 1


def test_live_segments_follow_the_floor_rule(fake_service, tones):
    """A lively 14-s phrase (peaks 4 st up, the voice's floor 1.6 st): flagged live, but no
    live segment opens, as offline; the same seconds with the whole register up open one."""
    sr = 16000
    lively = EscalationMonitor(fake_service, sr=sr)
    live = _stream(lively, tones(sr, 60, [(30, 44)], raise_st=4.0, gain_db=0.0, lively=True), [sr])
    assert sum(w.flagged for w in live) >= 10 and lively.events == []
    assert lively.finish().segments == []
    raised = EscalationMonitor(fake_service, sr=sr)
    _stream(raised, tones(sr, 60, [(30, 44)], raise_st=4.0, gain_db=0.0), [sr])
    assert [e.kind for e in raised.events] == ["open", "close"]
    (segment,) = raised.finish().segments
    assert segment.floor_change_st > 3


def test_live_segments_follow_the_short_segment_rule(fake_service, tones):
    """The same small rise over 10 s: short and weak, so no live segment and no offline one
    by default; with the rule off (`short_segment_s=0`) both open one."""
    sr = 16000
    y = tones(sr, 60, [(30, 40)], raise_st=1.6, gain_db=4.0)
    default = EscalationMonitor(fake_service, sr=sr)
    live = _stream(default, y, [sr])
    assert sum(w.flagged for w in live) >= 5 and default.events == []
    assert default.finish().segments == []
    off = EscalationMonitor(
        fake_service, sr=sr, params=EscalationParams(short_segment_s=0, floor_segment_s=0)
    )
    _stream(off, y, [sr])
    assert [e.kind for e in off.events] == ["open", "close"]
    assert len(off.finish().segments) == 1


def test_a_voice_escalating_in_quick_turns_opens_a_live_segment(fake_service, quick_turns):
    """The offline rule's second pass live: the high voice's raised 3-s turns, broken apart by
    the low voice's calm ones, open one live segment over the high voice's escalation (57-90
    s), as the final report has one; a modest rise across the turns (+1.6 st, +4 dB) opens
    none, as offline. Live windows name their voice."""
    sr = 16000
    monitor = EscalationMonitor(fake_service, sr=sr)
    live = _stream(monitor, quick_turns(sr, 5.0, 0.0), [sr])
    assert {w.voice for w in live if w.speech} == {0, 1}
    assert [e.kind for e in monitor.events] == ["open", "close"]
    (segment,) = monitor.segments
    # Live, each window's cues are medians of the seconds so far: the flags trail by a few.
    assert 55 <= segment.start_s <= 62 and 85 <= segment.end_s <= 97 and segment.closed
    (offline,) = monitor.finish().segments
    assert abs(offline.start_s - segment.start_s) <= 3 and abs(offline.end_s - segment.end_s) <= 6
    modest = EscalationMonitor(fake_service, sr=sr)
    live = _stream(modest, quick_turns(sr, 1.6, 4.0), [sr])
    assert sum(w.flagged for w in live) >= 8 and modest.events == []
    assert modest.finish().segments == []


# -- input checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (np.array([0.1, np.nan, 0.2], dtype=np.float32), "non-finite"),
        (np.array([0.1, np.inf], dtype=np.float64), "non-finite"),
        (np.array([0.1, 0.2, 3.2e4], dtype=np.float32), r"3\.2e\+04 at 1\.250 s.*full scale"),
        (np.zeros(0, dtype=np.float32), "empty"),
        (np.zeros((2, 400), dtype=np.float32), "mono"),
        (np.zeros((400, 2), dtype=np.float32), "mono"),
        (np.float32(0.5), "mono"),
        (np.zeros(10, dtype=np.complex64), "dtype"),
        (np.zeros(10, dtype=bool), "dtype"),
        (np.array(["a", "b"]), "dtype"),
        ([[0.1], [0.1, 0.2]], "not an array"),
    ],
)
def test_bad_blocks_raise_and_leave_the_stream_as_it_was(service, calls, block, message):
    y, offline = calls[16000]
    monitor = EscalationMonitor(service, sr=16000)
    monitor.feed(y[:20000])
    with pytest.raises(InvalidAudioError, match=message) as error:
        monitor.feed(block)
    assert "block 1 (from stream sample 20000)" in str(error.value)
    monitor.feed(y[20000:])
    _assert_same_report(monitor.finish(), offline)


def test_blocks_are_neither_modified_nor_kept(service, calls):
    y, offline = calls[22050]
    monitor = EscalationMonitor(service, sr=22050)
    reused = np.empty(3000, dtype=np.float32)  # a capture loop's buffer, reused per block
    for start in range(0, y.shape[0], 3000):
        block = y[start : start + 3000]
        reused[: block.shape[0]] = block
        view = reused[: block.shape[0]]
        before = view.copy()
        monitor.feed(view)
        np.testing.assert_array_equal(view, before)
    reused[:] = np.nan
    _assert_same_report(monitor.finish(), offline)


def test_a_backend_error_loses_nothing(service, calls, monkeypatch):
    y, offline = calls[16000]
    original, seen = service.extract_f0, []

    def flaky(batch, *args, **kwargs):
        seen.append(batch.shape[0])
        if len(seen) == 2:  # the second batch of the first feed
            raise BackendError("the GPU fell off the bus")
        return original(batch, *args, **kwargs)

    monkeypatch.setattr(service, "extract_f0", flaky)
    monitor = EscalationMonitor(service, sr=16000, chunk_s=4.0)
    with pytest.raises(BackendError, match="bus"):
        monitor.feed(y[: 10 * 16000])
    assert seen == [4, 4] and [w.index for w in monitor.windows] == [0, 1, 2, 3]
    live = monitor.feed(y[10 * 16000 : 10 * 16000 + 5])  # measures windows 4..9 again
    assert [w.index for w in live] == list(range(4, 10))
    monitor.feed(y[10 * 16000 + 5 :])
    _assert_same_report(monitor.finish(), offline)


def test_feeding_after_the_end_raises(service, calls):
    y, _ = calls[16000]
    monitor = EscalationMonitor(service, sr=16000)
    monitor.feed(y)
    assert monitor.finish() is monitor.finish()  # computed once
    with pytest.raises(StreamClosedError, match="ended"):
        monitor.feed(y[:100])
    flushed = EscalationMonitor(service, sr=16000)
    flushed.feed(y[:100])
    flushed.flush()
    assert flushed.ended and flushed.flush() == []
    with pytest.raises(StreamClosedError):
        flushed.feed(y[:100])


def test_too_short_stream_and_bad_settings(service):
    monitor = EscalationMonitor(service, sr=16000)
    monitor.feed(np.zeros(8000, dtype=np.float32))
    with pytest.raises(InvalidAudioError, match="shorter than one analysis window"):
        monitor.finish()
    with pytest.raises(InvalidAudioError, match="shorter than one analysis window"):
        EscalationMonitor(service, sr=16000).finish()  # nothing fed at all
    with pytest.raises(InvalidParameterError, match="sample rate"):
        EscalationMonitor(service, sr=0)
    with pytest.raises(InvalidParameterError, match="window_s"):
        EscalationMonitor(service, EscalationParams(window_s=0.01), sr=16000)


# -- the building blocks -------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    sr_in=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
    sizes=st.lists(st.one_of(st.integers(1, 50), st.integers(51, 9000)), min_size=1, max_size=8),
    pulls=st.lists(st.booleans(), min_size=1, max_size=8),
)
def test_stream_resampler_equals_resampling_the_whole(sr_in, sizes, pulls):
    x = (0.3 * np.random.default_rng(sr_in).standard_normal(int(1.3 * sr_in))).astype(np.float32)
    resampler, out, start, i = StreamResampler(sr_in, 16000), [], 0, 0
    while start < x.shape[0]:
        resampler.push(x[start : start + sizes[i % len(sizes)]])
        start, i = start + sizes[i % len(sizes)], i + 1
        if pulls[i % len(pulls)]:
            ready = resampler.ready()
            out.append(resampler.pull())
            assert out[-1].shape == (ready,)
            held_back = resampler.received - resampler.produced * sr_in / 16000
            assert held_back <= resampler.lookahead
    resampler.close()
    out.append(resampler.pull())
    np.testing.assert_array_equal(np.concatenate(out), resample(x, sr_in, 16000))


def test_pcm_reader_formats_channels_and_stray_bytes():
    rng = np.random.default_rng(0)
    pcm = rng.integers(-32768, 32767, (1000, 2), dtype=np.int16)
    raw = pcm.astype("<i2").tobytes() + b"\x01"
    reader = PcmReader(io.BytesIO(raw), "s16le", channels=2, channel=1, block_frames=7)
    got = np.concatenate(list(reader))
    np.testing.assert_array_equal(got, pcm[:, 1].astype(np.float32) / 32768)
    assert reader.frames == 1000 and reader.stray_bytes == 1
    assert reader.sha256 == hashlib.sha256(raw).hexdigest()
    floats = rng.normal(0, 0.1, (500, 2)).astype("<f4")
    mixed = np.concatenate(list(PcmReader(io.BytesIO(floats.tobytes()), "f32le", channels=2)))
    np.testing.assert_array_equal(mixed, floats.mean(axis=1, dtype=np.float64).astype(np.float32))
    with pytest.raises(InvalidParameterError, match="channel 2"):
        PcmReader(io.BytesIO(raw), "s16le", channels=2, channel=2)


# -- gpuaudio monitor ----------------------------------------------------------------------


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No gpuaudio.toml or GPUAUDIO_* from the developer's environment."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("GPUAUDIO_")]:
        monkeypatch.delenv(name)
    return tmp_path


class _Stdin:
    """A stand-in for sys.stdin whose binary buffer holds `data`; `on_read(n)` runs per read."""

    def __init__(self, data: bytes, on_read=None):
        self.buffer = self
        self._data = io.BytesIO(data)
        self._reads = 0
        self._on_read = on_read

    def read1(self, size: int) -> bytes:
        self._reads += 1
        if self._on_read:
            self._on_read(self._reads)
        return self._data.read(size)


FAST = ["--backend", "f0=fastpyin", "--device", "cpu"]


def test_monitor_reads_raw_pcm_from_stdin(isolated, calls, service, capsys, monkeypatch):
    y, _ = calls[16000]
    pcm = np.clip(np.round(y * 32768), -32768, 32767).astype("<i2")
    monkeypatch.setattr("sys.stdin", _Stdin(pcm.tobytes()))
    assert main(["monitor", "-", "--sr", "16000", "--format", "s16le", "-o", "out", *FAST]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len([line for line in lines if " s  F0 " in line]) == 28  # one per window
    assert any("escalation 1 OPEN" in line for line in lines)
    assert any("escalation 1 CLOSED" in line for line in lines)
    assert any(
        line.startswith("Final report (offline, whole stream): 1 escalation segment")
        for line in lines
    )
    document = json.loads((isolated / "out" / "stdin" / REPORT_JSON).read_text())
    offline = detect_escalation(service, pcm, 16000)
    assert document["input"]["path"] == "-" and document["input"]["name"] == "stdin"
    assert document["input"]["sha256"] == hashlib.sha256(pcm.tobytes()).hexdigest()
    assert document["input"]["duration_s"] == 28.0 and document["analysis"]["n_windows"] == 28
    found = [(s["start_s"], s["end_s"]) for s in document["segments"]]
    assert found == [(s.start_s, s.end_s) for s in offline.segments]


def test_monitor_stdin_float_stereo_and_events_only(isolated, calls, capsys, monkeypatch):
    y, _ = calls[22050]
    stereo = np.stack([np.zeros_like(y), y], axis=1).astype("<f4")
    monkeypatch.setattr("sys.stdin", _Stdin(stereo.tobytes()))
    argv = ["monitor", "-", "--sr", "22050", "--format", "f32le", "--channels", "2",
            "--channel", "1", "--events-only", *FAST]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" at ")[0] for line in lines[:2]] == [
        "escalation 1 OPEN", "escalation 1 CLOSED"
    ]
    lines = [line for line in lines if "warning:" not in line]  # a 28-s call: little speech
    assert len(lines) == 3 and not (isolated / "out").exists()  # no -o: no files


def test_monitor_plays_a_file_like_analyze(isolated, calls, capsys):
    y, _ = calls[22050]
    path = isolated / "call.flac"
    sf.write(path, np.stack([y, 0.5 * y], axis=1), 22050, subtype="PCM_24")
    assert main(["monitor", str(path), "-o", "live", "--quiet", *FAST]) == 0
    assert main(["analyze", str(path), "-o", "offline", "--quiet", *FAST]) == 0
    assert capsys.readouterr().out == ""
    live = json.loads((isolated / "live" / "call" / REPORT_JSON).read_text())
    offline = json.loads((isolated / "offline" / "call" / REPORT_JSON).read_text())
    assert (isolated / "live" / "call" / WINDOWS_CSV).read_text() == (
        isolated / "offline" / "call" / WINDOWS_CSV
    ).read_text()
    for key in ("input", "baseline", "segments", "summary", "warnings"):
        assert live[key] == offline[key], key
    # Existing outputs are never overwritten without --force, and that is known up front.
    assert main(["monitor", str(path), "-o", "live", "--quiet", *FAST]) == 2
    assert "already holds" in capsys.readouterr().err
    assert main(["monitor", str(path), "-o", "live", "--quiet", "--force", *FAST]) == 0


def test_monitor_realtime_paces_the_file(isolated, calls, monkeypatch):
    y, _ = calls[16000]
    path = isolated / "call.wav"
    sf.write(path, y[: 12 * 16000], 16000, subtype="FLOAT")
    clock = [0.0]  # a clock that only moves when the CLI sleeps (for the CLI module alone)
    fake = types.SimpleNamespace(
        monotonic=lambda: clock[0],
        sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds),
        perf_counter=time.perf_counter,
    )
    monkeypatch.setattr(gpuaudio.cli.monitor, "time", fake)
    assert main(["monitor", str(path), "--realtime", "--block", "0.5", "--quiet", *FAST]) == 0
    assert clock[0] == pytest.approx(12.0)  # slept until each block's last sample was due


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["monitor", "-"], "--sr"),
        (["monitor", "call.wav", "--sr", "8000"], "describe raw PCM on stdin"),
        (["monitor", "missing.wav"], "no such file"),
        (["monitor", "-", "--sr", "16000", "--block", "0"], "--block"),
        (["monitor", "-", "--sr", "16000", "--block", "inf"], "--block"),
        (["monitor", "-", "--sr", "16000", "--channels", "0"], "channels must be at least 1"),
    ],
)
def test_monitor_usage_errors_are_one_line(isolated, capsys, argv, expected):
    assert main([*argv, *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gpuaudio: error: ") and expected in err[0]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_the_stream_and_the_report_is_still_written(
    isolated, calls, monkeypatch, stop
):
    y, _ = calls[16000]
    pcm = np.clip(np.round(y * 32768), -32768, 32767).astype("<i2")

    def interrupt(reads: int) -> None:
        if reads == 130:  # while waiting for the 130th block of 0.1 s
            os.kill(os.getpid(), stop)

    monkeypatch.setattr("sys.stdin", _Stdin(pcm.tobytes(), on_read=interrupt))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    assert main(["monitor", "-", "--sr", "16000", "-o", "out", "--quiet", *FAST]) == 0
    document = json.loads((isolated / "out" / "stdin" / REPORT_JSON).read_text())
    assert document["input"]["duration_s"] == 12.9  # the read it stopped brought nothing
    assert document["analysis"]["partial"] is True
    assert any(f"stopped by {stop.name} after 12.9 s" in w for w in document["warnings"])
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # restored


def test_bad_samples_in_a_stream_are_silenced_and_reported(isolated, calls, monkeypatch, capsys):
    """NaN, inf and samples far beyond full scale (500: refused by the analysis) alike."""
    y, _ = calls[16000]
    broken = y.astype("<f4")
    broken[15 * 16000 : 15 * 16000 + 3] = np.nan
    broken[20 * 16000] = 500.0
    monkeypatch.setattr("sys.stdin", _Stdin(broken.tobytes()))
    argv = ["monitor", "-", "--sr", "16000", "--format", "f32le", "-o", "out", "--quiet", *FAST]
    assert main(argv) == 0
    document = json.loads((isolated / "out" / "stdin" / REPORT_JSON).read_text())
    assert document["input"]["duration_s"] == 28.0 and document["analysis"]["partial"] is False
    assert any(
        w.startswith("4 bad sample(s) (NaN, inf, or magnitude over 100: far outside full scale)")
        and w.endswith("in blocks at 15.00 s, 20.00 s")
        for w in document["warnings"]
    )
    err = capsys.readouterr().err
    assert "3 bad sample(s) (NaN, inf, or magnitude over 100" in err and "at 15.00 s" in err
    assert "1 bad sample(s) (NaN, inf, or magnitude over 100" in err and "at 20.00 s" in err


def test_the_monitor_api_raises_on_bad_samples_unless_told_to_silence(service, calls):
    y, _ = calls[16000]
    broken = y.copy()
    broken[100], broken[200] = np.inf, -500.0
    with pytest.raises(InvalidAudioError, match="non-finite"):
        EscalationMonitor(service, sr=16000).feed(broken)
    with pytest.raises(InvalidAudioError, match=r"magnitude 500 at 0\.013 s"):
        EscalationMonitor(service, sr=16000).feed(np.nan_to_num(broken, posinf=0.0))
    monitor = EscalationMonitor(service, sr=16000, bad_samples="silence")
    monitor.feed(broken)
    assert monitor.silenced == [(100 / 16000, 2)]
    with pytest.raises(InvalidParameterError, match="bad_samples"):
        EscalationMonitor(service, sr=16000, bad_samples="drop")


def test_a_refused_block_leaves_no_silenced_samples_behind(service, calls):
    """A block refused after its bad samples were found changes nothing, `silenced` and the
    report's warnings included (they counted samples of a block never analysed)."""
    y, offline = calls[16000]
    monitor = EscalationMonitor(service, sr=16000, bad_samples="silence")
    with pytest.raises(InvalidAudioError, match="dtype complex"):
        monitor.feed(np.array([np.nan, 500.0, 1j]))
    monitor.feed(y)
    assert monitor.silenced == []
    _assert_same_report(monitor.finish(), offline)


def test_a_file_with_bad_samples_ends_the_session_with_the_report_so_far(
    isolated, calls, capsys
):
    """`analyze` refuses such a file; `monitor` has heard the audio before the bad sample by
    then: it writes that part's report, marked partial, then ends with the error."""
    y, _ = calls[16000]
    broken = y[: 20 * 16000].copy()
    broken[15 * 16000] = 500.0
    sf.write(isolated / "hot.wav", broken, 16000, subtype="FLOAT")
    assert main(["monitor", "hot.wav", "-o", "out", "--quiet", *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gpuaudio: error: hot.wav: a sample of magnitude")
    document = json.loads((isolated / "out" / "hot" / REPORT_JSON).read_text())
    assert document["analysis"]["partial"] is True and document["input"]["duration_s"] == 20.0
    assert document["analysis"]["duration_s"] == 15.0
    assert any(
        w.startswith("the stream was stopped by an error (hot.wav: a sample of magnitude 500")
        and w.endswith("after 15.0 s of the 20.0-s file: this report covers that part only")
        for w in document["warnings"]
    )


@pytest.mark.parametrize(("head", "kind"), [(b"RIFF\x24\x00\x00\x00WAVEfmt ", "WAV"),
                                            (b"fLaC\x00\x00\x00\x22", "FLAC")])  # fmt: skip
def test_an_audio_file_on_stdin_is_refused_with_a_hint(isolated, monkeypatch, capsys, head, kind):
    monkeypatch.setattr("sys.stdin", _Stdin(head + bytes(32000)))
    assert main(["monitor", "-", "--sr", "16000", *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"stdin holds a {kind} file" in err[0] and "instead of -" in err[0]
