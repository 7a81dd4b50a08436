"""The crepe backend (tiny model, CPU) passes gpuaudio's F0 conformance suite."""

from typing import Any, ClassVar

from gpuaudio.testing import F0BackendConformance


class TestCrepeTinyF0(F0BackendConformance):
    backend = "crepe"
    options: ClassVar[dict[str, Any]] = {"model": "tiny"}
    max_cents = 10.0  # measured ~2 cents on the 220 Hz tone (refined Viterbi path)
    min_voiced = 0.95
