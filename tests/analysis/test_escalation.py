"""detect_emotional_escalation: batching, features, robust scoring, segments, chunking."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

import gpuaudio_librosa
from gpuaudio import (
    AudioFeatureService,
    BackendSpec,
    InvalidAudioError,
    InvalidParameterError,
    hookimpl,
)
from gpuaudio.analysis import escalation
from gpuaudio.analysis.escalation import (
    EscalationParams,
    _fit,
    _sustained_rises,
    _sustained_runs,
    analysis_f0,
    detect_escalation,
    detect_escalation_file,
)
from gpuaudio.plugins import make_plugin_manager
from gpuaudio.testing import fake_gpu

SR = 16000


def test_one_batched_f0_call_over_all_windows(fake_service, tones, f0_calls):
    y = tones(SR, 40, [(20, 26)])
    report = fake_service.detect_emotional_escalation(y, SR)
    assert f0_calls == [(40, SR)]  # REQ-E-005: one call, every window in it
    assert len(report.windows) == 40
    assert report.provenance["f0"]["backend"] == "peak"
    assert report.provenance["f0"]["calls"] == 1


def test_window_features_measure_the_signal(fake_service, tones):
    y = tones(SR, 30, [])
    report = fake_service.detect_emotional_escalation(y, SR)
    w = report.windows
    np.testing.assert_allclose(w.start_s, np.arange(30))
    np.testing.assert_allclose(w.end_s, np.arange(1, 31))
    # the RMS around the window's mean (a DC offset is not level)
    expected_db = 10 * np.log10(np.var(y.reshape(30, SR).astype(np.float64), axis=1))
    np.testing.assert_allclose(w.level_dbfs, expected_db, atol=1e-6)
    # 0.8 s of tone per window: frames whose 128-ms span touches the tone count as voiced.
    assert np.all((w.voiced_fraction > 0.75) & (w.voiced_fraction < 0.95))
    rng = np.random.default_rng(0)
    true_hz = 140 * 2 ** (rng.normal(0, 0.4, 30) / 12)
    cents = 1200 * np.abs(np.log2(w.f0_median_hz / true_hz))
    assert cents.max() < 25  # the median of a tone gliding around its pitch


def test_escalation_span_is_found_with_its_drivers(fake_service, tones):
    y = tones(SR, 60, [(30, 40)])
    report = fake_service.detect_emotional_escalation(y, SR)
    assert [(s.start_s, s.end_s) for s in report.segments] == [(30.0, 40.0)]
    segment = report.segments[0]
    assert set(segment.drivers[:2]) == {"pitch", "level"}
    assert segment.pitch_change_st == pytest.approx(5.0, abs=0.6)
    assert segment.level_change_db == pytest.approx(8.0, abs=1.0)
    assert segment.peak_score >= report.params.threshold
    assert np.all(report.windows.segment[30:40] == 0)
    assert np.all(np.delete(report.windows.segment, np.s_[30:40]) == -1)


def test_min_pitch_rise_keeps_only_rises_a_listener_hears(fake_service, tones):
    """A very steady voice makes +1.6 st and +4 dB over 14 s unusual: a segment by default;
    asked for 2 st of pitch rise, none, unless the level rises by min_level_rise_db (6 dB)
    as well."""
    y = tones(SR, 60, [(30, 44)], raise_st=1.6, gain_db=4.0)
    floor_off = {"floor_segment_s": 0.0}  # under 2 st, the floor rule would drop it too
    (segment,) = fake_service.detect_emotional_escalation(y, SR, **floor_off).segments
    assert segment.start_s >= 30 and segment.end_s <= 44 and segment.duration_s >= 12
    assert segment.pitch_change_st == pytest.approx(1.6, abs=0.4)
    audible = fake_service.detect_emotional_escalation(y, SR, min_pitch_rise_st=2.0, **floor_off)
    assert audible.windows.flagged[30:44].sum() >= 11  # as unusual as before
    assert audible.segments == [] and (audible.windows.segment == -1).all()
    louder = tones(SR, 60, [(30, 44)], raise_st=1.6, gain_db=7.0)
    (loud,) = fake_service.detect_emotional_escalation(
        louder, SR, min_pitch_rise_st=2.0, **floor_off
    ).segments
    assert loud.pitch_change_st < 2.0 and loud.level_change_db >= 6.0
    with pytest.raises(InvalidParameterError, match="min_pitch_rise_st"):
        fake_service.detect_emotional_escalation(y, SR, min_pitch_rise_st=-1.0)


def test_a_short_weak_segment_must_be_a_rise_a_listener_hears(fake_service, tones):
    """Under `short_segment_s` (12 s) and under threshold + `short_score_margin` on average, a
    stretch is kept only with `short_min_pitch_rise_st` (3 st) of pitch rise or
    `min_level_rise_db` (6 dB) of level: a calm voice's prosody reaches the threshold for
    7-12 s with a 2-3 st swing, a planted escalation at the issue's bar does not."""
    small = tones(SR, 60, [(30, 40)], raise_st=1.6, gain_db=4.0)
    report = fake_service.detect_emotional_escalation(small, SR)
    assert report.windows.flagged[30:40].sum() >= 7  # unusual for this steady voice...
    assert report.segments == [] and (report.windows.segment == -1).all()  # ...but not heard
    (segment,) = fake_service.detect_emotional_escalation(
        small, SR, short_segment_s=0, floor_segment_s=0
    ).segments
    assert 6 <= segment.duration_s < 12
    assert segment.mean_score < report.params.threshold + report.params.short_score_margin
    assert segment.pitch_change_st < 3 and segment.level_change_db < 6
    # the same ten seconds as a rise a listener hears: kept
    for raise_st, gain_db in ((3.6, 0.0), (2.8, 7.0)):
        heard = tones(SR, 60, [(30, 40)], raise_st=raise_st, gain_db=gain_db)
        (kept,) = fake_service.detect_emotional_escalation(heard, SR).segments
        assert kept.start_s >= 29 and kept.end_s <= 41
    # the settings are checked like the others
    with pytest.raises(InvalidParameterError, match="short_min_pitch_rise_st"):
        fake_service.detect_emotional_escalation(small, SR, short_min_pitch_rise_st=-1.0)


