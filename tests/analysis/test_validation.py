"""Against ground truth with the real backends: WORLD re-synthesised speech with a known
escalation span (the small committed example of benchmarks/known_f0), and calm speech.
The full-size validation is `python benchmarks/escalation_bench.py validate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuaudio import AudioFeatureService
from gpuaudio.analysis.escalation import detect_escalation_file
from gpuaudio.evaluation.metrics import interval_scores
from gpuaudio.evaluation.synth import synthesize_speech

ESCALATION_SET = Path(__file__).parents[2] / "benchmarks" / "known_f0" / "data" / "escalation"


@pytest.fixture(scope="module")
def service():
    return AudioFeatureService({})


def _recordings():
    manifest = json.loads((ESCALATION_SET / "manifest.json").read_text())
    return {entry["id"]: entry for entry in manifest["recordings"]}


def test_world_escalation_span_is_found(service):
    entry = _recordings()["escalation"]
    report, _ = detect_escalation_file(service, ESCALATION_SET / entry["files"]["clean"])
    found = [(s.start_s, s.end_s) for s in report.segments]
    scores = interval_scores(entry["escalations"], found, duration_s=report.duration_s)
    assert scores.detected == len(entry["escalations"]) == 1
    assert scores.false_alarms == 0
    assert scores.recall >= 0.9 and scores.precision >= 0.8
    (segment,) = report.segments
    assert segment.pitch_change_st > 2.0 and segment.level_change_db > 3.0


def test_world_calm_recording_has_no_escalation(service):
    entry = _recordings()["calm"]
    report, _ = detect_escalation_file(service, ESCALATION_SET / entry["files"]["clean"])
    assert report.segments == []
    assert report.baseline is not None and report.baseline.n_windows >= 15


@pytest.mark.parametrize("seed", [1, 2])
def test_calm_synthetic_speech_has_no_escalation(service, seed):
    audio, truth = synthesize_speech(45.0, sr=16000, seed=seed, base_f0=190.0)
    report = service.detect_emotional_escalation(audio, truth.sr)
    assert report.segments == []
    assert report.baseline.f0_median_hz == pytest.approx(190.0, rel=0.1)
