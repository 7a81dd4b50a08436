"""Choose CREPE's voicing rule on one half of the known-F0 set and test it on the other.

The crepe backend's decoded F0 and both voicing cues (periodicity, harmonicity) are computed
once per model and condition (`CrepeBackend.cues`, before any voicing decision), then the rules
are swept offline, each tuned on the *tuning* half (even-numbered recordings) and scored on the
*test* half (odd-numbered recordings) next to librosa.pyin on the same frames:

- ``voicing = "periodicity"``: periodicity >= threshold; the threshold that maximises overall
  accuracy (right voicing and, where voiced, pitch within 50 cents) averaged over the three
  noise conditions;
- ``voicing = "periodicity+harmonicity"``: ``w * periodicity + (1 - w) * harmonicity >=
  threshold``; the (w, threshold) that maximises the same mean overall accuracy among those
  whose voicing false alarm is at most pyin's in every condition of the tuning half.

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

from gpuaudio.evaluation.metrics import f0_scores, resample_f0
from gpuaudio.evaluation.speechset import load_set

FMIN, FMAX, HOP, FRAME = 50.0, 550.0, 160, 1024
THRESHOLDS = np.round(np.arange(0.02, 0.42, 0.02), 2)
WEIGHTS = np.round(np.arange(0.0, 1.01, 0.1), 2)
SCORE_THRESHOLDS = np.round(np.arange(0.02, 1.0, 0.02), 2)
Track = tuple[np.ndarray, ...]
"""One recording: (truth on the frame grid, pitch, voicing score or cue(s))."""


def crepe_tracks(model: str, recordings: list[Any]) -> dict[str, list[Track]]:
    """Per condition, per recording: (truth, f0, periodicity, harmonicity), 0 cues in silence."""
    import torch

    from gpuaudio import BackendContext, MemoryManager
    from gpuaudio_crepe._backend import CrepeBackend

    device = "cuda" if torch.cuda.is_available() else "cpu"
    backend = CrepeBackend(BackendContext(device, "fp32", MemoryManager(device), {"model": model}))
    tracks: dict[str, list[Track]] = {}
    for condition in CONDITIONS:
        tracks[condition] = []
        for rec in recordings:
            cues = backend.cues(
                rec.audio(condition)[None], SR, fmin=FMIN, fmax=FMAX, hop_length=HOP
            )
            assert cues.harmonicity is not None
            f0 = cues.f0[0].cpu().numpy().astype(np.float64)
            audible = cues.audible[0].cpu().numpy()
            periodicity, harmonicity = (
                np.where(audible, cue[0].cpu().numpy(), 0.0)
                for cue in (cues.periodicity, cues.harmonicity)
            )
            truth = resample_f0(rec.times, rec.f0, np.arange(f0.size) * HOP / SR)
            tracks[condition].append((truth, f0, periodicity, harmonicity))
        print(f"crepe {model} {condition}: done", flush=True)
    return tracks


def combined(tracks: list[Track], weight: float) -> list[Track]:
    """The tracks with the voicing score ``weight * periodicity + (1 - weight) * harmonicity``."""
    return [(t[0], t[1], weight * t[2] + (1 - weight) * t[3]) for t in tracks]


def pyin_tracks(recordings: list[Any]) -> dict[str, list[Track]]:
    """Per condition, per recording: (truth, pitch incl. unvoiced frames, voiced flag)."""
    import librosa

    tracks: dict[str, list[Track]] = {}
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


def score(tracks: list[Track], idx: list[int], threshold: float) -> dict[str, float]:
    """Pooled scores of recordings `idx`, voiced where the score (column 2) >= `threshold`."""
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
    pyin_tune = {c: score(pyin[c], tune, 0.5)["vfa"] for c in CONDITIONS}
    for model in args.model or ["tiny"]:
        tracks = crepe_tracks(model, recordings)
        periodicity = {c: combined(tracks[c], 1.0) for c in CONDITIONS}
        mean_oa = [
            np.mean([score(periodicity[c], tune, t)["oa"] for c in CONDITIONS]) for t in THRESHOLDS
        ]
        best = float(THRESHOLDS[int(np.argmax(mean_oa))])
        grid: dict[str, float] = {}
        chosen: tuple[float, float, float] | None = None
        for weight in WEIGHTS:
            scored = {c: combined(tracks[c], weight) for c in CONDITIONS}
            for t in SCORE_THRESHOLDS:
                per = {c: score(scored[c], tune, t) for c in CONDITIONS}
                oa = float(np.mean([s["oa"] for s in per.values()]))
                grid[f"{weight:.1f}/{t:.2f}"] = oa
                allowed = all(per[c]["vfa"] <= pyin_tune[c] for c in CONDITIONS)
                if allowed and (chosen is None or oa > chosen[0]):
                    chosen = (oa, float(weight), float(t))
        assert chosen is not None  # weight 1 with a high threshold calls few frames voiced
        _, weight, t = chosen
        results["crepe"][model] = {
            "chosen_threshold": best,
            "tune_mean_oa": dict(zip(THRESHOLDS.tolist(), map(float, mean_oa), strict=True)),
            "test": {c: score(periodicity[c], test, best) for c in CONDITIONS},
            "test_at_0.21": {c: score(periodicity[c], test, 0.21) for c in CONDITIONS},
            "combined": {
                "chosen_weight": weight,
                "chosen_threshold": t,
                "tune_mean_oa": grid,
                "test": {c: score(combined(tracks[c], weight), test, t) for c in CONDITIONS},
            },
        }
    print(f"{'test half':36} " + "  ".join(f"{c:>30}" for c in CONDITIONS))
    rows = [("pyin", results["pyin"])]
    for model, res in results["crepe"].items():
        mixed = res["combined"]
        rows.append(
            (
                f"crepe {model} p+h w {mixed['chosen_weight']} @ {mixed['chosen_threshold']}",
                mixed["test"],
            )
        )
        rows.append((f"crepe {model} p @ {res['chosen_threshold']}", res["test"]))
        rows.append((f"crepe {model} p @ 0.21", res["test_at_0.21"]))
    for label, per in rows:
        cells = [
            f"{s['rpa_voiced']:.3f}/{s['rpa_raw']:.3f}/{s['vr']:.3f}/{s['vfa']:.3f}"
            for s in per.values()
        ]
        print(f"{label:36} " + "  ".join(f"{cell:>30}" for cell in cells))
    print("cells: RPA of voiced output / mir_eval raw RPA / voicing recall / voicing false alarm")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
