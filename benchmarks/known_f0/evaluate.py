"""F0 accuracy of several estimators on the known-F0 speech set, per noise condition.

Scores (gpuaudio.evaluation.metrics, mir_eval's definitions): raw pitch accuracy within 50
cents, voicing recall and voicing false alarm, pooled over all frames of all recordings of a
condition. Each estimate is scored on its own frame grid against the truth resampled to those times.

Estimators:
- ``librosa`` (always): librosa.pyin through ``AudioFeatureService(backends.f0 = "librosa")``;
- ``fastpyin`` (always): the CPU default backend (bit-identical to librosa.pyin), its seconds;
- ``praat`` (always, when parselmouth imports): ``Sound.to_pitch_ac`` with default settings,
  pitch floor 50 Hz, ceiling 550 Hz, time step = the hop;
- ``--backend NAME[:key=value,...]``: any gpuaudio F0 backend, configured through the service,
  e.g. ``--backend crepe:model=tiny --backend crepe:model=full``;
- ``--torchcrepe MODEL``: stock ``torchcrepe.predict`` (viterbi decoder, periodicity median-
  filtered over 3 frames and thresholded at 0.21 as in torchcrepe's README), imported with a
  stub torchaudio because torchaudio's extension does not load with this torch.

    python benchmarks/known_f0/evaluate.py --backend crepe:model=tiny --torchcrepe tiny

Sets: the speech set's noise conditions (``--data``) and the telephone set's ``tel`` condition
(``--telephone``; the same recordings through an 8 kHz mu-law telephone channel, see
make_speechset.py). Besides the pooled scores of every recording, each condition is scored on
the set's two halves by voice, as voicing_sweep.py splits it: the *tuning* half (even-numbered
recordings: en-us+m3, de+f4) and the *test* half (odd-numbered: en-us+f3, de+m2). Octave
errors: truth-voiced frames estimated voiced whose error is within 50 cents of +-1200 cents.

Writes the markdown tables into docs/accuracy.md (between its result markers; the test-half
table between the telephone markers) and the JSON to benchmarks/known_f0/results.json
(``--json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speechset import CONDITIONS, SPEECH_DIR, TELEPHONE_CONDITIONS, TELEPHONE_DIR

from gpuaudio.evaluation.metrics import f0_scores, resample_f0
from gpuaudio.evaluation.speechset import (
    F0Estimate,
    F0Estimator,
    SpeechSet,
    condition_label,
    load_set,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "accuracy.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
HALF_START, HALF_END = "<!-- telephone:start -->", "<!-- telephone:end -->"
HALVES = ("tune", "test")
LABELS = {
    **{c: condition_label(c, snr) for c, snr in CONDITIONS.items()},
    **{c: f"telephone ({snr:g} dB line noise)" for c, snr in TELEPHONE_CONDITIONS.items()},
}
OCTAVE_CENTS, TOLERANCE_CENTS = 1200.0, 50.0
FMIN, FMAX = 50.0, 550.0


def _value(text: str) -> Any:
    """A config value from the command line: bool, int, float or string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_backend(text: str) -> tuple[str, dict[str, Any]]:
    """``"crepe:model=tiny,device=cpu"`` -> ``("crepe", {"model": "tiny", "device": "cpu"})``."""
    name, _, rest = text.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--backend {text!r}: options are key=value, got {item!r}")
        options[key.strip()] = _value(value.strip())
    return name.strip(), options


def service_estimator(
    name: str, options: dict[str, Any], frame_length: int, hop: int
) -> F0Estimator:
    """A gpuaudio F0 backend through AudioFeatureService; backend options go to its table.

    A ``device`` option is the service's device setting, not the backend's.
    """
    from gpuaudio import AudioFeatureService

    options = dict(options)
    config: dict[str, Any] = {"backends": {"f0": name}, "fallback": False}
    config["device"] = options.pop("device", "auto")
    if options:
        config[name] = options
    service = AudioFeatureService(config=config)

    def estimate(audio: np.ndarray, sr: int) -> F0Estimate:
        f0, voiced, _ = service.extract_f0(
            audio, sr, fmin=FMIN, fmax=FMAX, frame_length=frame_length, hop_length=hop
        )
        return np.arange(f0.size) * hop / sr, f0, voiced

    return estimate


