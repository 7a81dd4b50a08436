"""The arousal cues, the evidence sum, the baseline under long escalations, voice activity and
file problems (issue 11 items 3 and 4)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from gpuaudio.analysis.cues import (
    prominent_peaks,
    running_median,
    running_noise_floor,
    spectral_measures,
    syllable_rate,
)
from gpuaudio.analysis.escalation import (
    Baseline,
    EscalationParams,
    WindowFeatures,
    detect_escalation_file,
)
from gpuaudio.analysis.segments import find_segments, frame_pitch, level_over_loudest
from gpuaudio.audio_io import audio_info, header_problems

SR = 16000


def _harmonic(f0: float, seconds: float, tilt_db_per_octave: float, gain: float = 0.1):
    t = np.arange(int(seconds * SR)) / SR
    y = sum(
        10 ** (tilt_db_per_octave * np.log2(k) / 20) * np.sin(2 * np.pi * k * f0 * t)
        for k in range(1, int(3400 // f0))
    )
    return (gain * y / np.max(np.abs(y))).astype(np.float32)


def test_spectral_balance_follows_the_slope_not_the_gain(fake_service):
    hop = 512
    steep = _harmonic(150, 1, -12.0)
    flat = _harmonic(150, 1, -6.0)
    batch = np.stack([steep, flat, 0.1 * steep])
    voiced = np.ones((3, 1 + SR // hop), dtype=bool)
    balance, flatness = spectral_measures(fake_service, batch, SR, hop, voiced)
    assert balance[1] - balance[0] > 6  # a flatter slope: more energy above 1 kHz
    assert balance[2] == pytest.approx(balance[0], abs=0.01)  # gain does not move it
    assert (flatness < 0.1).all()  # harmonic sounds are far from flat
    noise = np.random.default_rng(0).standard_normal((1, SR)).astype(np.float32) * 0.1
    _, noise_flatness = spectral_measures(fake_service, noise, SR, hop, voiced[:1])
    assert 0.45 < noise_flatness[0] < 0.7  # white noise: ~0.56


def test_no_voiced_frame_means_no_balance(fake_service):
    batch = _harmonic(150, 1, -12.0)[None]
    balance, _ = spectral_measures(fake_service, batch, SR, 512, np.zeros((1, 32), dtype=bool))
    assert np.isnan(balance[0])


def _syllables(per_second: float, seconds: float = 2.0, f0: float = 140.0) -> np.ndarray:
    """A voiced tone broken into 120-ms syllables (Hann-shaped), `per_second` of them."""
    tone = _harmonic(f0, seconds, -12.0)
    t = np.arange(tone.size) / SR
    phase = (t * per_second) % 1.0
    syllable = 0.12 * per_second  # the share of each period a syllable takes
    envelope = np.where(phase < syllable, np.sin(np.pi * phase / syllable) ** 2, 0.01)
    return (tone * envelope).astype(np.float32)


def test_syllable_rate_counts_the_syllables_whatever_the_gain(fake_service):
    hop = 512
    slow, fast = _syllables(4.0).reshape(2, SR), _syllables(6.0).reshape(2, SR)
    batch = np.concatenate([slow, fast, 0.05 * fast])
    voiced = np.ones((batch.shape[0], 1 + SR // hop), dtype=bool)
    rate = syllable_rate(fake_service, batch, SR, hop, voiced, 1.0)
    assert rate[:4].tolist() == [4, 4, 6, 6]
    assert rate[4:].tolist() == rate[2:4].tolist()  # a gain change moves no syllable


def test_syllable_rate_counts_only_voiced_nuclei(fake_service):
    hop = 512
    batch = _syllables(5.0).reshape(2, SR)
    unvoiced = np.zeros((2, 1 + SR // hop), dtype=bool)
    assert syllable_rate(fake_service, batch, SR, hop, unvoiced, 1.0).tolist() == [0, 0]
    half = unvoiced.copy()
    half[:, : half.shape[1] // 2] = True  # voiced in each window's first half only
    assert syllable_rate(fake_service, batch, SR, hop, half, 1.0).tolist() == [3, 3]


@pytest.mark.parametrize("flat_tops", [False, True])
def test_prominent_peaks_are_scipys_find_peaks(flat_tops):
    """The nuclei's peak picking is scipy.signal.find_peaks(prominence=, distance=) without
    importing scipy.signal at analysis time: same peaks on random contours, flat tops and
    tied heights included."""
    from scipy.signal import find_peaks

    rng = np.random.default_rng(7)
    for trial in range(500):
        x = np.cumsum(rng.standard_normal(101)) if trial % 2 else 3 * rng.standard_normal(101)
        if flat_tops:
            x = np.round(x)
        for prominence, distance in ((2.0, 8), (0.5, 1), (4.0, 20)):
            expected = find_peaks(x, prominence=prominence, distance=distance)[0]
            assert prominent_peaks(x, prominence, distance).tolist() == expected.tolist()


def test_running_median_keeps_a_step_and_skips_non_speech():
    values = np.array([0, 0, 0, 0, 9, 5, 5, 5, 5, 5], dtype=float)
    keep = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1, 1], dtype=bool)
    smoothed = running_median(values, keep, 1)
    assert np.isnan(smoothed[4])  # not speech: no value, and 9 never leaks into neighbours
    assert smoothed[[0, 1, 2, 3]].tolist() == [0, 0, 0, 0]
    assert smoothed[[5, 6, 7, 8, 9]].tolist() == [5, 5, 5, 5, 5]  # the step stays sharp


def test_running_noise_floor_shows_a_low_stretch_only_where_it_has_begun():
    """A centred 10th percentile over +-4 windows reads a low stretch up to 4 windows early
    and late; the higher one-sided floor only from its first window to its last."""
    values = np.zeros(30)
    values[12:20] = -8.0
    keep = np.ones(30, dtype=bool)
    keep[5] = False
    floor = running_noise_floor(values, keep, 4, 10.0)
    assert np.isnan(floor[5])
    assert floor[13:19].tolist() == [-8.0] * 6
    assert -8.0 < floor[12] < 0.0 and -8.0 < floor[19] < 0.0  # one low value of five
    assert floor[:5].tolist() + floor[6:12].tolist() + floor[20:].tolist() == [0.0] * 21
    assert running_noise_floor(values, keep, 0, 10.0)[12] == -8.0


def test_two_cues_give_more_evidence_than_one(fake_service, tones):
    both = fake_service.detect_emotional_escalation(tones(SR, 80, [(40, 55)], gain_db=6.0), SR)
    pitch = fake_service.detect_emotional_escalation(tones(SR, 80, [(40, 55)], gain_db=0.0), SR)
    inside = slice(42, 53)
    assert np.nanmedian(both.windows.score[inside]) > np.nanmedian(pitch.windows.score[inside]) + 1


def test_pitch_alone_is_found_as_behind_agc(fake_service, tones):
    """A phone line's AGC takes the level cue away: a +5 st rise must still be found."""
    report = fake_service.detect_emotional_escalation(
        tones(SR, 90, [(30, 50)], raise_st=5.0, gain_db=0.0), SR
    )
    assert [(s.start_s, s.end_s) for s in report.segments] == [(30.0, 50.0)]
    assert report.segments[0].drivers[0] == "pitch"