def test_a_lively_phrase_that_keeps_the_voice_s_floor_is_not_an_escalation(fake_service, tones):
    """14 s whose tones sweep 4 st higher on average up from where the voice's glides start
    (a lively phrase: peaks raised, floor kept) are flagged, but lift the floor by 1.6 st, under
    `min_floor_rise_st` (2 st): no segment. The same seconds with the whole register 4 st up
    are one; the lively phrase is one with the rule off, or when it lasts `floor_segment_s`
    (20 s) or more."""
    lively = tones(SR, 60, [(30, 44)], raise_st=4.0, gain_db=0.0, lively=True)
    report = fake_service.detect_emotional_escalation(lively, SR)
    assert report.windows.flagged[30:44].sum() >= 10
    assert report.segments == [] and (report.windows.segment == -1).all()
    (off,) = fake_service.detect_emotional_escalation(lively, SR, floor_segment_s=0).segments
    assert off.floor_change_st == pytest.approx(1.6, abs=0.5) and off.pitch_change_st > 3
    assert off.mean_score >= report.params.threshold + report.params.short_score_margin
    raised = tones(SR, 60, [(30, 44)], raise_st=4.0, gain_db=0.0)
    (kept,) = fake_service.detect_emotional_escalation(raised, SR).segments
    assert kept.floor_change_st == pytest.approx(4.0, abs=0.5) and 29 <= kept.start_s <= 31
    longer = tones(SR, 80, [(30, 54)], raise_st=4.0, gain_db=0.0, lively=True)
    (long,) = fake_service.detect_emotional_escalation(longer, SR).segments
    assert long.duration_s >= 20 and long.floor_change_st < 2
    with pytest.raises(InvalidParameterError, match="min_floor_rise_st"):
        fake_service.detect_emotional_escalation(lively, SR, min_floor_rise_st=-1.0)


def _segment_only_with(service, y, flagged: slice, min_flagged: int, **setting):
    """The default report of `y` (at least `min_flagged` windows of `flagged` flagged, but no
    segment) and the one segment `y` gives with `setting`."""
    report = service.detect_emotional_escalation(y, SR)
    assert report.windows.flagged[flagged].sum() >= min_flagged and report.segments == []
    (segment,) = service.detect_emotional_escalation(y, SR, **setting).segments
    return report, segment


