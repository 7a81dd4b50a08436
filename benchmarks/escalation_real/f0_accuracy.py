"""F0 accuracy on the real-speech escalation set, against its F0 truth (``f0/<call_id>.csv``).

Every call is re-synthesised by WORLD from a known F0 track (build_set.py writes it), so the
estimators can be scored on real voices (AMI, LibriVox) and espeak voices in each channel
condition. Each call is resampled to 16 kHz first (``gpuaudio.audio_io.resample``), as the
escalation analysis does, and estimated on the analysis' own grid (2048-sample frames, hop
512, fmin 50, fmax 550):

- ``fastpyin``: ``AudioFeatureService(backends.f0 = "fastpyin", device cpu).extract_f0``
  (the CPU default; bit-identical to ``librosa.pyin``);
- ``praat``: parselmouth ``Sound.to_pitch_ac(time_step=0.032, pitch_floor=50,
  pitch_ceiling=550)``;
- ``crepe-tiny`` (``--crepe``): ``backends.f0 = "crepe"`` with ``GPUAUDIO_CREPE__MODEL=tiny``
  on the CPU (slow);
- ``fastpyin+refine`` (``--refine``): fastpyin's voicing and octave, each voiced frame's F0
  re-measured on a 40-ms window (`refine_f0`: normalised autocorrelation peak within +-3
  semitones of pyin's F0), the candidate fix tuned on the tune half;
- ``fastpyin+oc`` (``--octave-fix``): fastpyin's track after `octave_correct`, the
  post-processing proposed for the analysis (frames an octave away from the recording's
  running median moved back by that octave);
- ``--backend NAME``: any other F0 backend through the service on the same grid, e.g.
  ``acpitch`` (Praat-style autocorrelation, options from ``GPUAUDIO_ACPITCH__*``).

``--windows S`` estimates each call as the escalation analysis does: cut into adjacent
S-second windows, all windows one batch, each window's frames before the next window kept
(the truth is read at those frames' times). Without it each call is one signal.

Scores per condition, all frames of the calls pooled (and per speaker / speaker pair): raw
pitch accuracy (estimate voiced and within 50 cents of the truth, over truth-voiced frames),
octave errors (estimate voiced and within 50 cents of 2x or 0.5x the truth, as a share of
truth-voiced frames), gross errors (estimate voiced and more than 700 cents from the truth,
any direction: octave slips and the picks of a formant's ringing that move a window's
pitch by more than the largest planted rise), voicing recall and false alarm. The truth is
moved to each estimator's frame times with ``gpuaudio.evaluation.metrics.resample_f0``.

    python benchmarks/escalation_real/f0_accuracy.py --set DIR [--split tune|test|all]
        [--conditions clean,telephone,agc,gsm] [--crepe] [--crepe-calls N] [--octave-fix] [--refine]
        [--backend NAME ...] [--windows S] [--no-fastpyin] [--calls SUBSTRING] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SR = 16000
FMIN, FMAX = 50.0, 550.0
FRAME_LENGTH, HOP = 2048, 512
TOLERANCE_CENTS = 50.0
GROSS_CENTS = 700.0

Track = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Frame times (s), F0 (Hz, NaN where unvoiced) and the voicing decision."""
Estimator = Callable[[np.ndarray], Track]


def service_estimator(backend: str, window_s: float | None = None) -> Estimator:
    """`backend` through the service on the analysis' grid; with `window_s`, in adjacent
    windows batched as the escalation analysis batches them."""
    from gpuaudio import AudioFeatureService

    service = AudioFeatureService(
        config={"backends": {"f0": backend}, "device": "cpu", "fallback": False}
    )

    def estimate(y: np.ndarray) -> Track:
        window = y.size if window_s is None else round(window_s * SR)
        n_windows = y.size // window
        batch = y[: n_windows * window].reshape(n_windows, window)
        f0, voiced, _ = service.extract_f0(
            batch, SR, fmin=FMIN, fmax=FMAX, frame_length=FRAME_LENGTH, hop_length=HOP
        )
        own = np.arange(f0.shape[1]) * HOP < window  # frames before the next window starts
        times = (np.arange(n_windows)[:, None] * window + np.flatnonzero(own) * HOP) / SR
        f0 = np.asarray(f0[:, own], np.float64).reshape(-1)
        voiced = np.asarray(voiced[:, own], bool).reshape(-1)
        return times.reshape(-1), np.where(voiced, f0, np.nan), voiced

    return estimate


