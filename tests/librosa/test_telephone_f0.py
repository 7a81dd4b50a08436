"""F0 over the telephone line: the known-F0 telephone set, real voices on a telephone line,
and the CPU F0 backends on them.

The telephone set (benchmarks/known_f0/data/telephone) is the speech set's clean recordings
through an 8 kHz, 300-3400 Hz, mu-law channel with line noise at 22 dB (docs/accuracy.md).
Checked on its test half (odd-numbered recordings, the en-us+f3 and de+m2 voices): the CPU
default F0 backend's raw pitch accuracy is at least Praat's, with no octave errors (measured,
docs/accuracy.md: fastpyin 0.951, Praat 0.881, 0 octave errors each), and so is acpitch's on
both the 10-ms grid and the escalation analysis' grid.

Real voices (docs/robust-f0.md): one telephone call per sex built from the committed AMI
excerpts of the real-speech escalation set (benchmarks/escalation_real, WORLD-resynthesised
with a known F0): acpitch's RPA must be at least Praat's, and its octave errors at most
Praat's plus half a point (on real voices a few truth frames are an octave off for every
estimator, docs/robust-f0.md). fastpyin is below Praat there, which is why acpitch exists.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from gpuaudio import AudioFeatureService
from gpuaudio.evaluation.metrics import f0_scores, resample_f0
from gpuaudio.evaluation.speechset import load_set

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
KNOWN_F0 = BENCHMARKS / "known_f0"
ESCALATION_REAL = BENCHMARKS / "escalation_real"
TELEPHONE = KNOWN_F0 / "data" / "telephone"
SPEECH = KNOWN_F0 / "data" / "speech"
FMIN, FMAX, FRAME, HOP = 50.0, 550.0, 1024, 160
ESCALATION_GRID = (2048, 512)  # the escalation analysis' F0 grid at 16 kHz


def _script(name: str, folder: Path = KNOWN_F0) -> types.ModuleType:
    """A module of a benchmarks folder (its scripts import each other by bare name)."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"_{folder.name}_{name}", folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _octave_errors(reference: np.ndarray, f0: np.ndarray, voiced: np.ndarray) -> int:
    both = np.isfinite(reference) & voiced & np.isfinite(f0) & (f0 > 0)
    cents = np.abs(1200 * np.log2(f0[both] / reference[both]))
    return int(np.sum(np.abs(cents - 1200) < 50))


def _score_test_half(estimate) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Pooled RPA and octave errors on the telephone set's odd-numbered recordings."""
    references, estimates, flags = [], [], []
    for recording in load_set(TELEPHONE).recordings[1::2]:
        times, f0, voiced = estimate(recording.audio("tel"), recording.sr)
        references.append(resample_f0(recording.times, recording.f0, times))
        estimates.append(f0)
        flags.append(voiced)
    reference, f0, voiced = (np.concatenate(x) for x in (references, estimates, flags))
    scores = f0_scores(reference, np.where(voiced, f0, np.nan), voiced)
    return scores.raw_pitch_accuracy, _octave_errors(reference, f0, voiced)


def test_telephone_set_reads_with_the_speech_sets_truth() -> None:
    telephone, speech = load_set(TELEPHONE), load_set(SPEECH)
    assert telephone.sr == speech.sr == 16000
    assert telephone.conditions == {"tel": 22.0}
    assert [r.id for r in telephone.recordings] == [r.id for r in speech.recordings]
    for tel, clean in zip(telephone.recordings, speech.recordings, strict=True):
        np.testing.assert_array_equal(tel.f0, clean.f0)
        assert tel.audio("tel").shape == clean.audio("clean").shape


def test_telephone_channel_removes_the_male_fundamental() -> None:
    recording = {r.id: r for r in load_set(TELEPHONE).recordings}["05_de_m2"]
    audio = recording.audio("tel").astype(np.float64)
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1 / recording.sr)
    band = power[(freqs >= 300) & (freqs <= 3400)].mean()
    assert 10 * np.log10(power[(freqs >= 80) & (freqs <= 150)].mean() / band) < -25
    assert 10 * np.log10(power[freqs >= 4200].mean() / band) < -40  # 8 kHz channel


