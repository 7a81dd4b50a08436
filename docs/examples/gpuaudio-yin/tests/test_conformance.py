"""gpuaudio's conformance suite, run against this plugin as installed (through its entry point).

``pytest`` in this folder runs it; gpuaudio's pytest plugin (installed with gpuaudio) adds the
``gpu`` marker and skips GPU tests on machines without CUDA.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from gpuaudio import AudioFeatureService, ConfigError
from gpuaudio.testing import F0BackendConformance, harmonic_tone


class TestYinConformance(F0BackendConformance):
    backend = "yin"
    options: ClassVar[dict[str, Any]] = {"voicing_threshold": 0.5}
    max_cents = 20.0  # measured: ~0 on the 220 Hz tone, a few cents on the sweep
    min_voiced = 0.95


def test_voicing_threshold_out_of_range_is_refused_up_front() -> None:
    with pytest.raises(ConfigError, match=r"yin.voicing_threshold"):
        AudioFeatureService({"backends": {"f0": "yin"}, "yin": {"voicing_threshold": 2}})


def test_environment_strings_reach_the_backend_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    tone = harmonic_tone(220.0, 16000, 0.5) * np.linspace(0.0, 1.0, 8000, dtype=np.float32)
    config = {"backends": {"f0": "yin"}, "fallback": False}
    _, default, _ = AudioFeatureService(config).extract_f0(tone, 16000, frame_length=1024)
    monkeypatch.setenv("GPUAUDIO_YIN__SILENCE_DB", "-20")  # a string, coerced by YinOptions
    _, gated, _ = AudioFeatureService(config).extract_f0(tone, 16000, frame_length=1024)
    assert 0 < np.sum(gated) < np.sum(default)  # the quiet start of the fade-in is now unvoiced


def test_not_chosen_by_auto() -> None:
    service = AudioFeatureService({})
    assert service.plan()["f0"].chosen.spec.name != "yin"
