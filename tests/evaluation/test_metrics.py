"""gpuaudio.evaluation.metrics on hand-built cases whose scores are counted by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpuaudio.evaluation.metrics import f0_scores, interval_scores, merge_intervals, resample_f0

NAN = math.nan


def cents_above(f0: float, cents: float) -> float:
    return f0 * 2 ** (cents / 1200)


class TestF0Scores:
    # frame:       0      1                   2                    3      4     5      6     7
    # ref:         100    100                 200                  200    NaN   0      NaN   150
    # est:         100    +49 cents           +51 cents            400    NaN   120    NaN   NaN
    # pitch ok:    yes    yes                 no (51 >= 50)        no     -     -      -     no
    # chroma ok:   yes    yes                 no                   yes    -     -      -     no
    # est voiced:  yes    yes                 yes                  yes    no    yes    no    no
    REF = (100.0, 100.0, 200.0, 200.0, NAN, 0.0, NAN, 150.0)
    EST = (100.0, cents_above(100, 49), cents_above(200, 51), 400.0, NAN, 120.0, NAN, NAN)

    def test_counts(self) -> None:
        s = f0_scores(self.REF, self.EST)
        assert s.n_frames == 8
        assert s.n_ref_voiced == 5
        assert s.raw_pitch_accuracy == pytest.approx(2 / 5)
        assert s.raw_chroma_accuracy == pytest.approx(3 / 5)
        assert s.voicing_recall == pytest.approx(4 / 5)
        assert s.voicing_false_alarm == pytest.approx(1 / 3)
        # right: frames 0, 1 (voiced, pitch ok) + 4, 6 (unvoiced in both)
        assert s.overall_accuracy == pytest.approx(4 / 8)

    def test_pitch_counts_regardless_of_estimated_voicing(self) -> None:
        # mir_eval: a pitch guess on a frame marked unvoiced still counts for RPA, not for OA.
        ref = [100.0, 100.0]
        est = [100.0, 100.0]
        s = f0_scores(ref, est, est_voiced=[True, False])
        assert s.raw_pitch_accuracy == 1.0
        assert s.voicing_recall == 0.5
        assert s.overall_accuracy == 0.5

    def test_tolerance_is_strict_and_symmetric(self) -> None:
        ref = [200.0, 200.0, 200.0]
        est = [cents_above(200, -49.9), cents_above(200, 49.9), cents_above(200, -50.1)]
        assert f0_scores(ref, est).raw_pitch_accuracy == pytest.approx(2 / 3)
        assert f0_scores(ref, est, cent_tolerance=100).raw_pitch_accuracy == 1.0

    def test_octave_below_is_chroma_correct(self) -> None:
        s = f0_scores([200.0], [100.0])
        assert (s.raw_pitch_accuracy, s.raw_chroma_accuracy) == (0.0, 1.0)

    def test_empty_denominators_are_zero_like_mir_eval(self) -> None:
        all_unvoiced = f0_scores([NAN, 0.0], [NAN, 100.0])
        assert all_unvoiced.raw_pitch_accuracy == 0.0
        assert all_unvoiced.voicing_false_alarm == 0.5
        all_voiced = f0_scores([100.0, 100.0], [100.0, NAN])
        assert all_voiced.voicing_false_alarm == 0.0
        assert all_voiced.overall_accuracy == 0.5

    def test_rejects_mismatched_lengths(self) -> None:
        with pytest.raises(ValueError, match="equal in length"):
            f0_scores([100.0, 100.0], [100.0])
        with pytest.raises(ValueError, match="est_voiced"):
            f0_scores([100.0], [100.0], est_voiced=[True, False])


class TestResampleF0:
    TIMES = np.array([0.0, 0.01, 0.02, 0.03, 0.04])
    F0 = np.array([100.0, 200.0, NAN, 300.0, 300.0])

    def test_linear_is_geometric_between_voiced_frames(self) -> None:
        out = resample_f0(self.TIMES, self.F0, [0.005, 0.0025])
        assert out[0] == pytest.approx(100 * np.sqrt(2))  # halfway in log-frequency
        assert out[1] == pytest.approx(100 * 2**0.25)

    def test_unvoiced_stays_unvoiced(self) -> None:
        out = resample_f0(self.TIMES, self.F0, [0.019, 0.021, 0.014, 0.026])
        assert np.isnan(out[0]) and np.isnan(out[1])
        # nearer a voiced frame whose other neighbour is unvoiced: the nearest voiced value
        assert out[2] == 200.0 and out[3] == 300.0

    def test_nearest(self) -> None:
        out = resample_f0(self.TIMES, self.F0, [0.004, 0.006, 0.035], kind="nearest")
        np.testing.assert_array_equal(out, [100.0, 200.0, 300.0])

    def test_outside_the_grid(self) -> None:
        out = resample_f0(self.TIMES, self.F0, [-0.004, -0.006, 0.044, 0.046])
        np.testing.assert_array_equal(np.isnan(out), [False, True, False, True])
        assert out[0] == 100.0 and out[2] == 300.0

    def test_identity_on_the_same_grid(self) -> None:
        out = resample_f0(self.TIMES, self.F0, self.TIMES)
        np.testing.assert_array_equal(out, self.F0)

    def test_zero_means_unvoiced(self) -> None:
        out = resample_f0([0.0, 1.0], [0.0, 100.0], [0.2, 0.8])
        assert np.isnan(out[0]) and out[1] == 100.0

    def test_rejects_unsorted_times(self) -> None:
        with pytest.raises(ValueError, match="increasing"):
            resample_f0([0.0, 0.02, 0.01], [1.0, 1.0, 1.0], [0.0])


class TestIntervals:
    def test_overlap_recall_precision(self) -> None:
        # reference 10 s + 10 s; predicted 15..25 (5 s hit), 40..45 (miss), 100..110 (false alarm)
        ref = [(10.0, 20.0), (40.0, 50.0)]
        pred = [(15.0, 25.0), (40.0, 45.0), (100.0, 110.0)]
        s = interval_scores(ref, pred, duration_s=1800.0)
        assert s.recall == pytest.approx(10 / 20)
        assert s.precision == pytest.approx(10 / 25)
        assert (s.detected, s.n_reference, s.false_alarms) == (2, 2, 1)
        assert s.false_alarms_per_hour == pytest.approx(2.0)

    def test_calm_recording(self) -> None:
        s = interval_scores([], [(1.0, 2.0), (5.0, 6.0)], duration_s=7200.0)
        assert (s.recall, s.precision, s.false_alarms) == (0.0, 0.0, 2)
        assert s.false_alarms_per_hour == pytest.approx(1.0)
        clean = interval_scores([], [], duration_s=60.0)
        assert (clean.false_alarms, clean.false_alarms_per_hour) == (0, 0.0)

    def test_overlapping_predictions_are_not_double_counted(self) -> None:
        s = interval_scores([(0.0, 10.0)], [(0.0, 6.0), (4.0, 8.0)], duration_s=60.0)
        assert s.recall == pytest.approx(0.8)
        assert s.precision == pytest.approx(1.0)

    def test_merge(self) -> None:
        assert merge_intervals([(5, 6), (0, 2), (1, 3), (3, 4)]) == [(0.0, 4.0), (5.0, 6.0)]
        with pytest.raises(ValueError, match="ends before"):
            merge_intervals([(2, 1)])
        with pytest.raises(ValueError, match="duration_s"):
            interval_scores([], [], duration_s=0)