def test_the_baseline_stays_calm_when_half_the_speech_escalates(fake_service, tones):
    """45 s of 90 escalated (+6 st, +8 dB): median/MAD over all speech would sit between the
    two states; the baseline starts from the calmer state and refits without flagged windows."""
    y = tones(SR, 90, [(40, 85)], raise_st=6.0, gain_db=8.0)
    report = fake_service.detect_emotional_escalation(y, SR)
    assert [(s.start_s, s.end_s) for s in report.segments] == [(40.0, 85.0)]
    assert abs(12 * np.log2(report.baseline.f0_median_hz / 140.0)) < 0.5
    assert report.baseline.excluded_windows >= 40
    one_fit = fake_service.detect_emotional_escalation(y, SR, baseline_iterations=0)
    assert one_fit.escalated_s < report.escalated_s  # what the refit buys


def test_a_calmer_state_is_taken_at_an_ashman_d_between_2_and_2_5():
    """Smoothed pitch of a voice escalated over its last 45 % (+4.3 st, spread 1.9 st): the two
    states are only D ~2.3 apart, as when a long ramped escalation fills the gap between them
    (the GSM copy of a tuning call fell to 2.16). The refits start from the lower state, the
    first 110 windows (at the old bar of 2.5 they started from all the speech and the
    escalation widened the scale until nothing was flagged). The escalation ramps in (its
    values rising), so its windows of the upper state are one stretch."""
    from gpuaudio.analysis.states import calmer_state, two_states

    rng = np.random.default_rng(3)
    pitch = np.concatenate([rng.normal(0.0, 1.9, 110), np.sort(rng.normal(4.3, 1.9, 90))])
    speech = np.ones(pitch.size, dtype=bool)
    states = two_states(pitch, speech)
    assert states is not None and 2.0 <= states.separation < 2.5
    others = tuple(np.zeros(pitch.size) for _ in range(4))
    calmer = calmer_state((pitch, *others), speech)
    assert calmer is not None
    assert calmer[:110].mean() > 0.8 and calmer[110:].mean() < 0.2


def test_a_register_2_st_higher_in_some_stretches_is_not_a_calmer_part():
    """A speaker talking freely in two registers 2.2 st apart, the higher in two stretches (a
    council member from one meeting to the next): well separated (D ~4) and not alternating,
    but too close to be a calm part and a raised one. 3 st apart the same layout is one."""
    from gpuaudio.analysis.states import calmer_state, two_states

    rng = np.random.default_rng(7)
    pitch = rng.normal(0.0, 0.5, 160)
    higher = np.zeros(160, dtype=bool)
    higher[40:80] = higher[120:150] = True
    speech = np.ones(160, dtype=bool)
    others = tuple(np.zeros(160) for _ in range(4))
    close = np.where(higher, pitch + 2.2, pitch)
    states = two_states(close, speech)
    assert states is not None and states.separation > 3 and 2.0 < states.distance < 2.5
    assert calmer_state((close, *others), speech) is None
    apart = calmer_state((np.where(higher, pitch + 3.0, pitch), *others), speech)
    assert apart is not None and np.array_equal(apart, ~higher)


def test_a_higher_register_that_comes_back_many_times_is_not_a_calmer_part():
    """A higher register (+3.5 st) in seven short stretches, five of them in the first half:
    too few blocks mixed to take turns all through, but not one or two stretches of an
    escalation either. The same windows as one stretch are."""
    from gpuaudio.analysis.states import calmer_state, stretches_share, two_states

    rng = np.random.default_rng(8)
    pitch = rng.normal(0.0, 0.5, 200)
    speech = np.ones(200, dtype=bool)
    others = tuple(np.zeros(200) for _ in range(4))
    higher = np.zeros(200, dtype=bool)
    for start in (10, 24, 38, 52, 66, 150, 170):
        higher[start : start + 8] = True
    scattered = np.where(higher, pitch + 3.5, pitch)
    states = two_states(scattered, speech)
    assert states is not None and stretches_share(states, scattered, speech) < 0.65
    assert calmer_state((scattered, *others), speech) is None
    one = np.zeros(200, dtype=bool)
    one[120:176] = True
    together = np.where(one, pitch + 3.5, pitch)
    calmer = calmer_state((together, *others), speech)
    assert calmer is not None and np.array_equal(calmer, ~one)


