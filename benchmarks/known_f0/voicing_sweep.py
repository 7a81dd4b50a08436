"""Choose a CREPE voicing threshold on one half of the known-F0 set and test it on the other.

The crepe backend's F0 is computed once per model with ``voicing_threshold = 0`` (every audible
frame keeps its pitch and its periodicity), then the threshold is swept offline. The threshold
that maximises overall accuracy (right voicing and, where voiced, pitch within 50 cents),
averaged over the three noise conditions of the *tuning* half (even-numbered recordings), is
scored on the *test* half (odd-numbered recordings) next to librosa.pyin on the same frames.
Also reported: mir_eval's voicing-independent raw pitch accuracy (pitch on every truth-voiced
frame, whatever the voicing decision), from crepe's pitch and pyin's ``fill_na=None`` pitch.

    python benchmarks/known_f0/voicing_sweep.py --model tiny --model full [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speechset import CONDITIONS, SPEECH_DIR, SR

from gpuaudio.metrics import f0_scores, resample_f0
from gpuaudio.speechset import load_set

FMIN, FMAX, HOP, FRAME = 50.0, 550.0, 160, 1024
THRESHOLDS = np.round(np.arange(0.02, 0.42, 0.02), 2)


def crepe_tracks(model: str, recordings: list[Any]) -> dict[str, list[tuple[np.ndarray, ...]]]:
    """Per condition, per recording: (truth on the grid, raw f0, periodicity)."""
    from gpuaudio import AudioFeatureService

    service = AudioFeatureService(
        {
            "device": "auto",
            "fallback": False,
            "backends": {"f0": "crepe"},
            "crepe": {"model": model, "voicing_threshold": 0.0},
        }
    )
    tracks: dict[str, list[tuple[np.ndarray, ...]]] = {}
    for condition in CONDITIONS:
        tracks[condition] = []
        for rec in recordings:
            f0, _, prob = service.extract_f0(
                rec.audio(condition), SR, fmin=FMIN, fmax=FMAX, frame_length=FRAME, hop_length=HOP
            )
            truth = resample_f0(rec.times, rec.f0, np.arange(f0.size) * HOP / SR)
            tracks[condition].append((truth, f0, prob))
        print(f"crepe {model} {condition}: done", flush=True)
    return tracks


def pyin_tracks(recordings: list[Any]) -> dict[str, list[tuple[np.ndarray, ...]]]:
    """Per condition, per recording: (truth, pitch incl. unvoiced frames, voiced flag)."""
    import librosa

    tracks: dict[str, list[tuple[np.ndarray, ...]]] = {}
    for condition in CONDITIONS:
        tracks[condition] = []
        for rec in recordings:
            f0, flag, _ = librosa.pyin(
                rec.audio(condition),
                fmin=FMIN,
                fmax=FMAX,
                sr=SR,
                frame_length=FRAME,
                hop_length=HOP,
                fill_na=None,
            )
            truth = resample_f0(rec.times, rec.f0, np.arange(f0.size) * HOP / SR)
            tracks[condition].append((truth, f0, flag.astype(float)))
    return tracks


def score(
    tracks: list[tuple[np.ndarray, ...]], idx: list[int], threshold: float
) -> dict[str, float]:
    truth = np.concatenate([tracks[i][0] for i in idx])
    pitch = np.concatenate([tracks[i][1] for i in idx])
    prob = np.concatenate([tracks[i][2] for i in idx])
    voiced = prob >= threshold
    decided = f0_scores(truth, np.where(voiced, pitch, np.nan), voiced)
    raw = f0_scores(truth, pitch, voiced)  # pitch scored regardless of voicing (mir_eval RPA)
    return {
        "rpa_voiced": decided.raw_pitch_accuracy,
        "rpa_raw": raw.raw_pitch_accuracy,
        "vr": decided.voicing_recall,
        "vfa": decided.voicing_false_alarm,
        "oa": decided.overall_accuracy,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=[], choices=["tiny", "full"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    recordings = list(load_set(SPEECH_DIR).recordings)
    tune, test = list(range(0, len(recordings), 2)), list(range(1, len(recordings), 2))
    pyin = pyin_tracks(recordings)
    results: dict[str, Any] = {"thresholds": THRESHOLDS.tolist(), "pyin": {}, "crepe": {}}
    for condition in CONDITIONS:
        results["pyin"][condition] = score(pyin[condition], test, 0.5)
    for model in args.model or ["tiny"]:
        tracks = crepe_tracks(model, recordings)
        mean_oa = [
            np.mean([score(tracks[c], tune, t)["oa"] for c in CONDITIONS]) for t in THRESHOLDS
        ]
        best = float(THRESHOLDS[int(np.argmax(mean_oa))])
        results["crepe"][model] = {
            "chosen_threshold": best,
            "tune_mean_oa": dict(zip(THRESHOLDS.tolist(), map(float, mean_oa), strict=True)),
            "test": {c: score(tracks[c], test, best) for c in CONDITIONS},
            "test_at_0.21": {c: score(tracks[c], test, 0.21) for c in CONDITIONS},
        }
    print(f"{'test half':30} " + "  ".join(f"{c:>30}" for c in CONDITIONS))
    rows = [("pyin", results["pyin"])]
    for model, res in results["crepe"].items():
        rows.append((f"crepe {model} @ {res['chosen_threshold']}", res["test"]))
        rows.append((f"crepe {model} @ 0.21", res["test_at_0.21"]))
    for label, per in rows:
        cells = [
            f"{s['rpa_voiced']:.3f}/{s['rpa_raw']:.3f}/{s['vr']:.3f}/{s['vfa']:.3f}"
            for s in per.values()
        ]
        print(f"{label:30} " + "  ".join(f"{cell:>30}" for cell in cells))
    print("cells: RPA of voiced output / mir_eval raw RPA / voicing recall / voicing false alarm")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