def praat_estimator(hop: int) -> F0Estimator:
    """Praat's autocorrelation pitch (parselmouth), default settings, floor/ceiling 50/550."""
    import parselmouth

    def estimate(audio: np.ndarray, sr: int) -> F0Estimate:
        sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sr)
        pitch = sound.to_pitch_ac(time_step=hop / sr, pitch_floor=FMIN, pitch_ceiling=FMAX)
        f0 = pitch.selected_array["frequency"]
        return pitch.xs(), f0, f0 > 0

    return estimate


def _import_torchcrepe() -> types.ModuleType:
    """torchcrepe imports torchaudio at import time; only its file loading needs it."""
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    import torchcrepe

    return torchcrepe


def torchcrepe_estimator(model: str, hop: int) -> F0Estimator:
    """Stock torchcrepe.predict on the CPU, voiced where filtered periodicity >= 0.21."""
    import torch

    torchcrepe = _import_torchcrepe()

    def estimate(audio: np.ndarray, sr: int) -> F0Estimate:
        pitch, periodicity = torchcrepe.predict(
            torch.from_numpy(audio)[None],
            sr,
            hop_length=hop,
            fmin=FMIN,
            fmax=FMAX,
            model=model,
            decoder=torchcrepe.decode.viterbi,
            return_periodicity=True,
            batch_size=512,
            device="cpu",
            pad=True,
        )
        periodicity = torchcrepe.filter.median(periodicity, 3)
        f0 = pitch[0].numpy().astype(np.float64)
        voiced = periodicity[0].numpy() >= 0.21
        return np.arange(f0.size) * hop / sr, np.where(voiced, f0, np.nan), voiced

    return estimate


def octave_errors(reference: np.ndarray, f0: np.ndarray, voiced: np.ndarray) -> int:
    """Truth-voiced frames estimated voiced whose error is within 50 cents of +-1200 cents."""
    both = np.isfinite(reference) & voiced & np.isfinite(f0) & (f0 > 0)
    cents = np.abs(1200.0 * np.log2(f0[both] / reference[both]))
    return int(np.sum(np.abs(cents - OCTAVE_CENTS) < TOLERANCE_CENTS))


def _pooled(tracks: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]) -> dict[str, Any]:
    reference, f0, voiced = (np.concatenate([t[i] for t in tracks]) for i in range(3))
    scores = f0_scores(reference, np.where(voiced, f0, np.nan), voiced)
    return {
        **scores.as_dict(),
        "octave_errors": octave_errors(reference, f0, voiced),
        "seconds": round(sum(t[3] for t in tracks), 3),
    }


def score_condition(
    estimate: F0Estimator, speech_set: SpeechSet, condition: str
) -> dict[str, dict[str, Any]]:
    """Pooled scores, octave errors and estimator seconds: all recordings and each half."""
    tracks = []
    for recording in speech_set.recordings:
        audio = recording.audio(condition)
        started = time.perf_counter()
        times, f0, voiced = estimate(audio, recording.sr)
        seconds = time.perf_counter() - started
        reference = resample_f0(recording.times, recording.f0, np.asarray(times))
        tracks.append(
            (
                reference,
                np.asarray(f0, dtype=np.float64).ravel(),
                np.asarray(voiced, dtype=bool).ravel(),
                seconds,
            )
        )
    return {
        "all": _pooled(tracks),
        "tune": _pooled(tracks[0::2]),
        "test": _pooled(tracks[1::2]),
    }


def evaluate(
    estimators: dict[str, F0Estimator], sets: list[tuple[SpeechSet, list[str]]]
) -> dict[str, Any]:
    """Per estimator and condition: scores of all recordings and of each half (see above)."""
    results: dict[str, Any] = {}
    for label, estimator in estimators.items():
        results[label] = {}
        for speech_set, conditions in sets:
            for condition in conditions:
                per = score_condition(estimator, speech_set, condition)
                results[label][condition] = per
                for part in ("all", "test"):
                    sc = per[part]
                    print(
                        f"{label:28} {condition:6} {part:4} RPA {sc['raw_pitch_accuracy']:.3f}  "
                        f"VR {sc['voicing_recall']:.3f}  VFA {sc['voicing_false_alarm']:.3f}  "
                        f"oct {sc['octave_errors']:3d}  ({sc['seconds']:.1f} s)",
                        flush=True,
                    )
    return results