def test_the_level_marks_the_calmer_part_when_a_long_rise_spills_over_the_pitch_states():
    """A voice escalated over its last half (+4 st, +9 dB), and 20 calm windows before it as
    high as the escalation: the upper pitch state holds 70 % of the speech, too much for an
    escalation. The loud half is also higher in pitch: the quieter level state is the calm
    part."""
    from gpuaudio.analysis.states import calmer_state, two_states

    rng = np.random.default_rng(5)
    pitch = rng.normal(0.0, 0.5, 120)
    pitch[40:] += 4.0
    level = rng.normal(-30.0, 1.0, 120)
    level[60:] += 9.0
    speech = np.ones(120, dtype=bool)
    upper = two_states(pitch, speech)
    assert upper is not None and upper.upper_share > 0.6
    calmer = calmer_state((pitch, level, *(np.zeros(120) for _ in range(3))), speech)
    assert calmer is not None
    assert calmer[:60].all() and not calmer[60:].any()


def test_a_long_rise_over_most_of_a_voices_speech_marks_a_calmer_part_when_far_apart():
    """One party of a heated exchange raised (+4 st) over 65 % of her own speech, the level
    telling nothing: too much of the speech for an escalation by the usual bar (60 %), but the
    states lie far apart and the raised one is one stretch: the calm part starts the refits;
    so does a rise over 75 % (a heated exchange to the call's end). The same share in three
    stretches, states as close as D ~3, or a rise over 85 % marks none."""
    from gpuaudio.analysis.states import calmer_state, stretches_share, two_states

    rng = np.random.default_rng(11)
    n = 200
    speech = np.ones(n, dtype=bool)
    others = tuple(np.zeros(n) for _ in range(4))
    pitch = rng.normal(0.0, 0.5, n)
    one = np.zeros(n, dtype=bool)
    one[70:] = True
    raised = np.where(one, pitch + 4.0, pitch)
    states = two_states(raised, speech)
    assert states is not None and 0.6 < states.upper_share <= 0.7 and states.separation > 4
    calmer = calmer_state((raised, *others), speech)
    assert calmer is not None and np.array_equal(calmer, ~one)
    for start, marked in ((50, True), (30, False)):  # raised over 75 % and 85 % of the speech
        most = np.arange(n) >= start
        calmer = calmer_state((np.where(most, pitch + 4.0, pitch), *others), speech)
        assert (calmer is not None and np.array_equal(calmer, ~most)) if marked else calmer is None
    three = np.zeros(n, dtype=bool)
    three[40:90] = three[110:160] = three[170:] = True
    scattered = np.where(three, pitch + 4.0, pitch)
    states = two_states(scattered, speech)
    assert states is not None and states.upper_share > 0.6
    assert 0.65 <= stretches_share(states, scattered, speech) < 0.9
    assert calmer_state((scattered, *others), speech) is None
    wide = rng.normal(0.0, 1.5, n)
    close = np.where(one, wide + 4.5, wide)
    states = two_states(close, speech)
    assert states is not None and 2.0 < states.separation < 3.5
    assert calmer_state((close, *others), speech) is None


def test_a_louder_half_at_the_same_pitch_marks_no_calmer_part():
    """Loudness alone (the line, the microphone) is not an escalation: two level states 9 dB
    apart whose louder one is no higher in pitch mark no calmer part."""
    from gpuaudio.analysis.states import calmer_state, two_states

    rng = np.random.default_rng(6)
    pitch = rng.normal(0.0, 1.5, 120)
    level = rng.normal(-30.0, 1.0, 120)
    level[60:] += 9.0
    speech = np.ones(120, dtype=bool)
    loud = two_states(level, speech)
    assert loud is not None and loud.separation > 5 and not loud.lower[60:].any()
    assert calmer_state((pitch, level, *(np.zeros(120) for _ in range(3))), speech) is None


@pytest.mark.parametrize("kind", ["white", "dither", "hum"])
def test_noise_hum_and_dither_are_not_speech(fake_service, kind):
    rng = np.random.default_rng(1)
    t = np.arange(40 * SR) / SR
    y = {
        "white": 0.05 * rng.standard_normal(t.size),
        "dither": 3e-5 * rng.standard_normal(t.size),
        "hum": 0.05 * np.sin(2 * np.pi * 100 * t) + 0.02 * np.sin(2 * np.pi * 300 * t),
    }[kind].astype(np.float32)
    report = fake_service.detect_emotional_escalation(y, SR)
    assert not report.windows.speech.any() and report.segments == []
    assert report.baseline is None
    assert "is this a recording of speech?" in report.warnings[0]
    reason = {"white": "voiced but noise-like", "dither": "without voicing",  # fake F0's voicing
              "hum": "voiced but steady, without the pauses of speech"}[kind]  # fmt: skip
    assert f"of the 40 others: 40 {reason}" in report.warnings[0]


def test_little_speech_gives_a_warning(fake_service, tones):
    report = fake_service.detect_emotional_escalation(tones(SR, 20, []), SR)
    assert any("only 20 s of speech" in text for text in report.warnings)


