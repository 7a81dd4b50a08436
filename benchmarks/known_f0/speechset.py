"""Where the committed known-F0 sets live, and the conventions ``make_speechset.py`` writes by.

Reading a set and scoring an estimator on it is `gpuaudio.speechset` (shared with
``gpuaudio bench --known-f0 DIR``); this module keeps what only the generator and the scripts
beside it need.
"""

from __future__ import annotations

import importlib.metadata
import sys
import types
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SPEECH_DIR = DATA_DIR / "speech"
ESCALATION_DIR = DATA_DIR / "escalation"
SR = 16000
FRAME_PERIOD_MS = 5.0
CONDITIONS: dict[str, float | None] = {"clean": None, "snr20": 20.0, "snr05": 5.0}
"""Condition name -> SNR in dB of the added pink noise over the whole recording (None: none)."""


def import_pyworld() -> types.ModuleType:
    """Import pyworld, whose ``__init__`` needs ``pkg_resources`` (gone from setuptools >= 81)."""
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            shim = types.ModuleType("pkg_resources")
            version = importlib.metadata.version("pyworld")
            shim.get_distribution = lambda _name: types.SimpleNamespace(version=version)  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
    import pyworld

    return pyworld