def test_telephone_set_rebuilds_identically(tmp_path: Path) -> None:
    make = _script("make_speechset")
    make.build_telephone(SPEECH, tmp_path, 0)
    for recording in load_set(TELEPHONE).recordings:
        rebuilt = load_set(tmp_path).recordings[int(recording.id[:2])]
        np.testing.assert_array_equal(rebuilt.audio("tel"), recording.audio("tel"))


def _service_estimate(service: AudioFeatureService, frame: int, hop: int):  # type: ignore[no-untyped-def]
    def estimate(audio: np.ndarray, sr: int) -> tuple[np.ndarray, ...]:
        f0, voiced, _ = service.extract_f0(
            audio, sr, fmin=FMIN, fmax=FMAX, frame_length=frame, hop_length=hop
        )
        return np.arange(f0.size) * hop / sr, f0, voiced

    return estimate


def _praat_estimate(hop: int):  # type: ignore[no-untyped-def]
    parselmouth = pytest.importorskip("parselmouth")

    def estimate(audio: np.ndarray, sr: int) -> tuple[np.ndarray, ...]:
        sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sr)
        pitch = sound.to_pitch_ac(time_step=hop / sr, pitch_floor=FMIN, pitch_ceiling=FMAX)
        f0 = pitch.selected_array["frequency"]
        return pitch.xs(), f0, f0 > 0

    return estimate


def test_fastpyin_at_least_praat_on_the_telephone_test_half() -> None:
    """On this synthetic line pyin stays the most accurate (real voices: docs/robust-f0.md)."""
    service = AudioFeatureService(config={"backends": {"f0": "fastpyin"}, "fallback": False})
    ours, our_octaves = _score_test_half(_service_estimate(service, FRAME, HOP))
    theirs, _ = _score_test_half(_praat_estimate(HOP))
    assert ours >= theirs, (ours, theirs)  # measured 0.951 vs 0.881
    assert our_octaves == 0


@pytest.mark.parametrize(("frame", "hop"), [(FRAME, HOP), ESCALATION_GRID])
def test_acpitch_at_least_praat_on_the_telephone_test_half(frame: int, hop: int) -> None:
    service = AudioFeatureService(config={"backends": {"f0": "acpitch"}, "fallback": False})
    ours, our_octaves = _score_test_half(_service_estimate(service, frame, hop))
    theirs, _ = _score_test_half(_praat_estimate(hop))
    assert ours >= theirs, (ours, theirs)  # measured 0.897 vs 0.881 (10 ms), 0.918 vs 0.884
    assert our_octaves == 0


@pytest.mark.parametrize("speaker", ["ami-FEE078", "ami-MEE009"])
def test_acpitch_at_least_praat_on_real_voices_on_a_telephone_line(
    speaker: str, tmp_path: Path
) -> None:
    """A 45-s telephone call of a female and of a male AMI speaker (tune half)."""
    pytest.importorskip("parselmouth")
    _script("build_set", ESCALATION_REAL).build(
        tmp_path,
        seed=3,
        speaker_names={speaker},
        max_calls=1,
        call_seconds=(45.0, 45.0),
        conditions=("telephone",),
        recipes=["rise-high"],
        verbose=False,
    )
    f0_accuracy = _script("f0_accuracy", ESCALATION_REAL)
    estimators = {
        "acpitch": f0_accuracy.service_estimator("acpitch"),
        "praat": f0_accuracy.praat_estimator(),
    }
    result = f0_accuracy.run(tmp_path, "all", ["telephone"], estimators, verbose=False)
    ours, theirs = (result["tune"]["telephone"][name] for name in ("acpitch", "praat"))
    assert ours["truth_voiced_frames"] > 500
    assert ours["rpa"] >= theirs["rpa"], (ours, theirs)
    assert ours["octave_errors"] <= theirs["octave_errors"] + 0.005, (ours, theirs)