def markdown(results: dict[str, Any], machine: str) -> str:
    """All recordings: RPA / voicing recall / voicing false alarm per condition."""
    conditions = list(next(iter(results.values()))) if results else []
    head = "| estimator | " + " | ".join(f"{LABELS.get(c, c)} RPA / VR / VFA" for c in conditions)
    lines = [head + " |", "|---|" + "---|" * len(conditions)]
    for label, per_condition in results.items():
        cells = [
            "{raw_pitch_accuracy:.3f} / {voicing_recall:.3f} / {voicing_false_alarm:.3f}".format(
                **per_condition[c]["all"]
            )
            for c in conditions
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    n_frames = next(iter(results.values()))["clean"]["all"]["n_frames"] if results else 0
    lines += ["", f"Frames per condition (first estimator's grid): {n_frames}. Machine: {machine}."]
    return "\n".join(lines)


def markdown_halves(results: dict[str, Any], part: str = "test") -> str:
    """One half: per condition and estimator RPA, octave errors, VR, VFA and seconds."""
    conditions = list(next(iter(results.values()))) if results else []
    lines = [
        "| condition | estimator | RPA | octave errors | VR | VFA | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for condition in conditions:
        for label, per_condition in results.items():
            sc = per_condition[condition][part]
            lines.append(
                f"| {LABELS.get(condition, condition)} | {label} | "
                f"{sc['raw_pitch_accuracy']:.3f} | {sc['octave_errors']} | "
                f"{sc['voicing_recall']:.3f} | "
                f"{sc['voicing_false_alarm']:.3f} | {sc['seconds']:.2f} |"
            )
    if results:
        first = next(iter(results.values()))
        voiced = {first[c][part]["n_ref_voiced"] for c in conditions}
        lines += [
            "",
            f"{part.capitalize()} half: truth-voiced frames per condition (first estimator's "
            f"grid): {min(voiced)}-{max(voiced)}; seconds are the estimator's time on that half.",
        ]
    return "\n".join(lines)


def write_doc(table: str, start: str = START, end: str = END) -> None:
    """Replace the table between the `start` / `end` markers of docs/accuracy.md."""
    text = DOC.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{DOC} lacks the markers {start} / {end}")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    DOC.write_text(f"{before}{start}\n{table}\n{end}{after}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", action="append", default=[], metavar="NAME[:k=v,...]")
    parser.add_argument("--torchcrepe", action="append", default=[], metavar="MODEL")
    parser.add_argument("--no-praat", action="store_true")
    parser.add_argument("--frame-length", type=int, default=1024, help="service backends")
    parser.add_argument("--hop", type=int, default=160, help="samples (10 ms at 16 kHz)")
    parser.add_argument("--data", type=Path, default=SPEECH_DIR)
    parser.add_argument("--telephone", type=Path, default=TELEPHONE_DIR, help="telephone set")
    parser.add_argument("--no-telephone", action="store_true")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/accuracy.md")
    parser.add_argument("--machine", default=f"{platform.machine()} {platform.processor()}".strip())
    args = parser.parse_args(argv)

    estimators: dict[str, F0Estimator] = {
        "librosa pyin (service)": service_estimator("librosa", {}, args.frame_length, args.hop),
        "fastpyin": service_estimator("fastpyin", {}, args.frame_length, args.hop),
    }
    if not args.no_praat:
        estimators["praat ac (parselmouth)"] = praat_estimator(args.hop)
    for spec in args.backend:
        name, options = parse_backend(spec)
        label = name + (
            f" ({', '.join(f'{k}={v}' for k, v in options.items())})" if options else ""
        )
        estimators[label] = service_estimator(name, options, args.frame_length, args.hop)
    for model in args.torchcrepe:
        estimators[f"torchcrepe.predict ({model})"] = torchcrepe_estimator(model, args.hop)

    speech_set = load_set(args.data)
    sets = [(speech_set, list(speech_set.conditions))]
    if not args.no_telephone:
        telephone = load_set(args.telephone)
        sets.append((telephone, list(telephone.conditions)))
    results = evaluate(estimators, sets)
    payload = {
        "machine": args.machine,
        "hop": args.hop,
        "frame_length": args.frame_length,
        "fmin": FMIN,
        "fmax": FMAX,
        "halves": {"tune": "even-numbered recordings", "test": "odd-numbered recordings"},
        "results": results,
    }
    args.json.write_text(json.dumps(payload, indent=1) + "\n")
    table, halves = markdown(results, args.machine), markdown_halves(results)
    print(table, halves, sep="\n\n")
    if not args.no_doc:
        write_doc(table)
        write_doc(halves, HALF_START, HALF_END)


if __name__ == "__main__":
    main()
