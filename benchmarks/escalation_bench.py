"""Escalation analysis: speed against the spec's baseline, and detection against known spans.

``speed``: a 42-minute, 16 kHz recording (34 seeded `demo_call`s end to end, 2,520 one-second
windows) analysed end to end by ``gpuaudio analyze``'s code path (read, F0 for all windows in
one batched call, score, write report/CSV/figure/TextGrid), against the spec's baseline in the
same run: a Python loop of ``librosa.pyin`` + RMS per one-second window. The baseline runs on
every k-th window (``--baseline-windows``) and is scaled to 2,520 windows; F0 accuracy of
both is measured against the synthesiser's exact F0 on those same windows.

``validate``: recall / precision of time overlap and false alarms per hour on espeak-ng speech
re-synthesised with WORLD with known escalation spans (benchmarks/known_f0/make_speechset.py),
clean and with pink noise at 20 dB SNR, plus calm-only recordings, plus seeded `demo_call`s.

``cost``: the CPU cost of this checkout's analysis of the same 42-minute file against an
earlier commit's (``--ref``, default the last commit before the real-speech rework), in one
run: each side runs in its own Python process (the earlier one from ``git archive`` of its
``core/``, with the same installed plugins), alternating, ``--repeats`` times; medians and
their ratio. Issue 11 asks for at most 1.5x.

    python benchmarks/escalation_bench.py speed [--baseline-windows 300] [--backend f0=crepe]
    python benchmarks/escalation_bench.py validate [--minutes 10 --calm-minutes 10]
    python benchmarks/escalation_bench.py cost [--ref 5f46f8a] [--ref-f0 fastpyin] [--f0 auto]
        [--repeats 3] [--minutes 42]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from gpuaudio import AudioFeatureService, __version__
from gpuaudio.analysis.escalation import detect_escalation, detect_escalation_file
from gpuaudio.analysis.report import analyze_to_folder
from gpuaudio.evaluation.metrics import f0_scores, interval_scores, resample_f0
from gpuaudio.evaluation.synth import demo_call

SR = 16000
WINDOWS_42_MIN = 2520
FMIN, FMAX = 50.0, 550.0


def _service(backends: list[str], device: str | None) -> AudioFeatureService:
    config: dict[str, object] = {"backends": dict(b.split("=", 1) for b in backends)}
    if device:
        config["device"] = device
    return AudioFeatureService(config)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.platform()}"


def long_call(seconds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """Seeded demo calls end to end: audio, truth frame times and F0, escalation spans."""
    audio, times, f0, spans, offset = [], [], [], [], 0.0
    seed = 0
    while offset < seconds:
        part, truth = demo_call(sr=SR, seed=seed)
        inside = truth.times < part.size / SR  # strictly increasing across the seams
        audio.append(part)
        times.append(truth.times[inside] + offset)
        f0.append(truth.f0[inside])
        spans += [(a + offset, b + offset) for a, b in truth.escalations]
        offset += part.size / SR
        seed += 1
    y = np.concatenate(audio)[: seconds * SR]
    t, hz = np.concatenate(times), np.concatenate(f0)
    keep = t < seconds
    return y, t[keep], hz[keep], [(a, min(b, seconds)) for a, b in spans if a < seconds]


def _accuracy(
    times: np.ndarray, f0: np.ndarray, ref_times: np.ndarray, ref_f0: np.ndarray
) -> tuple[float, float, float]:
    """RPA (50 cents), voicing recall and false alarm of frames against the truth."""
    reference = resample_f0(ref_times, ref_f0, times)
    scores = f0_scores(reference, f0)
    return scores.raw_pitch_accuracy, scores.voicing_recall, scores.voicing_false_alarm


def speed(args: argparse.Namespace) -> None:
    import librosa

    y, truth_t, truth_f0, _ = long_call(WINDOWS_42_MIN)
    service = _service(args.backend, args.device)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "call42.wav"
        sf.write(path, y, SR, subtype="PCM_16")
        y = sf.read(path, dtype="float32")[0]  # both sides analyse the same 16-bit samples
        # Warm-up (numba compilation, model loading) on a short excerpt, as a service would.
        detect_escalation(service, y[: 20 * SR], SR)
        started = time.perf_counter()
        report, _ = analyze_to_folder(service, path, Path(tmp) / "out")
        ours_s = time.perf_counter() - started

    step = max(1, WINDOWS_42_MIN // max(1, args.baseline_windows))
    chosen = np.arange(0, WINDOWS_42_MIN, step)[: args.baseline_windows]
    started = time.perf_counter()
    base_times, base_f0 = [], []
    for index in chosen:  # the spec's baseline: one pyin + RMS call per window
        window = y[index * SR : (index + 1) * SR]
        f0, voiced, _ = librosa.pyin(window, fmin=FMIN, fmax=FMAX, sr=SR)
        _ = float(np.sqrt(np.mean(window.astype(np.float64) ** 2)))
        base_f0.append(np.where(voiced, f0, np.nan))
        base_times.append(index + librosa.times_like(f0, sr=SR))
    baseline_s = (time.perf_counter() - started) * WINDOWS_42_MIN / len(chosen)

    ours_t, ours_f0 = report.contour.times_s, report.contour.f0_hz
    on_chosen = np.isin(np.floor(ours_t).astype(int), chosen)
    ours_acc = _accuracy(ours_t[on_chosen], ours_f0[on_chosen], truth_t, truth_f0)
    base_acc = _accuracy(np.concatenate(base_times), np.concatenate(base_f0), truth_t, truth_f0)
    f0 = report.provenance["f0"]
    print(f"machine: {_machine()}; device: {service.device_info.describe()}")
    print(
        f"gpuaudio {__version__}, F0 backend {f0['backend']} on {f0['device']} ({f0['precision']})"
    )
    print(
        f"42-min recording, {len(report.windows)} windows; baseline on {len(chosen)} windows "
        f"(every {step}th), time scaled x{WINDOWS_42_MIN / len(chosen):.2f}"
    )
    print("| pipeline | time for 42 min (s) | speed-up | RPA 50c | voicing recall | voicing FA |")
    print("|---|---|---|---|---|---|")
    print(
        f"| baseline: loop of librosa.pyin + RMS per 1-s window | {baseline_s:.1f} | 1.0x | "
        f"{base_acc[0]:.3f} | {base_acc[1]:.3f} | {base_acc[2]:.3f} |"
    )
    print(
        f"| gpuaudio analyze ({f0['backend']}), end to end incl. outputs | {ours_s:.1f} | "
        f"{baseline_s / ours_s:.1f}x | {ours_acc[0]:.3f} | {ours_acc[1]:.3f} | {ours_acc[2]:.3f} |"
    )
    timing = ", ".join(f"{k} {v:.2f}" for k, v in report.timing_s.items())
    print(f"stages of ours (s): {timing}; F0 calls: {f0['calls']}")


Spans = list[tuple[float, float]]


def _detect_row(label: str, items: list[tuple[Spans, Spans, float]]) -> str:
    """Score (reference, predicted, duration) recordings together, laid end to end."""
    reference: Spans = []
    predicted: Spans = []
    shift = 0.0
    for ref, pred, duration in items:
        reference += [(a + shift, b + shift) for a, b in ref]
        predicted += [(a + shift, b + shift) for a, b in pred]
        shift += duration
    s = interval_scores(reference, predicted, duration_s=shift)
    recall = f"{s.recall:.3f}" if reference else "-"
    precision = f"{s.precision:.3f}" if predicted else "-"
    return (
        f"| {label} | {shift / 60:.1f} | {s.n_reference} | {s.detected} | {recall} | "
        f"{precision} | {s.false_alarms} | {s.false_alarms_per_hour:.1f} |"
    )


def validate(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).parent / "known_f0"))
    from make_speechset import build_escalation, with_noise

    from gpuaudio.evaluation.speechset import load_set

    service = _service(args.backend, args.device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        build_escalation(Path(tmp), args.seed, args.minutes, args.calm_minutes, tiny=False)
        rng = np.random.default_rng(args.seed)
        for condition, snr in (("clean", None), ("pink noise 20 dB SNR", 20.0)):
            for recording in load_set(tmp).recordings:
                audio = recording.audio("clean")
                if snr is not None:
                    audio = with_noise(audio, snr, rng).astype(np.float32)
                path = Path(tmp) / f"{recording.id}_{condition[:5]}.wav"
                sf.write(path, audio, SR, subtype="FLOAT")
                report, _ = detect_escalation_file(service, path)
                found = [(s.start_s, s.end_s) for s in report.segments]
                label = f"WORLD {recording.id} ({condition})"
                rows.append(_detect_row(label, [(recording.spans, found, report.duration_s)]))
    synthetic = []
    for seed in range(args.demo_calls):
        audio, truth = demo_call(sr=SR, seed=100 + seed)
        report = detect_escalation(service, audio, SR)
        synthetic.append(
            (
                list(truth.escalations),
                [(s.start_s, s.end_s) for s in report.segments],
                report.duration_s,
            )
        )
    rows.append(_detect_row(f"synth demo_call x{args.demo_calls} (seeds 100+)", synthetic))
    print(f"machine: {_machine()}; F0 backend: {service.provenance['f0'].backend}")
    print(
        "| recordings | minutes | spans | detected | time recall | time precision | "
        "false alarms | false alarms / hour |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


_TIME_ONE = """
import sys, time
from gpuaudio import AudioFeatureService
try:
    from gpuaudio.analysis.escalation import detect_escalation_file