def test_a_short_phrase_must_lift_the_floor_2_75_st(fake_service, tones):
    """A livelier phrase (peaks 6 st up) lifts the voice's floor about 2.4 st. For 10 s, under
    `short_segment_s`, that is not enough (`short_min_floor_rise_st`, 2.75 st: free talkers'
    phrases lift their floor 2-3 st for 7-11 s): no segment, one when the setting is 2 st.
    For 14 s it is (`min_floor_rise_st`, 2 st for 12-20 s). A whole register 3 st up for 10 s
    is kept."""
    livelier = tones(SR, 60, [(30, 40)], raise_st=6.0, gain_db=0.0, lively=True)
    report, old = _segment_only_with(
        fake_service, livelier, slice(30, 40), 7, short_min_floor_rise_st=2.0
    )
    assert report.params.short_min_floor_rise_st == 2.75
    assert 2.0 <= old.floor_change_st < 2.75 and old.duration_s < 12
    longer = tones(SR, 60, [(30, 44)], raise_st=6.0, gain_db=0.0, lively=True)
    (kept,) = fake_service.detect_emotional_escalation(longer, SR).segments
    assert 2.0 <= kept.floor_change_st < 2.75 and 12 <= kept.duration_s < 20
    raised = tones(SR, 60, [(30, 40)], raise_st=3.0, gain_db=0.0)
    (whole,) = fake_service.detect_emotional_escalation(raised, SR).segments
    assert whole.floor_change_st >= 2.75 and 29 <= whole.start_s <= 31
    with pytest.raises(InvalidParameterError, match="short_min_floor_rise_st"):
        fake_service.detect_emotional_escalation(livelier, SR, short_min_floor_rise_st=-1.0)


def test_a_louder_stretch_must_still_lift_the_voice_s_floor(fake_service, tones):
    """12 s read 12 dB louder with the pitch 0.7 st up (a line's gain, not the voice: an AGC
    that has not settled) lift the floor by under `loud_min_floor_rise_st` (1 st): no
    segment, though the level passes `min_level_rise_db`; kept with that setting (and
    `loud_min_pitch_rise_st`) at 0. 8 dB louder with the peaks 4 st up (a voice raised in
    effort) is kept though its floor rises under 2 st."""
    gain = tones(SR, 60, [(30, 42)], raise_st=0.7, gain_db=12.0)
    assert fake_service.detect_emotional_escalation(gain, SR).segments == []
    (off,) = fake_service.detect_emotional_escalation(
        gain, SR, loud_min_floor_rise_st=0.0, loud_min_pitch_rise_st=0.0
    ).segments
    assert off.level_change_db >= 6 and off.floor_change_st < 1 and off.duration_s < 20
    effort = tones(SR, 60, [(30, 42)], raise_st=4.0, gain_db=8.0, lively=True)
    (kept,) = fake_service.detect_emotional_escalation(effort, SR).segments
    assert 1 <= kept.floor_change_st < 2 and kept.level_change_db >= 6
    assert kept.pitch_change_st >= 2.5
    with pytest.raises(InvalidParameterError, match="loud_min_floor_rise_st"):
        fake_service.detect_emotional_escalation(gain, SR, loud_min_floor_rise_st=-1.0)


def test_a_louder_stretch_must_also_raise_its_pitch_2_5_st(fake_service, tones):
    """12 s read 8 dB louder with the whole register 1.5 st up lift the floor past
    `loud_min_floor_rise_st` but raise the pitch under `loud_min_pitch_rise_st` (2.5 st; calm
    voices behind a gain control still settling read 6-9 dB louder with the pitch at most
    2 st up): no segment; kept with the setting at 1 st, or when the stretch lasts
    `floor_segment_s` (20 s) or more."""
    settling = tones(SR, 60, [(30, 42)], raise_st=1.5, gain_db=8.0)
    report, kept = _segment_only_with(
        fake_service, settling, slice(30, 42), 8, loud_min_pitch_rise_st=1.0
    )
    assert report.params.loud_min_pitch_rise_st == 2.5
    assert 1 <= kept.floor_change_st < 2 and kept.pitch_change_st < 2.5
    assert kept.level_change_db >= 6 and 29 <= kept.start_s <= 31
    longer = tones(SR, 80, [(30, 54)], raise_st=1.5, gain_db=8.0)
    (long,) = fake_service.detect_emotional_escalation(longer, SR).segments
    assert long.duration_s >= 20 and long.pitch_change_st < 2.5
    with pytest.raises(InvalidParameterError, match="loud_min_pitch_rise_st"):
        fake_service.detect_emotional_escalation(settling, SR, loud_min_pitch_rise_st=-1.0)


