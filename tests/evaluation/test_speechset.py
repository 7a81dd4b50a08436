"""gpuaudio.evaluation.speechset: reading a known-F0 set (refusing a broken one), pooled scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from gpuaudio.errors import AudioFileError
from gpuaudio.evaluation.speechset import (
    SpeechSet,
    condition_label,
    load_set,
    read_truth,
    score_estimator,
    write_truth,
)

from .conftest import SPEECH_SET

SHORT = ("02_en-us_m3", "08_de_f4")  # a male and a female voice, 1.6 and 2.0 s


def test_committed_set_reads_with_its_truth():
    speech_set = load_set(SPEECH_SET)
    assert speech_set.sr == 16000
    assert speech_set.conditions == {"clean": None, "snr20": 20.0, "snr05": 5.0}
    assert len(speech_set.recordings) >= 8
    for rec in speech_set.recordings:
        assert rec.times.shape == rec.f0.shape
        assert np.all(np.diff(rec.times) > 0)
        voiced = rec.f0[np.isfinite(rec.f0)]
        assert voiced.size > 0.3 * rec.f0.size and np.all((voiced > 50) & (voiced < 600))
    audio = speech_set.recordings[0].audio("snr05")
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size / 16000 == pytest.approx(speech_set.recordings[0].entry["duration_s"])


def _truth_estimator(speech_set: SpeechSet, factor: float = 1.0):
    """An estimator that returns the truth (times factor) of whichever recording it is given."""
    by_size = {rec.audio().size: rec for rec in speech_set.recordings}

    def estimate(audio, sr):
        rec = by_size[audio.size]
        times, f0 = rec.times[::2], rec.f0[::2] * factor  # its own grid: every other frame
        return times, f0, np.isfinite(f0)

    return estimate


def test_scores_pool_every_recording_and_catch_octave_errors(speech_subset):
    speech_set = load_set(speech_subset(*SHORT))
    exact = score_estimator(_truth_estimator(speech_set), speech_set)
    assert list(exact) == ["clean", "snr20", "snr05"]
    for condition in exact.values():
        assert condition.scores.raw_pitch_accuracy == 1.0
        assert condition.scores.voicing_false_alarm == 0.0
        assert condition.seconds >= 0
    frames = exact["clean"].scores.n_frames
    expected = sum(rec.times[::2].size for rec in speech_set.recordings)
    assert frames == expected  # pooled over both recordings, on the estimator's grid
    octave = score_estimator(_truth_estimator(speech_set, 2.0), speech_set, ["clean"])
    assert list(octave) == ["clean"]
    assert octave["clean"].scores.raw_pitch_accuracy == 0.0
    assert octave["clean"].scores.raw_chroma_accuracy == 1.0
    assert octave["clean"].as_dict()["raw_pitch_accuracy"] == 0.0


def test_truth_round_trips(tmp_path):
    times = np.arange(6) * 0.005
    f0 = np.array([np.nan, 110.0, 111.5, np.nan, 220.25, 0.0])
    write_truth(tmp_path / "t.csv", times, f0)
    read_times, read_f0 = read_truth(tmp_path / "t.csv")
    np.testing.assert_allclose(read_times, times)
    np.testing.assert_array_equal(np.isnan(read_f0), [True, False, False, True, False, True])
    np.testing.assert_allclose(read_f0[[1, 2, 4]], [110.0, 111.5, 220.25])


def test_condition_labels():
    assert condition_label("clean", None) == "clean"
    assert condition_label("snr05", 5.0) == "5 dB"
    assert condition_label("snr20", 20.0) == "20 dB"


def _edit_manifest(directory, change):
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_broken_sets_fail_on_load_with_what_is_wrong(speech_subset, tmp_path):
    with pytest.raises(AudioFileError, match=r"no manifest\.json"):
        load_set(tmp_path / "nowhere")

    directory = speech_subset(SHORT[0])
    (directory / "manifest.json").write_text("{not json")
    with pytest.raises(AudioFileError, match="want JSON with sr, conditions and recordings"):
        load_set(directory)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: (d / "02_en-us_m3_snr20.flac").unlink(), "listed files are missing"),
        (lambda d: (d / "02_en-us_m3_f0.csv").write_text("time_s,f0_hz\n0.01,100\n0.0,90\n"),
         "increasing times"),
        (lambda d: (d / "02_en-us_m3_f0.csv").write_text("time_s,f0_hz\nabc,def\n"),
         "not a time_s,f0_hz truth table"),
        (lambda d: _edit_manifest(d, lambda m: m["recordings"][0].pop("truth")), "lacks 'truth'"),
        (lambda d: _edit_manifest(d, lambda m: m.update(recordings=[])), "lists no recordings"),
    ],
)
def test_each_kind_of_breakage_is_named(speech_subset, breakage, message):
    directory = speech_subset(SHORT[0])
    breakage(directory)
    with pytest.raises(AudioFileError, match=message):
        load_set(directory)


def test_audio_of_the_wrong_rate_or_layout_is_refused(speech_subset):
    directory = speech_subset(SHORT[0])
    rec = load_set(directory).recordings[0]
    sf.write(directory / "02_en-us_m3_clean.flac", np.zeros((800, 2)), 16000)
    with pytest.raises(AudioFileError, match="expected mono at 16000 Hz"):
        rec.audio("clean")
    sf.write(directory / "02_en-us_m3_clean.flac", np.zeros(800), 8000)
    with pytest.raises(AudioFileError, match=r"1 channel\(s\) at 8000 Hz"):
        rec.audio("clean")
    (directory / "02_en-us_m3_snr05.flac").write_bytes(b"not audio at all")
    with pytest.raises(AudioFileError, match="cannot decode audio"):
        rec.audio("snr05")
