"""Memory flat in recording length (issue 12, item 5): the analysis runs in window-aligned
chunks of at most ANALYSIS_CHUNK_S, with the same results as one piece."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import gpuaudio.analysis.escalation as escalation
from gpuaudio import AudioFeatureService
from gpuaudio.config import load_config
from gpuaudio.evaluation.synth import demo_call


def test_default_chunk_is_well_below_an_hour_and_a_shorter_config_wins():
    assert escalation.ANALYSIS_CHUNK_S <= 900
    assert escalation.analysis_chunk_s(AudioFeatureService()) == escalation.ANALYSIS_CHUNK_S
    short = AudioFeatureService(load_config({"memory": {"chunk_seconds": 120}}))
    assert escalation.analysis_chunk_s(short) == 120


@pytest.mark.parametrize("sr", [16000, 22050])
def test_chunked_analysis_equals_one_piece(tmp_path, monkeypatch, sr):
    audio, _ = demo_call(sr=sr)  # 75 s with two escalations
    path = tmp_path / "call.wav"
    sf.write(path, audio, sr, subtype="FLOAT")
    service = AudioFeatureService()
    whole, _ = escalation.detect_escalation_file(service, path, chunk_s=3600)
    monkeypatch.setattr(escalation, "ANALYSIS_CHUNK_S", 7.0)  # the file is ten chunks long
    chunked, _ = escalation.detect_escalation_file(service, path)
    assert chunked.provenance["f0"]["calls"] == 11 > whole.provenance["f0"]["calls"] == 1
    assert whole.segments and chunked.segments == whole.segments
    assert chunked.baseline == whole.baseline
    for name, column in whole.windows.columns().items():
        np.testing.assert_array_equal(chunked.windows.columns()[name], column, err_msg=name)
    np.testing.assert_array_equal(chunked.contour.f0_hz, whole.contour.f0_hz)