except ImportError:  # before the layers
    from gpuaudio.escalation import detect_escalation_file
service = AudioFeatureService({"backends": {"f0": sys.argv[3]}, "device": "cpu"})
detect_escalation_file(service, sys.argv[2])  # warm-up: numba kernels, caches
started = time.perf_counter()
report, _ = detect_escalation_file(service, sys.argv[1])
import gpuaudio
print(time.perf_counter() - started, len(report.windows), gpuaudio.__file__)
"""


def cost(args: argparse.Namespace) -> None:
    import statistics
    import subprocess

    root = Path(__file__).resolve().parents[1]
    seconds = round(args.minutes * 60)
    y, _, _, _ = long_call(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path, warm = work / "call.wav", work / "warm.wav"
        sf.write(path, y, SR, subtype="PCM_16")
        sf.write(warm, y[: 30 * SR], SR, subtype="PCM_16")
        # The earlier core with its own CPU plugin (a newer plugin may not load in an older core).
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", args.ref, "core", "plugins/librosa"],
            check=True, capture_output=True,
        ).stdout
        (work / "ref").mkdir()
        subprocess.run(["tar", "-x", "-C", str(work / "ref")], input=archive, check=True)
        ref, here = work / "ref", root
        # Each side with its CPU default F0: the earlier one named (fastpyin), ours by `auto`.
        sides = {
            f"{args.ref} (earlier, {args.ref_f0})": (ref, args.ref_f0),
            f"this checkout ({args.f0})": (here, args.f0),
        }
        times: dict[str, list[float]] = {label: [] for label in sides}
        for _ in range(args.repeats):
            for label, (tree, f0) in sides.items():
                core = tree / "core"
                plugin = tree / "plugins" / "librosa"
                env = dict(os.environ, PYTHONPATH=f"{core}{os.pathsep}{plugin}")
                out = subprocess.run(
                    [sys.executable, "-c", _TIME_ONE, str(path), str(warm), f0],
                    env=env, check=True, capture_output=True, text=True,
                ).stdout.split()
                if not out[2].startswith(str(core)):  # the side's own gpuaudio, not another
                    raise RuntimeError(f"{label} imported gpuaudio from {out[2]}")
                times[label].append(float(out[0]))
    medians = {label: statistics.median(values) for label, values in times.items()}
    before, after = medians.values()
    print(f"machine: {_machine()}; {args.minutes:g}-min recording, CPU")
    print("| analysis | median s (runs) | ratio |")
    print("|---|---|---|")
    for label, values in times.items():
        runs = ", ".join(f"{v:.1f}" for v in values)
        print(f"| {label} | {medians[label]:.1f} ({runs}) | {medians[label] / before:.2f}x |")
    print(f"cost ratio this checkout / {args.ref}: {after / before:.2f} (limit 1.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for name in ("speed", "validate", "cost"):
        mode = sub.add_parser(name)
        mode.add_argument("--backend", action="append", default=[], metavar="FEATURE=NAME")
        mode.add_argument("--device", default=None)
    sub.choices["speed"].add_argument("--baseline-windows", type=int, default=300)
    sub.choices["validate"].add_argument("--minutes", type=float, default=10.0)
    sub.choices["validate"].add_argument("--calm-minutes", type=float, default=10.0)
    sub.choices["validate"].add_argument("--demo-calls", type=int, default=8)
    sub.choices["validate"].add_argument("--seed", type=int, default=1)
    sub.choices["cost"].add_argument("--ref", default="5f46f8a")
    sub.choices["cost"].add_argument(
        "--f0", default="auto", help="this checkout's F0 backend (default: its CPU default)"
    )
    sub.choices["cost"].add_argument(
        "--ref-f0", default="fastpyin", help="the earlier commit's F0 backend (its CPU default)"
    )
    sub.choices["cost"].add_argument("--repeats", type=int, default=3)
    sub.choices["cost"].add_argument("--minutes", type=float, default=42.0)
    args = parser.parse_args()
    {"speed": speed, "validate": validate, "cost": cost}[args.mode](args)


if __name__ == "__main__":
    main()