def test_a_truncated_wav_is_flagged(fake_service, tones, tmp_path):
    whole = tmp_path / "call.wav"
    sf.write(whole, tones(SR, 30, []), SR, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert audio_info(whole).problems == ()
    (problem,) = audio_info(cut).problems
    assert "960000 bytes but the file holds" in problem and "truncated" in problem
    report, info = detect_escalation_file(fake_service, cut)
    assert report.warnings[0].startswith("cut.wav: the file's header says")
    assert report.duration_s == pytest.approx(15.0, abs=0.01)  # what is there is analysed
    assert info.as_dict()["problems"] == [problem]


def test_header_problems_reads_libsndfile_notes():
    notes = "RIFF : 320036 (should be 160014)\nWAVE\ndata : 320000 (should be 159978)\nEnd"
    (problem,) = header_problems(notes)
    assert "320000 bytes but the file holds 159978" in problem
    assert header_problems("data : 320000\nEnd") == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [("threshold", float("nan")), ("threshold", -1.0), ("threshold", 0.0),
     ("max_gap_s", float("nan")), ("context_s", -1.0),
     ("max_flatness", 0.0), ("weights", (1.0, 1.0, 1.0)), ("baseline_iterations", -1)],
)
def test_bad_new_parameters_are_refused(field, value):
    from gpuaudio.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=field):
        EscalationParams(**{field: value}).validate()


def test_running_mean_resolves_fractions_of_a_count():
    from gpuaudio.analysis.cues import running_mean

    counts = np.array([1, 2, 1, 2, 1, 2, 1], dtype=float)
    keep = np.ones(7, dtype=bool)
    assert running_mean(counts, keep, 1)[1:-1] == pytest.approx([4 / 3, 5 / 3, 4 / 3, 5 / 3, 4 / 3])


def test_an_eight_second_escalation_is_found(fake_service, tones):
    """The shortest span the analysis is built for: 9-s context, 6-s minimum segment."""
    report = fake_service.detect_emotional_escalation(tones(SR, 80, [(40, 48)]), SR)
    ((start, end),) = [(s.start_s, s.end_s) for s in report.segments]
    assert start == pytest.approx(40, abs=1) and end == pytest.approx(48, abs=1)


