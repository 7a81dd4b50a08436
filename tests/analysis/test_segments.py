"""The segment rules on their own (`analysis/segments.py`): how flagged windows merge into runs,
and how far a stretch lifts a voice's floor. The rules' effect on whole analyses is tested in
test_escalation.py and test_streaming.py (the monitor opens segments by the same rules)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpuaudio.analysis.escalation import EscalationParams
from gpuaudio.analysis.segments import floor_change, frame_pitch, merge_runs, segment_voice

PARAMS = EscalationParams()  # max_gap_s 2, max_pause_s 10, 1-s windows


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.arange(n, dtype=float)
    return starts, starts + 1.0


def _mask(n: int, indices: list[int] | range) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[list(indices)] = True
    return mask


def test_flagged_windows_merge_across_a_short_gap_and_a_pause_but_not_calm_speech() -> None:
    starts, ends = _grid(60)
    flagged = _mask(60, [0, 1, 4, 5, 20, 21, 27, 28, 40, 41, 45, 46])
    calm = _mask(60, [2, 3, 43])
    runs = merge_runs(starts, ends, flagged, calm, PARAMS)
    # 1 -> 4: a gap of 2 s (max_gap_s), calm speech in it or not; 5 -> 20: 14 s of no
    # speech is longer than max_pause_s; 21 -> 27: 5 s of no speech is a pause; 41 -> 45:
    # 3 s with calm speech in it breaks the run.
    assert [members for members, _ in runs] == [[0, 1, 4, 5], [20, 21, 27, 28], [40, 41], [45, 46]]


def test_a_run_says_whether_it_bridged_the_other_voice() -> None:
    starts, ends = _grid(30)
    flagged = _mask(30, [0, 1, 6, 7, 20, 21])
    others = _mask(30, [3, 4])  # the other voice speaks between 1 and 6 only
    runs = merge_runs(starts, ends, flagged, np.zeros(30, bool), PARAMS, others=others)
    assert runs == [([0, 1, 6, 7], True), ([20, 21], False)]


def test_floor_change_is_the_rise_of_the_voice_s_20th_percentile_over_its_calm_speech() -> None:
    n, frames = 40, 10
    f0 = np.full((n, frames), 100.0)
    f0[20:30] = 100.0 * 2 ** (4 / 12)  # the stretch 20-29: +4 st throughout
    f0[25, :3] = np.nan  # unvoiced frames do not count
    f0[26, 0] = 50.0  # an octave slip (over 8 st from its window's median) does not either
    pitch = frame_pitch(f0.ravel(), n)
    assert np.isnan(pitch[26, 0]) and np.isnan(pitch[25, :3]).all()
    speech = np.ones(n, dtype=bool)
    voices = np.zeros(n, dtype=np.int64)
    flagged = _mask(n, range(20, 30))
    rise = floor_change(pitch, speech, voices, flagged, 0, 20, 29)
    assert rise == pytest.approx(4.0, abs=1e-9)
    # The other voice's windows count neither in the stretch nor in the calm reference.
    voices[22:24] = 1
    voices[0:5] = 1
    pitch_other = pitch.copy()
    pitch_other[0:5] = 30.0
    assert floor_change(pitch_other, speech, voices, flagged, 0, 20, 29) == pytest.approx(4.0)
    assert math.isnan(floor_change(pitch, speech, voices, flagged, 1, 30, 39))  # none of voice 1


def test_a_segment_belongs_to_the_voice_of_most_of_its_windows_that_has_a_baseline() -> None:
    fit = object()  # segment_voice asks only whether a voice has a baseline
    most_of_voice_1 = np.array([1, 1, 1, 0, 0])
    assert segment_voice(most_of_voice_1, [fit, fit]) == 1
    assert segment_voice(most_of_voice_1, [fit, None]) == 0  # voice 1 has too little speech
    assert segment_voice(np.array([0, 1]), [fit, fit]) == 0  # a tie: the lower voice
    # The live monitor before its first fit: no baseline yet, the voice of most windows.
    assert segment_voice(most_of_voice_1, []) == 1
    assert segment_voice(np.array([-1, -1, 1]), []) == 0  # no voice yet counts as voice 0