def praat_estimator() -> Estimator:
    import parselmouth

    def estimate(y: np.ndarray) -> Track:
        sound = parselmouth.Sound(y.astype(np.float64), sampling_frequency=SR)
        pitch = sound.to_pitch_ac(time_step=HOP / SR, pitch_floor=FMIN, pitch_ceiling=FMAX)
        f0 = pitch.selected_array["frequency"].astype(np.float64)
        voiced = f0 > 0
        return np.asarray(pitch.xs()), np.where(voiced, f0, np.nan), voiced

    return estimate


def octave_correct(
    times: np.ndarray,
    f0: np.ndarray,
    voiced: np.ndarray,
    *,
    context_s: float = 4.0,
    threshold_st: float = 9.0,
) -> np.ndarray:
    """Voiced frames more than `threshold_st` semitones from the running median of the voiced
    frames within +-`context_s` seconds are moved by whole octaves towards that median
    (2x / 0.5x, as many as bring them nearest). Unvoiced frames stay NaN."""
    out = np.where(voiced, f0, np.nan).astype(np.float64)
    index = np.flatnonzero(voiced & np.isfinite(out) & (out > 0))
    if index.size == 0:
        return out
    octaves = np.log2(out[index])
    t = times[index]
    lo = np.searchsorted(t, t - context_s, side="left")
    hi = np.searchsorted(t, t + context_s, side="right")
    median = np.array([np.median(octaves[a:b]) for a, b in zip(lo, hi, strict=True)])
    distance = octaves - median
    shift = np.where(np.abs(distance) * 12 > threshold_st, np.round(distance), 0.0)
    out[index] = 2.0 ** (octaves - shift)
    return out