def test_a_stretch_kept_by_its_floor_must_also_raise_its_pitch_3_st(fake_service, tones):
    """14 s with the whole register 2.8 st up lift the floor past `min_floor_rise_st` (2 st
    for 12-20 s) but raise the pitch under `floor_min_pitch_rise_st` (3 st; free talkers'
    calm phrases lift floor and pitch together by 2-3 st): no segment; kept with the setting
    at 2 st, or when the stretch lasts `floor_segment_s` (20 s) or more. 3.6 st up is kept."""
    phrase = tones(SR, 60, [(30, 44)], raise_st=2.8, gain_db=0.0)
    report, kept = _segment_only_with(
        fake_service, phrase, slice(30, 44), 8, floor_min_pitch_rise_st=2.0
    )
    assert report.params.floor_min_pitch_rise_st == 3.0
    assert kept.floor_change_st >= 2 and kept.pitch_change_st < 3
    assert kept.level_change_db < 6 and 12 <= kept.duration_s < 20
    longer = tones(SR, 80, [(30, 54)], raise_st=2.8, gain_db=0.0)
    (long,) = fake_service.detect_emotional_escalation(longer, SR).segments
    assert long.duration_s >= 20 and long.pitch_change_st < 3
    raised = tones(SR, 60, [(30, 44)], raise_st=3.6, gain_db=0.0)
    (heard,) = fake_service.detect_emotional_escalation(raised, SR).segments
    assert heard.pitch_change_st >= 3 and 29 <= heard.start_s <= 31
    with pytest.raises(InvalidParameterError, match="floor_min_pitch_rise_st"):
        fake_service.detect_emotional_escalation(phrase, SR, floor_min_pitch_rise_st=-1.0)


def test_a_long_rise_of_a_scattered_voice_is_found_over_the_sustained_context(
    fake_service, tones
):
    """A voice whose pitch scatters 3 st from second to second (a real voice behind a phone
    line) raises it 3.5 st for 60 s, with no level change: over the 9-s context its windows
    score 1.5-2.5 and only pieces of it are flagged; over the sustained context (31 s) the
    scatter averages out, the rise stands out as a whole and its windows near the threshold
    are flagged too. Its calm part stays calm on both."""
    y = tones(SR, 240, [(100, 160)], raise_st=3.5, gain_db=0.0, jitter_st=3.0)
    report = fake_service.detect_emotional_escalation(y, SR)
    short_only = fake_service.detect_emotional_escalation(y, SR, sustained_context_s=0.0)

    def found_s(segments) -> float:
        assert all(s.start_s >= 99 and s.end_s <= 161 for s in segments), segments
        return sum(s.end_s - s.start_s for s in segments)

    assert found_s(short_only.segments) <= 16
    assert found_s(report.segments) >= 25
    windows, params = report.windows, report.params
    assert np.nanmedian(windows.score_sustained[100:160]) >= params.sustained_threshold
    calm = np.r_[windows.score_sustained[:95], windows.score_sustained[165:]]
    assert np.nanmax(calm) < params.sustained_threshold - 1.0
    assert np.isnan(short_only.windows.score_sustained).all()
    # a flagged window under the threshold is in a sustained rise and near the threshold
    lifted = windows.flagged & (windows.score < params.threshold)
    assert lifted.any()
    assert (windows.score[lifted] >= params.threshold - params.sustained_score_margin).all()
    assert (windows.score_sustained[lifted] >= params.sustained_threshold).all()


def test_a_sustained_rise_must_last_and_its_windows_be_near_the_threshold():
    """`_sustained_rises`: a run of sustained scores at the bar counts from
    `sustained_min_s` (a pause inside it merged as segments are), and flags only its windows
    whose own score is within the margin of the threshold."""
    params = EscalationParams()
    n = 120
    speech = np.ones(n, dtype=bool)
    speech[50:53] = False  # a 3-s pause inside the long run
    sustained = np.zeros(n)
    sustained[30:70] = 3.5  # 40 s with the pause
    sustained[90:105] = 3.5  # 15 s: too short
    score = np.full(n, 2.0)
    score[40:45] = 1.0  # too far under the threshold

    def rises(sustained: np.ndarray, params: EscalationParams) -> np.ndarray:
        return _sustained_rises(_sustained_runs(sustained, speech, params), score, params)

    expected = np.zeros(n, dtype=bool)
    expected[30:70] = True
    expected[40:45] = expected[50:53] = False
    assert np.array_equal(rises(sustained, params), expected)
    assert not rises(sustained, EscalationParams(sustained_min_s=45.0)).any()
    assert not rises(np.full(n, np.nan), params).any()  # the sustained context turned off


