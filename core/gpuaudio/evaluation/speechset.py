"""Known-F0 speech sets: reading one from disk and scoring an F0 estimator on it.

A set directory (``benchmarks/known_f0/make_speechset.py`` writes them) holds:

- ``manifest.json``: ``sr``, ``conditions`` (name -> SNR in dB of added noise, ``null`` for
  none) and ``recordings``, each with an ``id``, its ``files`` per condition and its ``truth``;
- ``<id>_<condition>.flac``: mono audio at ``sr``;
- ``<id>_f0.csv``: the truth, ``time_s,f0_hz`` rows, ``0`` where unvoiced.

Scores are pooled over every frame of every recording of a condition (`gpuaudio.evaluation.metrics`,
mir_eval's definitions), each estimate on its own frame grid against the truth resampled to it.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gpuaudio.errors import AudioFileError
from gpuaudio.evaluation.metrics import F0Scores, f0_scores, resample_f0

F0Estimate = tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]
"""(frame times in s, F0 in Hz with NaN or 0 where unvoiced, voiced flags)."""
F0Estimator = Callable[[npt.NDArray[np.float32], int], F0Estimate]
"""Maps (mono float32 audio, sample rate) to an `F0Estimate`."""


@dataclass(frozen=True)
class SetRecording:
    """One recording of a set: its audio per condition and its truth."""

    id: str
    entry: Mapping[str, Any]
    sr: int
    times: npt.NDArray[np.float64]
    f0: npt.NDArray[np.float64]
    """Truth F0 in Hz, NaN where unvoiced (the CSV's 0)."""
    directory: Path

    def audio(self, condition: str = "clean") -> npt.NDArray[np.float32]:
        """The float32 samples of one condition (mono at the manifest's rate, or an error)."""
        from gpuaudio.audio_io import audio_info, read_audio

        path = self.directory / self.entry["files"][condition]
        info = audio_info(path)  # AudioFileError for missing, empty or undecodable files
        if info.sample_rate != self.sr or info.channels != 1:
            raise AudioFileError(
                f"{path}: expected mono at {self.sr} Hz (the manifest's sr), "
                f"found {info.channels} channel(s) at {info.sample_rate} Hz"
            )
        return read_audio(path, self.sr)

    @property
    def spans(self) -> list[tuple[float, float]]:
        """Escalation spans in seconds (empty for speech-set and calm recordings)."""
        return [(float(a), float(b)) for a, b in self.entry.get("escalations", [])]


@dataclass(frozen=True)
class SpeechSet:
    """A set directory, read and checked: its manifest and recordings."""

    directory: Path
    manifest: Mapping[str, Any]
    recordings: tuple[SetRecording, ...]

    @property
    def sr(self) -> int:
        return int(self.manifest["sr"])

    @property
    def conditions(self) -> dict[str, float | None]:
        """Condition name -> SNR in dB of the added noise (None: no noise)."""
        return dict(self.manifest["conditions"])


def condition_label(name: str, snr_db: float | None) -> str:
    """How a condition is shown in tables: ``"20 dB"`` for an SNR, else its name."""
    return name if snr_db is None else f"{snr_db:g} dB"


def write_truth(path: Path, times: npt.ArrayLike, f0: npt.ArrayLike) -> None:
    """Write ``time_s,f0_hz`` rows (0 Hz = unvoiced)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["time_s", "f0_hz"])
        for t, hz in zip(np.asarray(times), np.nan_to_num(np.asarray(f0), nan=0.0), strict=True):
            writer.writerow([f"{t:.3f}", f"{hz:.4f}"])


def read_truth(path: Path) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Times (s) and F0 (Hz, NaN where unvoiced) from a truth CSV."""
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise AudioFileError(f"{path}: not a time_s,f0_hz truth table ({exc})") from exc
    if table.shape[1] != 2 or table.shape[0] == 0 or np.any(np.diff(table[:, 0]) <= 0):
        raise AudioFileError(f"{path}: want rows of time_s,f0_hz with increasing times")
    f0 = table[:, 1].copy()
    f0[f0 <= 0] = np.nan
    return table[:, 0].copy(), f0


def load_set(directory: str | os.PathLike[str]) -> SpeechSet:
    """Read a set directory; `AudioFileError` says what is missing or malformed.

    The manifest and every truth table are read and every listed audio file must exist, so a
    broken set fails here, before any estimator runs.
    """
    root = Path(directory)
    manifest_path = root / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        sr, conditions = int(manifest["sr"]), dict(manifest["conditions"])
        entries = list(manifest["recordings"])
    except FileNotFoundError as exc:
        raise AudioFileError(f"{root} is not a known-F0 set: no manifest.json in it") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AudioFileError(
            f"{manifest_path}: want JSON with sr, conditions and recordings ({exc!r})"
        ) from exc
    if not entries or not conditions:
        raise AudioFileError(f"{manifest_path}: lists no recordings or no conditions")
    recordings = []
    for entry in entries:
        try:
            files = {condition: root / entry["files"][condition] for condition in conditions}
            truth = root / entry["truth"]
        except (KeyError, TypeError) as exc:
            raise AudioFileError(
                f"{manifest_path}: recording {entry.get('id', '?')!r} lacks {exc} "
                f"(every recording needs id, truth and a file per condition)"
            ) from exc
        missing = [str(path) for path in (*files.values(), truth) if not path.is_file()]
        if missing:
            raise AudioFileError(f"{manifest_path}: listed files are missing: {missing}")
        times, f0 = read_truth(truth)
        recordings.append(SetRecording(str(entry["id"]), entry, sr, times, f0, root))
    return SpeechSet(root, manifest, tuple(recordings))


@dataclass(frozen=True)
class ConditionScore:
    """Pooled scores of one estimator on one condition of a set."""

    scores: F0Scores
    seconds: float
    """Time spent in the estimator (reading the audio excluded)."""

    def as_dict(self) -> dict[str, float]:
        return {**self.scores.as_dict(), "seconds": round(self.seconds, 3)}


def score_estimator(
    estimate: F0Estimator,
    speech_set: SpeechSet,
    conditions: Iterable[str] | None = None,
) -> dict[str, ConditionScore]:
    """Run `estimate` on every recording of each condition (all when None); pooled scores."""
    results: dict[str, ConditionScore] = {}
    for condition in conditions if conditions is not None else speech_set.conditions:
        references, estimates, flags, seconds = [], [], [], 0.0
        for recording in speech_set.recordings:
            audio = recording.audio(condition)
            started = time.perf_counter()
            times, f0, voiced = estimate(audio, recording.sr)
            seconds += time.perf_counter() - started
            references.append(resample_f0(recording.times, recording.f0, np.asarray(times)))
            estimates.append(np.asarray(f0, dtype=np.float64).ravel())
            flags.append(np.asarray(voiced, dtype=bool).ravel())
        scores = f0_scores(
            np.concatenate(references), np.concatenate(estimates), np.concatenate(flags)
        )
        results[condition] = ConditionScore(scores, seconds)
    return results
