"""Reading (and the shared conventions of) the known-F0 speech set in ``data/``.

Layout of a set directory (written by ``make_speechset.py``):

- ``manifest.json``: sample rate, frame period, noise kind, and one entry per recording with its
  files per condition, voice, text, the F0 alteration and (escalation sets) the spans.
- ``<id>_<condition>.flac``: 16 kHz, 16-bit mono; conditions ``clean``, ``snr20``, ``snr05``.
- ``<id>_f0.csv``: the truth, ``time_s,f0_hz`` every 5 ms from 0; ``0`` where unvoiced. It is
  exactly the F0 that WORLD synthesised the recording from.
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

DATA_DIR = Path(__file__).resolve().parent / "data"
SPEECH_DIR = DATA_DIR / "speech"
ESCALATION_DIR = DATA_DIR / "escalation"
SR = 16000
FRAME_PERIOD_MS = 5.0
CONDITIONS: dict[str, float | None] = {"clean": None, "snr20": 20.0, "snr05": 5.0}
"""Condition name -> SNR in dB of the added pink noise over the whole recording (None: none)."""


@dataclass(frozen=True)
class Recording:
    """One recording of a set: its audio per condition and its truth."""

    id: str
    entry: dict[str, Any]
    times: np.ndarray
    f0: np.ndarray
    """Truth F0 in Hz, NaN where unvoiced (the CSV's 0)."""
    directory: Path

    def audio(self, condition: str = "clean") -> np.ndarray:
        """The float32 samples of one condition."""
        samples, sr = sf.read(self.directory / self.entry["files"][condition], dtype="float32")
        if sr != SR:
            raise ValueError(f"{self.id}: expected {SR} Hz, file has {sr} Hz")
        return np.asarray(samples)

    @property
    def spans(self) -> list[tuple[float, float]]:
        """Escalation spans in seconds (empty for speech-set and calm recordings)."""
        return [(float(a), float(b)) for a, b in self.entry.get("escalations", [])]


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


def write_truth(path: Path, times: np.ndarray, f0: np.ndarray) -> None:
    """Write ``time_s,f0_hz`` rows (0 Hz = unvoiced)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["time_s", "f0_hz"])
        for t, hz in zip(times, np.nan_to_num(f0, nan=0.0), strict=True):
            writer.writerow([f"{t:.3f}", f"{hz:.4f}"])


def read_truth(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and F0 (Hz, NaN where unvoiced) from a truth CSV."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    f0 = table[:, 1].copy()
    f0[f0 <= 0] = np.nan
    return table[:, 0], f0


def load_set(directory: Path = SPEECH_DIR) -> list[Recording]:
    """Every recording listed in a set's manifest."""
    manifest = json.loads((directory / "manifest.json").read_text())
    recordings = []
    for entry in manifest["recordings"]:
        times, f0 = read_truth(directory / entry["truth"])
        recordings.append(Recording(entry["id"], entry, times, f0, directory))
    return recordings
