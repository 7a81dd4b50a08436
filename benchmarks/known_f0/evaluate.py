"""F0 accuracy of several estimators on the known-F0 speech set, per noise condition.

Scores (gpuaudio.metrics, mir_eval's definitions): raw pitch accuracy within 50 cents, voicing
recall and voicing false alarm, pooled over all frames of all recordings of a condition. Each
estimate is scored on its own frame grid against the truth resampled to those times.

Estimators:
- ``librosa`` (always): librosa.pyin through ``AudioFeatureService(backends.f0 = "librosa")``;
- ``praat`` (always, when parselmouth imports): ``Sound.to_pitch_ac`` with default settings,
  pitch floor 50 Hz, ceiling 550 Hz, time step = the hop;
- ``--backend NAME[:key=value,...]``: any gpuaudio F0 backend, configured through the service,
  e.g. ``--backend crepe:model=tiny --backend crepe:model=full``;
- ``--torchcrepe MODEL``: stock ``torchcrepe.predict`` (viterbi decoder, periodicity median-
  filtered over 3 frames and thresholded at 0.21 as in torchcrepe's README), imported with a
  stub torchaudio because torchaudio's extension does not load with this torch.

    python benchmarks/known_f0/evaluate.py --backend crepe:model=tiny --torchcrepe tiny

Writes the markdown table into docs/accuracy.md (between its result markers) and the JSON to
benchmarks/known_f0/results.json (``--json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speechset import CONDITIONS, SPEECH_DIR

from gpuaudio.speechset import (
    F0Estimate,
    F0Estimator,
    condition_label,
    load_set,
    score_estimator,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "accuracy.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
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


def evaluate(estimators: dict[str, F0Estimator], data_dir: Path) -> dict[str, Any]:
    """Pooled scores and CPU seconds per estimator and condition."""
    speech_set = load_set(data_dir)
    results: dict[str, Any] = {}
    for label, estimator in estimators.items():
        results[label] = {}
        for condition, score in score_estimator(estimator, speech_set).items():
            results[label][condition] = score.as_dict()
            scores = score.scores
            print(
                f"{label:28} {condition:6} RPA {scores.raw_pitch_accuracy:.3f}  "
                f"VR {scores.voicing_recall:.3f}  VFA {scores.voicing_false_alarm:.3f}  "
                f"({score.seconds:.1f} s)",
                flush=True,
            )
    return results


def markdown(results: dict[str, Any], machine: str) -> str:
    """The results table: RPA / voicing recall / voicing false alarm per condition."""
    names = {c: condition_label(c, snr) for c, snr in CONDITIONS.items()}
    head = "| estimator | " + " | ".join(f"{names[c]} RPA / VR / VFA" for c in CONDITIONS) + " |"
    lines = [head, "|---|" + "---|" * len(CONDITIONS)]
    for label, per_condition in results.items():
        cells = [
            "{raw_pitch_accuracy:.3f} / {voicing_recall:.3f} / {voicing_false_alarm:.3f}".format(
                **per_condition[c]
            )
            for c in CONDITIONS
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    n_frames = next(iter(results.values()))["clean"]["n_frames"] if results else 0
    lines += ["", f"Frames per condition (first estimator's grid): {n_frames}. Machine: {machine}."]
    return "\n".join(lines)


def write_doc(table: str) -> None:
    """Replace the table between the result markers of docs/accuracy.md."""
    text = DOC.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the markers {START} / {END}")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    DOC.write_text(f"{before}{START}\n{table}\n{END}{after}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", action="append", default=[], metavar="NAME[:k=v,...]")
    parser.add_argument("--torchcrepe", action="append", default=[], metavar="MODEL")
    parser.add_argument("--no-praat", action="store_true")
    parser.add_argument("--frame-length", type=int, default=1024, help="service backends")
    parser.add_argument("--hop", type=int, default=160, help="samples (10 ms at 16 kHz)")
    parser.add_argument("--data", type=Path, default=SPEECH_DIR)
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/accuracy.md")
    parser.add_argument("--machine", default=f"{platform.machine()} {platform.processor()}".strip())
    args = parser.parse_args(argv)

    estimators: dict[str, F0Estimator] = {
        "librosa pyin (service)": service_estimator("librosa", {}, args.frame_length, args.hop)
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

    results = evaluate(estimators, args.data)
    payload = {
        "machine": args.machine,
        "hop": args.hop,
        "frame_length": args.frame_length,
        "fmin": FMIN,
        "fmax": FMAX,
        "results": results,
    }
    args.json.write_text(json.dumps(payload, indent=1) + "\n")
    table = markdown(results, args.machine)
    print(table)
    if not args.no_doc:
        write_doc(table)


if __name__ == "__main__":
    main()
