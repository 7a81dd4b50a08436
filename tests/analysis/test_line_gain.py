"""A phone line's automatic gain control (AGC) behind the level cue: the gain it takes from a
raised voice is read back from the noise floor (`EscalationParams.max_gain_correction_db`,
`WindowFeatures.gain_change_db`)."""

from __future__ import annotations

import re

import numpy as np
import pytest

SR = 16000
SPAN = (30, 42)
NOISE_DBFS = -60.0


def _noisy(y: np.ndarray, noise_dbfs: float = NOISE_DBFS, seed: int = 0) -> np.ndarray:
    """White noise under the voice, as a talker's room puts it into the microphone."""
    rng = np.random.default_rng(seed)
    return (y + rng.normal(0.0, 10 ** (noise_dbfs / 20), y.size)).astype(np.float32)


def _agc(x: np.ndarray, sr: int, target_dbfs: float = -26.0, time_s: float = 0.5) -> np.ndarray:
    """An AGC that holds the voice at `target_dbfs`: 10-ms frames, their level followed with a
    `time_s` time constant over frames within 12 dB of it (pauses hold it), gain = target -
    level. Everything in the line, the noise included, gets the gain."""
    hop = sr // 100
    n = x.size // hop
    frame_db = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, 1))
    level, keep = target_dbfs, np.exp(-0.01 / time_s)
    gains = np.empty(n)
    for i, db in enumerate(frame_db):
        if db > level - 12:
            level = keep * level + (1 - keep) * db
        gains[i] = target_dbfs - level
    gain = np.concatenate([np.repeat(gains, hop), np.full(x.size - n * hop, gains[-1])])
    return (x * 10 ** (gain / 20)).astype(np.float32)


@pytest.fixture(scope="module")
def raised(tones):
    """60 s of a steady voice, +1.6 st and +8 dB from 30 to 42 s: the pitch alone is not
    enough to flag it, the pitch with the level is. (At 400 Hz: the tone is in the telephone
    band that the voice-activity decision looks at, so noise does not make it noise.)"""
    return _noisy(tones(SR, 60, [SPAN], base_hz=400.0, raise_st=1.6, gain_db=8.0))


def test_the_gain_an_agc_takes_is_read_from_the_noise_floor(fake_service, raised):
    """(The floor rule is off: a 12-s rise of 1.6 st is too small for it, louder or not, when
    the line's AGC leaves the level as it was: `EscalationParams.floor_segment_s`.)"""
    line = _agc(raised, SR)
    report = fake_service.detect_emotional_escalation(line, SR, floor_segment_s=0.0)
    w = report.windows
    inside, before = slice(SPAN[0] + 2, SPAN[1] - 2), slice(0, SPAN[0] - 10)
    # The AGC took the level rise: under 2.5 of the 8 dB are left...
    assert np.median(w.level_dbfs[inside]) - np.median(w.level_dbfs[before]) < 2.5
    # ...and turned the room's noise down with the voice: that is the gain read back, from
    # where the rise begins to where it ends (once the AGC gives the gain back), not before
    # or after it (a centred 10-s context read 5-6 dB of it 8 s early: `running_noise_floor`).
    assert np.median(w.gain_change_db[inside]) == pytest.approx(-8.0, abs=1.5)
    outside = np.r_[0 : SPAN[0] - 1, SPAN[1] + 1 : w.start_s.size]
    assert np.abs(w.gain_change_db[outside]).max() < 1.0
    (segment,) = report.segments
    assert SPAN[0] - 1 <= segment.start_s <= SPAN[0] + 3
    assert SPAN[1] - 3 <= segment.end_s <= SPAN[1] + 2
    assert "level" in segment.drivers
    # The segment's level change is the recording's, as a listener hears it: the AGC's work.
    assert segment.level_change_db < 2.5
    (note,) = [w for w in report.warnings if "automatic gain control" in w]
    read_back = re.match(r"segment\(s\) 1 \((\d+) dB\): ", note)
    assert read_back and 6 <= int(read_back.group(1)) <= 9 and "--max-gain-correction 0" in note
    without = fake_service.detect_emotional_escalation(
        line, SR, max_gain_correction_db=0.0, floor_segment_s=0.0
    )
    assert without.segments == [] and not without.windows.gain_change_db.any()


def test_a_short_rise_behind_an_agc_keeps_its_own_length_and_floor(fake_service, tones):
    """12 s up 3.5 st (and 8 dB, which the AGC takes): with the floor rule on, the segment is
    the rise, its floor lifted by the whole rise. Read from a centred context, the gain taken
    leaked into the calm seconds after it: the segment ran 5 s long and those calm windows
    brought its floor down to the rule's 2 st."""
    line = _agc(_noisy(tones(SR, 60, [SPAN], base_hz=400.0, raise_st=3.5, gain_db=8.0)), SR)
    (segment,) = fake_service.detect_emotional_escalation(line, SR).segments
    assert abs(segment.start_s - SPAN[0]) <= 1 and abs(segment.end_s - SPAN[1]) <= 1
    assert segment.floor_change_st > 3.0


def test_a_steady_floor_changes_nothing(fake_service, raised):
    """Without an AGC the floor stays where it is: the same segment with or without the
    correction, found by the level itself. (The floor rule is off: 12 s 8 dB louder with the
    pitch 1.6 st up are too small a pitch rise for it: `loud_min_pitch_rise_st`.)"""
    report = fake_service.detect_emotional_escalation(raised, SR, floor_segment_s=0.0)
    assert np.abs(report.windows.gain_change_db).max() < 1.0
    without = fake_service.detect_emotional_escalation(
        raised, SR, max_gain_correction_db=0.0, floor_segment_s=0.0
    )
    assert [(s.start_s, s.end_s) for s in report.segments] == [
        (s.start_s, s.end_s) for s in without.segments
    ]
    assert len(report.segments) == 1
    assert not any("automatic gain control" in w for w in report.warnings)


def test_digital_silence_is_not_a_noise_floor(fake_service, tones):
    """Exact zeros in the pauses (a gated or padded stretch) measure no floor: no gain is read
    from them, though they are 140 dB under the noise of the rest of the call."""
    y = tones(SR, 60, [], base_hz=400.0)
    y[: 45 * SR] = _noisy(y[: 45 * SR])
    report = fake_service.detect_emotional_escalation(y, SR)
    change = report.windows.gain_change_db
    assert report.windows.speech[45:].all()
    assert np.abs(change).max() < 1.0
    assert not change[56:].any()  # no noise within 10 s: nothing measured, nothing changed


def test_a_quieter_lead_in_is_not_gain_taken_away(fake_service, tones):
    """A recording that starts before the call connects and runs on after it: 30 s of a
    quieter hiss at either end are not the call's background. Read as one, their floor 12 dB
    under the call's made its first and last seconds look turned down by an AGC."""
    rng = np.random.default_rng(1)
    call = _noisy(tones(SR, 60, [], base_hz=400.0))
    hiss = rng.normal(0.0, 10 ** ((NOISE_DBFS - 12) / 20), 30 * SR).astype(np.float32)
    report = fake_service.detect_emotional_escalation(np.concatenate([hiss, call, hiss]), SR)
    w = report.windows
    assert not w.speech[:30].any() and not w.speech[90:].any()
    assert w.speech[30:90].mean() > 0.9
    assert np.abs(w.gain_change_db).max() < 1.0
    assert report.segments == []