def test_two_voices_on_one_channel_are_not_taken_for_an_escalation(fake_service, tones):
    """Turns of a low and a high voice (12 st apart): two voices, not one escalating."""
    low = tones(SR, 10, [], base_hz=110.0, seed=1)
    high = tones(SR, 10, [], base_hz=220.0, seed=2)
    y = np.concatenate([low, high] * 5)
    report = fake_service.detect_emotional_escalation(y, SR)
    assert report.segments == []
    assert any("two voices take turns" in text for text in report.warnings)
    low_voice, high_voice = report.voices  # each voice its own baseline, the lower one first
    assert low_voice.f0_median_hz == pytest.approx(110, rel=0.03)
    assert high_voice.f0_median_hz == pytest.approx(220, rel=0.03)
    speech = report.windows.speech
    own_turn = ((report.windows.start_s // 10) % 2).astype(int)  # 0: the low voice's turn
    assert (report.windows.voice[speech] == own_turn[speech]).all()
    assert (report.windows.voice[~speech] == -1).all()


def test_one_voice_escalating_in_a_conversation_is_found_against_its_own_baseline(
    fake_service, tones
):
    """Twelve 10-s turns of a low and a high voice; the low voice's 3rd and 4th turns (+5 st,
    +6 dB) stay below the high voice's pitch, so one baseline over both voices would hide
    them. Against the low voice's own baseline they are found, as voice 0."""
    low = tones(SR, 60, [(20, 40)], base_hz=110.0, raise_st=5.0, gain_db=6.0, seed=1)
    high = tones(SR, 60, [], base_hz=250.0, seed=2)
    turns = [part for k in range(6) for part in (low[k * 10 * SR : (k + 1) * 10 * SR],
                                                  high[k * 10 * SR : (k + 1) * 10 * SR])]
    report = fake_service.detect_emotional_escalation(np.concatenate(turns), SR)
    assert len(report.voices) == 2
    escalated = {(40, 50), (60, 70)}  # the low voice's turns 3 and 4 on the call's clock
    found = [(s.start_s, s.end_s, s.voice) for s in report.segments]
    assert found and all(voice == 0 for _, _, voice in found)
    covered = sum(
        max(0.0, min(b, e) - max(a, s)) for s, e, _ in found for a, b in escalated
    )
    assert covered >= 0.7 * 20
    assert all(any(a - 2 <= s and e <= b + 2 for a, b in escalated) for s, e, _ in found)
    # For people: the TextGrid and the page say whose voice each segment is.
    from gpuaudio.analysis.page import _segments_section
    from gpuaudio.analysis.report import textgrid

    assert textgrid(report).count("; voice 1 (lower))") == len(found)
    assert "voice 2" not in textgrid(report)
    rows = _segments_section(report, report.to_dict()["segments"])
    assert rows.count("voice 1 (lower): ") == len(found)


def _exchange(
    tones, span: tuple[int, int], low_st: float, high_st: float, gain_db: float
) -> np.ndarray:
    """4-s turns of a low (110 Hz) and a high voice (180 Hz), 80 s of each; both rise over
    `span` of their own seconds (so twice as late on the call's clock)."""
    low = tones(SR, 80, [span], base_hz=110.0, raise_st=low_st, gain_db=gain_db, seed=1)
    high = tones(SR, 80, [span], base_hz=180.0, raise_st=high_st, gain_db=gain_db, seed=2)
    turns = [part for k in range(20) for part in (low[k * 4 * SR : (k + 1) * 4 * SR],
                                                  high[k * 4 * SR : (k + 1) * 4 * SR])]
    return np.concatenate(turns)


def test_both_voices_escalating_in_a_heated_exchange_are_each_found(fake_service, tones):
    """Turns of 4 s, a low (110 Hz) and a high voice (180 Hz, 8.5 st up); from 64 s to 112 s
    both rise by 5 st: the low voice's escalated turns come within 3.5 st of the high voice's
    calm pitch. Decided near each window, they stay the low voice's (near them the two voices
    are still 8.5 st apart), and both voices' escalations are found."""
    y = _exchange(tones, (32, 56), low_st=5.0, high_st=5.0, gain_db=0.0)
    report = fake_service.detect_emotional_escalation(y, SR)
    assert len(report.voices) == 2
    windows = report.windows
    start = windows.start_s
    own_turn = ((start // 4) % 2).astype(int)  # 0: the low voice's turn, 1: the high voice's
    speech = windows.speech
    assert (windows.voice[speech] == own_turn[speech]).mean() >= 0.9
    heated = (start >= 64) & (start < 112)
    for voice in (0, 1):
        theirs = heated & speech & (own_turn == voice)
        assert windows.flagged[theirs].mean() >= 0.6, voice
    found = sum(max(0.0, min(112.0, s.end_s) - max(64.0, s.start_s)) for s in report.segments)
    assert found >= 0.8 * 48


def test_a_heated_exchange_over_nearly_half_of_the_call_is_two_voices_escalating(
    fake_service, tones
):
    """Turns of 4 s, a low (110 Hz) and a high voice (180 Hz); over the last 47.5 % of the
    call the low voice rises by 6 st, the high one by 5 st (+4 dB both). In that stretch the
    upper pitch state holds every window, so the two states take turns in only half of the
    call's eight stretches: still two voices (`_VOICES_MIXED`; at 60 % the call was one voice
    and nothing was found), and the exchange is found."""
    y = _exchange(tones, (42, 80), low_st=6.0, high_st=5.0, gain_db=4.0)
    report = fake_service.detect_emotional_escalation(y, SR)
    assert len(report.voices) == 2
    assert any("two voices take turns" in text for text in report.warnings)
    found = sum(max(0.0, min(160.0, s.end_s) - max(84.0, s.start_s)) for s in report.segments)
    assert found >= 0.8 * (160 - 84)
    assert all(s.end_s > 84 for s in report.segments)  # nothing in the calm part


def test_one_voice_escalating_in_quick_turns_is_merged_across_the_others_calm_turns(
    fake_service, quick_turns
):
    """The high voice's raised turns last 3 s each, and the low voice's calm turns between
    them break the usual merge into pieces under the 7-s minimum. Merged again on its own, the
    other voice's turns counted as pauses, the high voice's escalation is one segment of its
    own (+5 st: a rise a listener hears)."""
    report = fake_service.detect_emotional_escalation(quick_turns(SR, 5.0, 0.0), SR)
    assert len(report.voices) == 2
    assert [s.voice for s in report.segments] == [1]
    (segment,) = report.segments
    assert 55 <= segment.start_s <= 60 and 87 <= segment.end_s <= 92
    assert segment.pitch_change_st == pytest.approx(5.0, abs=0.8)
    inside = (report.windows.start_s >= segment.start_s) & (report.windows.end_s <= segment.end_s)
    assert (report.windows.segment[inside] == 0).all()
    assert (report.windows.segment[~inside] == -1).all()


def test_a_modest_rise_merged_across_the_others_turns_must_be_heard(fake_service, quick_turns):
    """The same quick turns with +1.6 st and +4 dB: unusual for the steady voice (its raised
    windows are flagged) but spread over the other voice's turns it must rise as a short
    segment must (3 st or 6 dB): no segment. With +7 dB it is heard."""
    modest = fake_service.detect_emotional_escalation(quick_turns(SR, 1.6, 4.0), SR)
    raised = (modest.windows.voice == 1) & (modest.windows.start_s >= 57)
    raised &= modest.windows.end_s <= 90
    assert modest.windows.flagged[raised].mean() >= 0.6
    assert modest.segments == []
    louder = fake_service.detect_emotional_escalation(quick_turns(SR, 1.6, 7.0), SR)
    (segment,) = louder.segments
    assert segment.voice == 1 and segment.level_change_db >= 6.0


def _frames(windows: WindowFeatures) -> np.ndarray:
    """32 voiced frames per window, each at the window's median F0 (`frame_pitch`)."""
    return frame_pitch(np.repeat(windows.f0_median_hz, 32), len(windows))


def _turn_windows(upper_windows: list[int], flagged: list[int]) -> WindowFeatures:
    """40 one-second speech windows of the lower voice (voice 0, calm), but for
    `upper_windows`, the upper voice's (voice 1: 7 st over its baseline where `flagged`)."""
    n = 40
    start = np.arange(n, dtype=np.float64)
    voice = np.zeros(n, dtype=np.int64)
    voice[upper_windows] = 1
    raised = np.zeros(n, dtype=bool)
    raised[flagged] = True
    score = np.where(raised, 4.0, 0.0)
    z = np.where(raised, 3.0, 0.0)
    return WindowFeatures(
        start_s=start, end_s=start + 1, f0_median_hz=100.0 * (1 + voice) * np.where(raised, 1.5, 1),
        f0_variability_st=np.ones(n), f0_steadiness=np.full(n, 0.1), voiced_fraction=np.ones(n),
        level_dbfs=np.full(n, -26.0), gain_change_db=np.zeros(n), balance_db=np.zeros(n),
        syllable_rate_hz=np.ones(n), flatness=np.full(n, 0.1), speech=np.ones(n, dtype=bool),
        voice=voice, z_pitch=z, z_level=z * 0, z_balance=z * 0, z_rate=z * 0,
        z_variability=z * 0, score=score, score_sustained=score, flagged=raised,
        segment=np.full(n, -1),
    )  # fmt: skip


def test_a_run_across_the_others_turns_needs_raised_windows_over_half_the_minimum():
    """The upper voice speaks one window in four; its raised windows, 4 s apart with the lower
    voice's calm turns between, are merged across those turns: four of them (13 s) are a
    segment, two (20 s and 28 s: 9 s) are two raised words, not an escalation."""
    baselines = [
        Baseline(30, hz, 0.8, -26.0, 2.0, 1.0, 0.3, -10.0, 2.0, 1.0, 0.5, 1, 0)
        for hz in (100.0, 200.0)
    ]
    params = EscalationParams()
    four = _turn_windows([4, 8, 12, 20, 24, 28, 32], [20, 24, 28, 32])
    (segment,) = find_segments(four, baselines, params, _frames(four))
    assert (segment.start_s, segment.end_s, segment.voice) == (20.0, 33.0, 1)
    assert segment.pitch_change_st == pytest.approx(12 * np.log2(1.5))
    assert (four.segment[20:33] == 0).all() and (np.delete(four.segment, np.s_[20:33]) == -1).all()
    assert segment.floor_change_st == pytest.approx(12 * np.log2(1.5))
    two = _turn_windows([4, 8, 12, 20, 28], [20, 28])
    assert find_segments(two, baselines, params, _frames(two)) == []
    assert (two.segment == -1).all()


def _quieter_voice_run(level_dbfs: float) -> WindowFeatures:
    """40 one-second speech windows of two voices 6 dB apart (voice 0 at -32 dBFS, voice 1 at
    -26); windows 10-24 are voice 0's, flagged, at `level_dbfs` and 2.6 st over its pitch."""
    n = 40
    voice = np.where(np.arange(n) % 2 == 1, 1, 0)
    raised = np.zeros(n, dtype=bool)
    raised[10:25] = True
    voice[10:25] = 0
    level = np.where(voice == 1, -26.0, -32.0)
    level[10:25] = level_dbfs
    z = np.where(raised, 3.0, 0.0)
    return WindowFeatures(
        start_s=np.arange(n, dtype=np.float64), end_s=np.arange(n) + 1.0,
        f0_median_hz=np.where(raised, 100.0 * 2 ** (2.6 / 12), 100.0),
        f0_variability_st=np.ones(n), f0_steadiness=np.full(n, 0.1), voiced_fraction=np.ones(n),
        level_dbfs=level, gain_change_db=np.zeros(n), balance_db=np.zeros(n),
        syllable_rate_hz=np.ones(n), flatness=np.full(n, 0.1), speech=np.ones(n, dtype=bool),
        voice=voice, z_pitch=z, z_level=z, z_balance=z * 0, z_rate=z * 0,
        z_variability=z * 0, score=z + 1, score_sustained=z + 1, flagged=raised,
        segment=np.full(n, -1),
    )  # fmt: skip


def test_the_quieter_of_two_voices_is_louder_only_over_both_voices_usual_level():
    """A 15-s stretch of the quieter voice 2.6 st up (under the 3 st the floor rule asks) and
    7 dB over its own level but 1 dB over the other voice's: the other voice's windows, or
    both voices at once, read so (`level_over_loudest`), and the loud branch does not take
    it. 13 dB over its own level, 7 over the other's, it does."""
    baselines = [
        Baseline(20, 100.0, 0.8, level, 2.0, 1.0, 0.3, -10.0, 2.0, 1.0, 0.5, 1, 0)
        for level in (-32.0, -26.0)
    ]
    params = EscalationParams()
    near = _quieter_voice_run(-25.0)
    assert find_segments(near, baselines, params, _frames(near)) == []
    loud = _quieter_voice_run(-19.0)
    (segment,) = find_segments(loud, baselines, params, _frames(loud))
    assert (segment.start_s, segment.end_s, segment.voice) == (10.0, 25.0, 0)
    assert segment.level_change_db == pytest.approx(13.0)
    assert level_over_loudest(7.0, baselines, 0) == pytest.approx(1.0)
    assert level_over_loudest(7.0, baselines, 1) == pytest.approx(7.0)
    assert level_over_loudest(7.0, baselines[:1], 0) == pytest.approx(7.0)


def test_a_conversation_of_voices_8_5_semitones_apart_is_not_an_escalation(fake_service, tones):
    """A man and a woman taking 10-s turns at one level, 8.5 st apart (the smoothed pitch
    shows two states within one voice's escalation range): no finding, the two-voice note."""
    low = [tones(SR, 10, [], base_hz=130.0, seed=seed) for seed in range(6)]
    high = [tones(SR, 10, [], base_hz=130.0 * 2 ** (8.5 / 12), seed=10 + s) for s in range(6)]
    y = np.concatenate([part for pair in zip(low, high, strict=True) for part in pair])
    report = fake_service.detect_emotional_escalation(y, SR)
    assert report.segments == []
    assert any("two voices take turns" in text for text in report.warnings)


def test_a_long_rise_of_one_voice_is_not_taken_for_a_second_voice(fake_service, tones):
    """+8.5 st over 40% of the speech: as far apart as the conversation above, but in one
    stretch, not in turns, so one voice escalating: found, and no two-voice note."""
    y = tones(SR, 120, [(60, 108)], base_hz=130.0, raise_st=8.5, gain_db=0.0)
    report = fake_service.detect_emotional_escalation(y, SR)
    found = sum(s.end_s - s.start_s for s in report.segments)
    assert found >= 0.8 * 48
    assert not any("two voices" in text for text in report.warnings)


def test_lone_octave_slips_of_one_voice_are_not_a_second_voice(fake_service, tones):
    """One voice (130 Hz) with a long +8.5 st rise over 40 % of the speech, and through its
    calm part a lone window every 5 s an octave up and 10 dB down (the pitch track slipping in
    a reverberant tail): the slips take no turns, so no second voice, and the rise is found."""
    y = tones(SR, 120, [(60, 108)], base_hz=130.0, raise_st=8.5, gain_db=0.0)
    for k, second in enumerate([*range(3, 58, 5), *range(110, 119, 5)]):
        slip = tones(SR, 1, [], base_hz=260.0, seed=100 + k) * 10 ** (-10 / 20)
        y[second * SR : (second + 1) * SR] = slip
    report = fake_service.detect_emotional_escalation(y, SR)
    assert not any("two voices" in text for text in report.warnings)
    found = sum(max(0.0, min(108.0, s.end_s) - max(60.0, s.start_s)) for s in report.segments)
    assert found >= 0.8 * 48


def test_a_call_opened_by_the_upper_voice_is_not_given_to_the_lower_one(fake_service, tones):
    """A calm conversation that the upper voice (180 Hz) opens alone for 11 s, its last word
    10 st higher; then 10-s turns with a lower voice (110 Hz). Near the opening only that one
    word stands apart: it is not a voice of its own (`_LOCAL_GROUP_MIN`), so the opening stays
    the upper voice's and nothing is flagged. (With one window enough, the opening went to the
    lower voice and scored as its escalation.)"""
    opening = np.concatenate([
        tones(SR, 11, [], base_hz=180.0, seed=3),
        tones(SR, 1, [(0, 1)], base_hz=180.0, raise_st=10.0, gain_db=0.0, seed=4),
        np.zeros(2 * SR, dtype=np.float32),
    ])
    turns = [tones(SR, 10, [], base_hz=hz, seed=10 + k) for k in range(7) for hz in (110.0, 180.0)]
    report = fake_service.detect_emotional_escalation(np.concatenate([opening, *turns]), SR)
    assert len(report.voices) == 2
    windows = report.windows
    opened = windows.speech & (windows.start_s < 11)
    assert opened.sum() >= 9
    assert (windows.voice[opened] == 1).all()
    assert report.segments == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("window_s", "1"), ("window_s", float("inf")), ("hop_s", float("nan")),
     ("threshold", "2"), ("threshold", True), ("fmin", None), ("scale_floors", (1, "a", 1, 1, 1)),
     ("min_duration_s", float("inf"))],
)  # fmt: skip
def test_settings_of_the_wrong_type_are_refused_by_name(field, value):
    from gpuaudio.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=f"{field} must be a finite number"):
        EscalationParams(**{field: value}).validate()


@pytest.mark.parametrize(
    "argv",
    [["--window", "nan"], ["--hop", "nan"], ["--threshold", "nan"], ["--window", "inf"],
     ["--min-duration", "inf"]],
)  # fmt: skip
def test_cli_refuses_non_finite_settings_in_one_line(tmp_path, tones, capsys, argv):
    from gpuaudio.cli import main

    audio = tmp_path / "call.wav"
    sf.write(audio, tones(SR, 12, []), SR)
    assert main(["analyze", str(audio), "-o", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gpuaudio: error: ") and "finite" in err[0]
    assert not (tmp_path / "out").exists()


def test_a_pause_inside_an_escalation_does_not_split_it(fake_service, tones):
    """A 6-s silence inside a 30-s escalation: one segment across it (`max_pause_s`); with
    `max_pause_s=0` the pause splits it in two."""
    call = tones(SR, 90, [(40, 70)])
    y = np.concatenate([call[: 55 * SR], np.zeros(6 * SR, np.float32), call[55 * SR :]])
    bridged = fake_service.detect_emotional_escalation(y, SR)
    assert [(round(s.start_s), round(s.end_s)) for s in bridged.segments] == [(40, 76)]
    split = fake_service.detect_emotional_escalation(y, SR, max_pause_s=0.0)
    assert len(split.segments) == 2


def test_a_voice_in_turns_is_smoothed_over_its_own_nearest_windows():
    """One of two voices (`own_turns`): each window's context is the voice's own 9 nearest
    speech windows however far apart its turns lie, not the few of them within +-4.5 s."""
    from gpuaudio.analysis.cues import FEATURES
    from gpuaudio.analysis.escalation import EscalationParams, _smooth

    n = 120
    turns = (np.arange(n) // 2) % 5 == 0  # 2-s turns, 8 s of the other voice between them
    values = np.arange(n, dtype=np.float64)
    cues = tuple(values.copy() for _ in FEATURES)
    params = EscalationParams()
    own = _smooth(cues, turns, params, own_turns=True)
    by_time = _smooth(cues, turns, params)
    index = np.flatnonzero(turns)
    for k in range(4, index.size - 4):
        nearest = values[index[k - 4 : k + 5]]
        assert own[0][index[k]] == pytest.approx(np.median(nearest))
        assert own[FEATURES.index("rate")][index[k]] == pytest.approx(np.mean(nearest))
        assert np.count_nonzero(turns[max(0, index[k] - 4) : index[k] + 5]) <= 3  # by time
    assert np.isnan(own[0][~turns]).all() and np.isnan(by_time[0][~turns]).all()
    assert not np.allclose(own[0][turns], by_time[0][turns])


def test_a_low_voice_with_a_sixth_of_the_speech_is_still_a_voice(fake_service, tones):
    """A man (110 Hz) answering a woman (220 Hz) in 2-s turns between her 9-s ones holds ~18 %
    of the speech (a low voice behind a phone line loses windows to the voicing decision):
    two voices, each window given to its speaker, nothing flagged."""
    turns = [
        part
        for k in range(10)
        for part in (
            tones(SR, 9, [], base_hz=220.0, seed=k),
            tones(SR, 2, [], base_hz=110.0, seed=50 + k),
        )
    ]
    report = fake_service.detect_emotional_escalation(np.concatenate(turns), SR)
    windows = report.windows
    speech = windows.speech
    own_turn = ((windows.start_s % 11) >= 9).astype(int)  # 1: the man's turn
    assert 0.15 < own_turn[speech].mean() < 0.2
    assert len(report.voices) == 2
    assert ((1 - windows.voice[speech]) == own_turn[speech]).mean() >= 0.95  # voice 0: lower
    assert report.segments == []


@pytest.mark.parametrize("seed", range(4))
def test_two_voices_are_found_where_em_from_the_quartiles_splits_one_of_them(seed):
    """Windows' pitch (st) of a phone conversation: a man (82 st, a quarter of the speech) in
    short turns, a woman calm (91.5 st) then raised (96 st) in long ones, two stray windows an
    octave up. EM from the quartiles splits her calm turns from her raised ones and leaves him
    in one wide state with her calm pitch (not two voices); started from the lower half it
    finds the two voices ~11 st apart, and that fit is the likelier."""
    from gpuaudio.analysis.states import two_states
    from gpuaudio.analysis.voices import two_voices

    rng = np.random.default_rng(seed)
    man = np.array_split(rng.normal(82.0, 1.0, 24), 6)
    calm = np.array_split(rng.normal(91.5, 1.5, 48), 4)
    raised = np.array_split(rng.normal(96.0, 1.3, 26), 2)
    woman = calm[:2] + raised + calm[2:]
    turns = [part for pair in zip(man, woman, strict=True) for part in pair]
    pitch = np.concatenate([*turns, [105.0, 105.5]])
    speech = np.ones(pitch.size, dtype=bool)
    quartiles = two_states(pitch, speech)
    assert quartiles is not None and quartiles.distance < 8.0  # the split inside her turns

    voices = two_voices((pitch, *(np.zeros(pitch.size) for _ in range(4))), speech)
    assert voices is not None
    assert 9.0 < voices.distance < 13.0  # 82 st against her calm and raised turns (~93)
    assert voices.log_likelihood > quartiles.log_likelihood
    is_man = np.concatenate([np.full(part.size, k % 2 == 0) for k, part in enumerate(turns)])
    assert (voices.lower[: is_man.size] == is_man).mean() >= 0.95


def test_a_sustained_rise_s_weaker_windows_do_not_cost_what_the_score_found():
    """A 10-s stretch raised 4 st (score 4) followed by 8 s that only a sustained rise flagged
    (score 2, the voice's calm pitch): as one 18-s run its floor stays where the calm speech's
    is and the floor rule drops it; judged again without the sustained rise's windows, the
    10-s stretch is the segment the score alone finds."""
    n = 60
    start = np.arange(n, dtype=np.float64)
    raised = (start >= 20) & (start < 30)
    lifted = (start >= 30) & (start < 38)
    score = np.where(raised, 4.0, np.where(lifted, 2.0, 0.0))
    z = np.where(raised, 3.0, 0.0)
    windows = WindowFeatures(
        start_s=start, end_s=start + 1, f0_median_hz=np.where(raised, 100.0 * 2 ** (4 / 12), 100.0),
        f0_variability_st=np.ones(n), f0_steadiness=np.full(n, 0.1), voiced_fraction=np.ones(n),
        level_dbfs=np.full(n, -26.0), gain_change_db=np.zeros(n), balance_db=np.zeros(n),
        syllable_rate_hz=np.ones(n), flatness=np.full(n, 0.1), speech=np.ones(n, dtype=bool),
        voice=np.zeros(n, dtype=np.int64), z_pitch=z, z_level=z * 0, z_balance=z * 0,
        z_rate=z * 0, z_variability=z * 0, score=score, score_sustained=np.where(
            raised | lifted, 3.5, 0.0), flagged=raised | lifted, segment=np.full(n, -1),
    )  # fmt: skip
    baselines = [Baseline(42, 100.0, 0.8, -26.0, 2.0, 1.0, 0.3, -10.0, 2.0, 1.0, 0.5, 1, 0)]
    params = EscalationParams()
    (segment,) = find_segments(windows, baselines, params, _frames(windows))
    assert (segment.start_s, segment.end_s) == (20.0, 30.0)
    assert segment.floor_change_st == pytest.approx(4.0, abs=0.1)
    # the 18-s run as a whole is what the floor rule drops
    whole = replace(windows, score=np.where(raised | lifted, 4.0, 0.0))
    assert find_segments(whole, baselines, params, _frames(whole)) == []