def refine_f0(
    y: np.ndarray,
    f0: np.ndarray,
    voiced: np.ndarray,
    *,
    hop: int = HOP,
    window: int = 640,
    semitones: float = 3.0,
    sr: int = SR,
) -> np.ndarray:
    """pyin's voiced frames re-measured on a short window: the peak of the normalised
    autocorrelation (Hann window of `window` samples centred on the frame, divided by the
    window's own autocorrelation, as Praat's ac) within +-`semitones` of pyin's F0, parabolic
    interpolation. pyin keeps the voicing decision and the octave (its Viterbi path); a frame
    whose band has no interior peak keeps pyin's value. Unvoiced frames stay NaN."""
    out = np.where(voiced, f0, np.nan).astype(np.float64)
    index = np.flatnonzero(voiced & np.isfinite(out))
    if index.size == 0:
        return out
    padded = np.pad(np.asarray(y, np.float64), window)
    taper = np.hanning(window)
    nfft = 1 << int(np.ceil(np.log2(2 * window)))
    taper_ac = np.fft.irfft(np.abs(np.fft.rfft(taper, nfft)) ** 2)[:window]
    frames = padded[(index * hop + window - window // 2)[:, None] + np.arange(window)]
    frames = (frames - frames.mean(axis=1, keepdims=True)) * taper
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2, axis=1)[:, :window]
    ac = ac / np.maximum(ac[:, :1], 1e-20) / (taper_ac / taper_ac[0])[None, :]
    guess = out[index]
    lo = np.clip(np.floor(sr / (guess * 2 ** (semitones / 12))).astype(int), 2, window // 2)
    hi = np.clip(np.ceil(sr / (guess * 2 ** (-semitones / 12))).astype(int), 3, window // 2)
    lags = np.arange(window)
    band = (lags[None, :] >= lo[:, None]) & (lags[None, :] <= hi[:, None])
    peak = np.clip(np.argmax(np.where(band, ac, -np.inf), axis=1), 1, window - 2)
    rows = np.arange(peak.size)
    a, b, c = ac[rows, peak - 1], ac[rows, peak], ac[rows, peak + 1]
    curvature = a - 2 * b + c
    safe = np.where(np.abs(curvature) > 1e-12, curvature, 1.0)
    delta = np.clip(np.where(np.abs(curvature) > 1e-12, 0.5 * (a - c) / safe, 0.0), -0.5, 0.5)
    interior = (peak > lo) & (peak < hi)
    out[index] = np.where(interior, sr / (peak + delta), guess)
    return out


# -- scoring -----------------------------------------------------------------------------------

COUNTS = (
    "truth_voiced",
    "truth_unvoiced",
    "pitch_ok",
    "octave",
    "gross",
    "recall",
    "false_alarm",
)


def counts(reference: np.ndarray, f0: np.ndarray, voiced: np.ndarray) -> dict[str, int]:
    """Frame counts on one grid; `reference` NaN where unvoiced."""
    ref_voiced = np.isfinite(reference) & (reference > 0)
    est = voiced & np.isfinite(f0) & (f0 > 0)
    both = ref_voiced & est
    cents = np.full(reference.shape, np.inf)
    cents[both] = 1200.0 * np.log2(f0[both] / reference[both])
    return {
        "truth_voiced": int(ref_voiced.sum()),
        "truth_unvoiced": int((~ref_voiced).sum()),
        "pitch_ok": int((np.abs(cents) < TOLERANCE_CENTS).sum()),
        "octave": int((np.abs(np.abs(cents) - 1200.0) < TOLERANCE_CENTS).sum()),
        "gross": int((both & (np.abs(cents) > GROSS_CENTS)).sum()),
        "recall": int((ref_voiced & voiced).sum()),
        "false_alarm": int((~ref_voiced & voiced).sum()),
    }


def scores(total: dict[str, int]) -> dict[str, float]:
    def ratio(a: str, b: str) -> float:
        return total[a] / total[b] if total[b] else float("nan")

    return {
        "rpa": ratio("pitch_ok", "truth_voiced"),
        "octave_errors": ratio("octave", "truth_voiced"),
        "gross_errors": ratio("gross", "truth_voiced"),
        "vr": ratio("recall", "truth_voiced"),
        "vfa": ratio("false_alarm", "truth_unvoiced"),
        "truth_voiced_frames": total["truth_voiced"],
    }


def add(into: dict[str, int], more: dict[str, int]) -> None:
    for key in COUNTS:
        into[key] = into.get(key, 0) + more[key]


# -- the run -----------------------------------------------------------------------------------


def read_manifest(directory: Path) -> list[dict[str, str]]:
    with (directory / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load(directory: Path, row: dict[str, str]) -> np.ndarray:
    from gpuaudio.audio_io import resample

    audio, sr = sf.read(directory / row["file"], dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return resample(audio, sr, SR)


def run(
    directory: Path,
    split: str,
    conditions: list[str] | None,
    estimators: dict[str, Estimator],
    *,
    crepe_calls: int | None = None,
    octave_fix: dict[str, float] | None = None,
    refine: bool = False,
    calls: str | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Pooled and per-speaker scores per split half, condition (`conditions`, None: all) and
    estimator."""
    from gpuaudio.evaluation.metrics import resample_f0
    from gpuaudio.evaluation.speechset import read_truth

    rows = [
        r
        for r in read_manifest(directory)
        if (split == "all" or r["split"] == split)
        and (conditions is None or r["condition"] in conditions)
        and (calls is None or calls in r["call_id"])
    ]
    truths: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    pooled: dict[tuple[str, str, str], dict[str, int]] = {}
    speakers: dict[tuple[str, str, str, str], dict[str, int]] = {}
    seconds: dict[tuple[str, str, str], float] = {}
    audio_s: dict[tuple[str, str, str], float] = {}
    crepe_seen: dict[tuple[str, str], int] = {}
    for row in rows:
        call = row["call_id"]
        if call not in truths:
            truths[call] = read_truth(directory / "f0" / f"{call}.csv")
        times, reference = truths[call]
        y = load(directory, row)
        for name, estimate in estimators.items():
            if name == "crepe-tiny" and crepe_calls is not None:
                seen = crepe_seen.get((row["split"], row["condition"]), 0)
                if seen >= crepe_calls:
                    continue
                crepe_seen[(row["split"], row["condition"])] = seen + 1
            started = time.perf_counter()
            frame_t, f0, voiced = estimate(y)
            took = time.perf_counter() - started
            tracks = {name: (f0, voiced)}
            extra_s = {}
            if refine and name == "fastpyin":
                started = time.perf_counter()
                tracks["fastpyin+refine"] = (refine_f0(y, f0, voiced), voiced)
                extra_s["fastpyin+refine"] = time.perf_counter() - started
            if octave_fix is not None and name == "fastpyin":
                started = time.perf_counter()
                fixed = octave_correct(frame_t, f0, voiced, **octave_fix)
                tracks["fastpyin+oc"] = (fixed, voiced)
                extra_s["fastpyin+oc"] = time.perf_counter() - started
            ref = resample_f0(times, reference, frame_t)
            for label, (track, flags) in tracks.items():
                key = (row["split"], row["condition"], label)
                c = counts(ref, track, flags)
                add(pooled.setdefault(key, {}), c)
                add(speakers.setdefault((*key, row["speakers"]), {}), c)
                seconds[key] = seconds.get(key, 0.0) + took + extra_s.get(label, 0.0)
                audio_s[key] = audio_s.get(key, 0.0) + y.size / SR
        if verbose:
            print(f"{row['condition']:9s} {call}", flush=True)
    result: dict[str, Any] = {}
    for (half, condition, label), total in pooled.items():
        entry = scores(total) | {
            "seconds": round(seconds[(half, condition, label)], 2),
            "audio_s": round(audio_s[(half, condition, label)], 1),
        }
        entry["per_speaker"] = {
            who: scores(c)
            for (h, cond, lab, who), c in sorted(speakers.items())
            if (h, cond, lab) == (half, condition, label)
        }
        result.setdefault(half, {}).setdefault(condition, {})[label] = entry
    return result


def markdown(result: dict[str, Any], per_speaker: bool = True) -> str:
    lines = []
    for half in ("tune", "test", "tune-spontaneous"):
        if half not in result:
            continue
        lines += [
            f"\n### {half} half\n",
            "| condition | estimator | RPA | octave errors | gross errors | VR | VFA "
            "| s per audio min |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for condition, by_estimator in result[half].items():
            for label, s in by_estimator.items():
                lines.append(
                    f"| {condition} | {label} | {s['rpa']:.3f} | {s['octave_errors']:.3f} | "
                    f"{s['gross_errors']:.3f} | {s['vr']:.3f} | {s['vfa']:.3f} | "
                    f"{60 * s['seconds'] / s['audio_s']:.2f} |"
                )
        if per_speaker:
            names = list(next(iter(result[half].values())))
            lines += [
                f"\n{half} half, RPA / octave errors per speaker (or pair):\n",
                "| condition | speaker(s) | " + " | ".join(names) + " |",
                "|---|---|" + "---|" * len(names),
            ]
            for condition, by_estimator in result[half].items():
                labels = list(by_estimator)
                for who in by_estimator[labels[0]]["per_speaker"]:
                    cells = []
                    for label in labels:
                        s = by_estimator[label]["per_speaker"].get(who)
                        cells.append(f"{s['rpa']:.3f} / {s['octave_errors']:.3f}" if s else "-")
                    lines.append(f"| {condition} | {who} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, required=True, help="a build_set.py output folder")
    parser.add_argument(
        "--split", choices=("tune", "test", "tune-spontaneous", "all"), default="all"
    )
    parser.add_argument(
        "--conditions", default=None, help="comma-separated (default: every one the set has)"
    )
    parser.add_argument("--no-praat", action="store_true")
    parser.add_argument("--crepe", action="store_true", help="also CREPE tiny on the CPU (slow)")
    parser.add_argument("--crepe-calls", type=int, default=None, help="CREPE on the first N calls")
    parser.add_argument("--octave-fix", action="store_true", help="also fastpyin + octave_correct")
    parser.add_argument("--refine", action="store_true", help="also fastpyin + refine_f0")
    parser.add_argument("--oc-context", type=float, default=4.0)
    parser.add_argument("--oc-threshold", type=float, default=9.0)
    parser.add_argument("--backend", action="append", default=[], help="another F0 backend")
    parser.add_argument("--no-fastpyin", action="store_true")
    parser.add_argument(
        "--windows", type=float, default=None, help="estimate in adjacent windows of S seconds"
    )
    parser.add_argument("--calls", default=None, help="only calls whose id contains this")
    parser.add_argument("--no-speakers", action="store_true", help="no per-speaker table")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.refine and args.windows is not None:
        parser.error("--refine re-measures frames of whole calls: leave out --windows")
    estimators: dict[str, Estimator] = {}
    if not args.no_fastpyin:
        estimators["fastpyin"] = service_estimator("fastpyin", args.windows)
    if not args.no_praat:
        estimators["praat"] = praat_estimator()
    if args.crepe:
        os.environ.setdefault("GPUAUDIO_CREPE__MODEL", "tiny")
        estimators["crepe-tiny"] = service_estimator("crepe", args.windows)
    for name in args.backend:
        estimators[name] = service_estimator(name, args.windows)
    fix = {"context_s": args.oc_context, "threshold_st": args.oc_threshold}
    result = run(
        args.set,
        args.split,
        [c for c in args.conditions.split(",") if c] if args.conditions is not None else None,
        estimators,
        crepe_calls=args.crepe_calls,
        octave_fix=fix if args.octave_fix else None,
        refine=args.refine,
        calls=args.calls,
    )
    print(markdown(result, per_speaker=not args.no_speakers))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