def test_the_other_voice_s_turns_do_not_break_a_voice_s_sustained_rise(
    fake_service, tones, monkeypatch
):
    """6-s turns of a low voice whose pitch scatters 3 st (a real man behind a phone line) and
    a calm high voice; over 50 s of his own speech the low voice's pitch is raised 3 st. Its
    sustained rise is judged on the low voice's own speech, the high voice's turns counted as
    pauses: over all the speech, the high voice's calm windows cut it into 6-s pieces under
    `sustained_min_s`, and its windows just under the threshold went unflagged (tuning pair
    build 20: a pitch-only exchange of the Russian woman and the LibriVox man lost on the
    telephone and AGC copies, 7 s of 34 found)."""
    turn = 6
    low = tones(SR, 120, [], base_hz=110.0, jitter_st=3.0, seed=1)
    high = tones(SR, 120, [], base_hz=260.0, seed=2)
    y = np.concatenate([
        part for k in range(120 // turn)
        for part in (low[k * turn * SR : (k + 1) * turn * SR],
                     high[k * turn * SR : (k + 1) * turn * SR])
    ])  # fmt: skip
    measured = []
    score_segments = escalation.score_segments

    def keep_measured(raw, *args, **kwargs):  # type: ignore[no-untyped-def]
        measured.append(raw)
        return score_segments(raw, *args, **kwargs)

    monkeypatch.setattr(escalation, "score_segments", keep_measured)
    report = fake_service.detect_emotional_escalation(y, SR)
    start, params = report.windows.start_s, report.params
    raised = (start >= 100) & (start < 200) & ((start // turn) % 2 == 0)  # his turns there
    f0 = measured[-1].f0_median_hz.copy()
    f0[raised] *= 2 ** (3.0 / 12)
    scoring = escalation.score_windows(replace(measured[-1], f0_median_hz=f0), params)
    his = raised & scoring.speech
    assert (scoring.voice[his] == 0).all()
    assert np.nanmedian(scoring.score_sustained[his]) >= params.sustained_threshold
    lifted = scoring.flagged & (scoring.score < params.threshold)
    assert lifted[his].sum() >= 5
    assert (lifted == (lifted & his)).all()
    assert not scoring.flagged[~raised].any()  # both voices' calm speech stays calm
    # over all the speech the high voice's calm turns break the run into pieces
    assert not _sustained_runs(scoring.score_sustained, scoring.speech, params)[his].any()


def test_the_baseline_leaves_out_a_sustained_rise():
    """`_fit(exclude=...)`: a rise that lasts is not calm speech, so the windows of a
    sustained rise (`_sustained_runs`) stay out of the baseline, and the rise scores against
    the calm part alone; an exclusion that would leave under half of the speech is ignored."""
    params = EscalationParams()
    n = 150
    speech = np.ones(n, dtype=bool)
    rng = np.random.default_rng(0)
    pitch = rng.normal(0.0, 1.0, n)
    pitch[100:140] += 2.0  # 40 s, 2 st up: widens a baseline that takes it in
    others = tuple(rng.normal(0.0, 1.0, n) for _ in range(4))
    cues = (pitch, *others)
    sustained = np.zeros(n)
    sustained[100:140] = 3.5
    rise = _sustained_runs(sustained, speech, params)
    assert np.array_equal(np.flatnonzero(rise), np.arange(100, 140))
    with_rise = _fit(cues, speech, params)
    without = _fit(cues, speech, params, exclude=rise)
    assert with_rise is not None and without is not None
    calm = pitch[:100]
    assert without.centres[0] == pytest.approx(np.median(calm), abs=0.05)
    assert without.centres[0] < with_rise.centres[0] - 0.1
    assert without.scales[0] < with_rise.scales[0]
    assert without.excluded >= 40
    most = np.zeros(n, dtype=bool)
    most[20:] = True  # would leave 20 of 150 windows
    assert _fit(cues, speech, params, exclude=most) == with_rise


def test_a_segment_an_octave_up_is_named_as_possibly_another_voice(fake_service, tones):
    """A voice 14 st higher that talks once, for the last 25 s (another speaker who is not
    told apart: the voices do not take turns), is a segment, kept, with a warning that names
    it; an ordinary 5-st escalation gets none."""
    other = tones(SR, 90, [(65, 90)], raise_st=14.0, gain_db=0.0)
    report = fake_service.detect_emotional_escalation(other, SR)
    (segment,) = report.segments
    assert segment.start_s >= 64 and segment.pitch_change_st >= 12
    (note,) = [w for w in report.warnings if "an octave or more" in w]
    assert note.startswith("segment(s) 1 (+14 st)") and "another speaker" in note
    escalated = fake_service.detect_emotional_escalation(tones(SR, 60, [(30, 42)]), SR)
    assert len(escalated.segments) == 1 and escalated.segments[0].pitch_change_st < 12
    assert not [w for w in escalated.warnings if "an octave or more" in w]


def test_calm_recording_has_no_segments(fake_service, tones):
    report = fake_service.detect_emotional_escalation(tones(SR, 60, [], seed=3), SR)
    assert report.segments == []
    assert np.nanmax(report.windows.score) < report.params.threshold


def test_baseline_is_robust_to_the_escalation_itself(fake_service, tones):
    calm = fake_service.detect_emotional_escalation(tones(SR, 60, []), SR).baseline
    escalated = fake_service.detect_emotional_escalation(tones(SR, 60, [(5, 20)]), SR)
    # A quarter of the recording escalated moves median/MAD baselines only a little.
    assert escalated.baseline.f0_median_hz == pytest.approx(calm.f0_median_hz, rel=0.03)
    assert escalated.baseline.level_dbfs == pytest.approx(calm.level_dbfs, abs=1.0)
    assert [(s.start_s, s.end_s) for s in escalated.segments] == [(5.0, 20.0)]


def test_scores_do_not_depend_on_recording_gain(fake_service, tones):
    y = tones(SR, 40, [(10, 18)])
    loud = fake_service.detect_emotional_escalation(y, SR)
    quiet = fake_service.detect_emotional_escalation(y * np.float32(0.25), SR)
    np.testing.assert_allclose(quiet.windows.score, loud.windows.score, atol=1e-4)
    assert quiet.baseline.level_dbfs == pytest.approx(loud.baseline.level_dbfs - 12.04, abs=0.01)


def test_a_dc_offset_changes_nothing_but_a_warning(fake_service, tones):
    """A faulty recording chain's DC offset would fill the pauses and hide the speech from the
    noise-floor rule (before this, a 0.1 offset left no speech and no segment at all)."""
    y = tones(SR, 60, [(30, 45)])
    plain = fake_service.detect_emotional_escalation(y, SR)
    shifted = fake_service.detect_emotional_escalation(y + np.float32(0.1), SR)
    assert [(s.start_s, s.end_s) for s in shifted.segments] == [
        (s.start_s, s.end_s) for s in plain.segments
    ] != []
    np.testing.assert_allclose(shifted.windows.score, plain.windows.score, atol=1e-3)
    np.testing.assert_array_equal(shifted.windows.speech, plain.windows.speech)
    assert [w for w in shifted.warnings if "DC offset (0.100 of full scale" in w]
    assert not [w for w in plain.warnings if "DC offset" in w]


def test_short_flagged_runs_are_dropped_and_close_ones_merged(fake_service, tones):
    y = tones(SR, 60, [(10, 12), (30, 34), (35, 39)])
    report = fake_service.detect_emotional_escalation(
        y, SR, min_duration_s=3.0, max_gap_s=2.0, context_s=0.0  # the merge rule alone
    )
    assert [(s.start_s, s.end_s) for s in report.segments] == [(30.0, 39.0)]
    assert report.windows.flagged[10:12].all()  # flagged, but too short for a segment
    split = fake_service.detect_emotional_escalation(
        y, SR, min_duration_s=3.0, max_gap_s=0.5, context_s=0.0
    )
    assert [(s.start_s, s.end_s) for s in split.segments] == [(30.0, 34.0), (35.0, 39.0)]


def test_overlapping_windows(fake_service, tones, f0_calls):
    y = tones(SR, 30, [(15, 22)])
    report = fake_service.detect_emotional_escalation(y, SR, window_s=2.0, hop_s=0.5)
    assert len(report.windows) == 1 + (30 - 2) * 2
    assert f0_calls == [(57, 2 * SR)]
    np.testing.assert_allclose(np.diff(report.windows.start_s), 0.5)
    (segment,) = report.segments
    assert 13.5 <= segment.start_s <= 15.0 and 22.0 <= segment.end_s <= 23.5
    times = report.contour.times_s
    assert np.all(np.diff(times) > 0)  # each frame once, in order


def test_other_sample_rates_and_channels_give_the_same_analysis(fake_service, tones):
    y16 = tones(SR, 30, [(12, 20)])
    ref = fake_service.detect_emotional_escalation(y16, SR)
    y441 = tones(44100, 30, [(12, 20)])
    stereo = np.stack([y441, y441])
    other = fake_service.detect_emotional_escalation(stereo, 44100)
    assert [(s.start_s, s.end_s) for s in other.segments] == [(12.0, 20.0)]
    np.testing.assert_allclose(other.windows.level_dbfs, ref.windows.level_dbfs, atol=0.05)
    np.testing.assert_allclose(other.windows.f0_median_hz, ref.windows.f0_median_hz, rtol=0.01)


def test_streamed_file_equals_one_piece(fake_service, tmp_path, tones, f0_calls):
    y = tones(22050, 45, [(20, 28)])
    path = tmp_path / "call.flac"
    sf.write(path, np.stack([y, 0.5 * y], axis=1), 22050, subtype="PCM_24")
    whole, info = detect_escalation_file(fake_service, path, chunk_s=1e6)
    assert f0_calls == [(45, SR)]
    f0_calls.clear()
    streamed, _ = detect_escalation_file(fake_service, path, chunk_s=7.3)
    assert [shape[0] for shape in f0_calls] == [7, 7, 7, 7, 7, 7, 3]
    assert info.channels == 2 and info.sample_rate == 22050
    for name, column in whole.windows.columns().items():
        np.testing.assert_array_equal(getattr(streamed.windows, name), column, err_msg=name)
    assert streamed.segments == whole.segments
    assert streamed.baseline == whole.baseline


def test_chunk_size_comes_from_config(make_fake_service, tones, f0_calls):
    service = make_fake_service({"memory": {"chunk_seconds": 10}})
    service.detect_emotional_escalation(tones(SR, 25, []), SR)
    assert [shape[0] for shape in f0_calls] == [10, 10, 5]


@pytest.mark.parametrize("chunk_s", [float("nan"), float("inf"), "10", 0.0, -5.0])
def test_a_chunk_length_that_is_not_seconds_is_refused(fake_service, tones, tmp_path, chunk_s):
    from gpuaudio.analysis.streaming import EscalationMonitor

    with pytest.raises(InvalidParameterError, match="chunk_s"):
        EscalationMonitor(fake_service, sr=SR, chunk_s=chunk_s)
    path = tmp_path / "call.wav"
    sf.write(path, tones(SR, 5, []), SR)
    with pytest.raises(InvalidParameterError, match="chunk_s"):
        detect_escalation_file(fake_service, path, chunk_s=chunk_s)


def test_silence_gives_a_warning_and_no_scores(fake_service):
    report = fake_service.detect_emotional_escalation(np.zeros(20 * SR, np.float32), SR)
    assert report.segments == [] and report.baseline is None
    assert np.isnan(report.windows.score).all()
    assert "baseline" in report.warnings[0]
    assert np.all(report.windows.level_dbfs == -200.0)


def test_too_short_and_bad_parameters(fake_service, tones):
    with pytest.raises(InvalidAudioError, match="shorter than one analysis window"):
        fake_service.detect_emotional_escalation(np.ones(SR // 2, np.float32), SR)
    y = tones(SR, 5, [])
    with pytest.raises(InvalidParameterError, match="hop_s"):
        fake_service.detect_emotional_escalation(y, SR, hop_s=2.0)
    with pytest.raises(InvalidParameterError, match="fmax"):
        fake_service.detect_emotional_escalation(y, SR, fmax=9000.0)
    with pytest.raises(InvalidParameterError, match="weights"):
        detect_escalation(fake_service, y, SR, EscalationParams(weights=(1.0, -1.0, 0.0)))
    with pytest.raises(InvalidAudioError, match="non-finite"):
        fake_service.detect_emotional_escalation(np.full(2 * SR, np.nan, np.float32), SR)
    with pytest.raises(InvalidAudioError, match="full scale"):  # int16 values as float
        fake_service.detect_emotional_escalation(np.full(2 * SR, 2e4, np.float32), SR)



@pytest.mark.parametrize("sr", [100, 1000, 4000, 6000])
def test_sample_rates_without_the_telephone_band_are_refused(fake_service, tones, tmp_path, sr):
    from gpuaudio.analysis.escalation import detect_escalation_file
    from gpuaudio.analysis.streaming import EscalationMonitor

    y = tones(SR, 12, [])[: 12 * sr]  # any samples: the rate alone decides
    path = tmp_path / "slow.wav"
    sf.write(path, y, sr)
    message = rf"{sr} Hz holds frequencies up to {sr / 2:g} Hz only.*at least 6800 Hz"
    with pytest.raises(InvalidAudioError, match=message):
        fake_service.detect_emotional_escalation(y, sr)
    with pytest.raises(InvalidAudioError, match=message):
        detect_escalation_file(fake_service, path)
    with pytest.raises(InvalidAudioError, match=message):
        EscalationMonitor(fake_service, sr=sr)


def test_report_summary_and_dict(fake_service, tones):
    report = fake_service.detect_emotional_escalation(tones(SR, 40, [(20, 28)]), SR)
    assert "1 escalation segment(s)" in report.summary() and "0:20-0:28" in report.summary()
    document = report.to_dict()
    assert document["n_windows"] == 40
    assert document["segments"][0]["duration_s"] == 8.0
    assert document["params"]["hop_s"] == 1.0


class _GpuF0Plugin:
    """An F0 backend that only a GPU can run (never called: resolution only)."""

    @hookimpl
    def gpuaudio_f0_backends(self):
        return [BackendSpec("gpunet", "f0", "m:f", devices=("cuda",), priority=10)]


def test_on_a_gpu_machine_the_analysis_takes_its_f0_from_acpitch():
    """The resolver's own F0 pick on a GPU machine is the GPU backend; the analysis asks for
    acpitch first (the F0 it was tuned and validated with), unless the config names one."""
    registry = make_plugin_manager(load_entry_points=False)
    registry.register(_GpuF0Plugin(), name="gpunet")
    registry.register(gpuaudio_librosa, name="librosa")
    on_gpu = AudioFeatureService({}, registry=registry, device_info=fake_gpu())
    assert on_gpu.resolution("f0").chosen.spec.name == "gpunet"
    assert analysis_f0(on_gpu) == ["acpitch?", "auto"]
    assert on_gpu.resolution("f0", analysis_f0(on_gpu)).chosen.spec.name == "acpitch"
    named = AudioFeatureService(
        {"backends": {"f0": "gpunet"}}, registry=registry, device_info=fake_gpu()
    )
    assert analysis_f0(named) == "gpunet"
    without = make_plugin_manager(load_entry_points=False)
    without.register(_GpuF0Plugin(), name="gpunet")
    bare = AudioFeatureService({}, registry=without, device_info=fake_gpu())
    assert bare.resolution("f0", analysis_f0(bare)).chosen.spec.name == "gpunet"


def test_the_report_says_who_chose_the_f0_backend(tones):
    """Left on auto, the analysis' own choice and why; named in the config, the config's."""
    y = tones(SR, 12, [])
    report = AudioFeatureService({"device": "cpu"}).detect_emotional_escalation(y, SR)
    f0 = report.provenance["f0"]
    assert (f0["backend"], f0["choice"]) == ("acpitch", ["acpitch?", "auto"])
    assert f0["reason"].startswith("the analysis' F0")
    config = {"device": "cpu", "backends": {"f0": "fastpyin"}}
    report = AudioFeatureService(config).detect_emotional_escalation(y, SR)
    f0 = report.provenance["f0"]
    assert (f0["backend"], f0["choice"]) == ("fastpyin", "fastpyin")
    assert f0["reason"].startswith("named in config")
    (warning,) = [w for w in report.warnings if w.startswith("F0 by")]
    assert "F0 by fastpyin, not acpitch: the analysis was tuned and validated with" in warning


def test_the_report_records_the_f0_backends_settings(tones):
    """Every setting the F0 backend ran with is in the report (defaults filled in), so an
    analysis can be repeated as it was; a backend without settings records none."""
    y = tones(SR, 12, [])
    report = AudioFeatureService({"device": "cpu"}).detect_emotional_escalation(y, SR)
    options = report.provenance["f0"]["options"]
    assert (options["envelope_weight"], options["voicing_threshold"]) == (0.0, 0.45)
    config = {"device": "cpu", "acpitch": {"envelope_weight": 0.5}}
    report = AudioFeatureService(config).detect_emotional_escalation(y, SR)
    assert report.provenance["f0"]["options"]["envelope_weight"] == 0.5
    config = {"device": "cpu", "backends": {"f0": "fastpyin"}}
    report = AudioFeatureService(config).detect_emotional_escalation(y, SR)
    assert report.provenance["f0"]["options"] == {}


def test_no_f0_warning_with_the_f0_the_analysis_was_tuned_with(tones):
    y = tones(SR, 12, [])
    report = AudioFeatureService({"device": "cpu"}).detect_emotional_escalation(y, SR)
    assert not [w for w in report.warnings if w.startswith("F0 by")]


@pytest.mark.parametrize("jitter_st", [0.4, 1.5])
def test_a_rise_over_most_of_the_speech_is_found_from_the_calm_start(
    fake_service, tones, jitter_st
):
    """A heated exchange raised +4 st (no level change) from a calm start to the call's end,
    70 % of the speech: the refits start from the calm part and never keep less than half of
    it, so the raised windows are not taken back into the baseline (tuning half's `most`
    stress build, session 33: with half of all the speech kept, 15-31 of 36 spans found)."""
    y = tones(SR, 150, [(45, 150)], raise_st=4.0, gain_db=0.0, jitter_st=jitter_st)
    report = fake_service.detect_emotional_escalation(y, SR)
    found = sum(min(s.end_s, 150) - max(s.start_s, 45) for s in report.segments)
    assert found >= 0.8 * 105, report.segments
    assert all(s.end_s > 44 for s in report.segments), report.segments
