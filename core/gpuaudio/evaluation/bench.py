"""``gpuaudio bench``: every eligible backend, timed and scored against librosa in the same run.

For each feature the candidates are the backends that can run on this machine when named in
config (GPU backends that may also run on CPU included), each in the variants of `VARIANTS`.
Per case: a fresh service's first call on one second of audio (model load included, NF-001),
on a GPU an untimed warm-up on the whole workload, then the median of repeated timed calls.
Speed is a ratio against the librosa backend timed in the same run on the same input; accuracy
is measured against librosa's output (spectral features) or the synthesiser's exact F0 (F0),
and, with a known-F0 speech set (`Workload.known_f0`), against that set's truth per condition.

The F0 workload is the spec's: one-second windows (2,520 for 42 minutes) in one batched call,
``extract_f0`` with the frame and hop of ``extract_f0_windows``. The spectral workload is the
same recording as one signal. Audio comes from `gpuaudio.evaluation.synth` (speech-like, known F0).
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gpuaudio import __version__
from gpuaudio import device as _device
from gpuaudio.backends import FEATURES, Feature
from gpuaudio.errors import BackendUnavailableError, OutputExistsError
from gpuaudio.evaluation.metrics import f0_scores, resample_f0
from gpuaudio.evaluation.speechset import (
    F0Estimate,
    SpeechSet,
    condition_label,
    load_set,
    score_estimator,
)
from gpuaudio.plugins import PluginRegistry, make_plugin_manager
from gpuaudio.resolver import Candidate, resolve
from gpuaudio.service import AudioFeatureService, window_frame_grid

BASELINE = "librosa"
"""The backend every other one is compared with (the CPU reference of the spec)."""

SPECTRAL: dict[str, dict[str, Any]] = {
    "stft": {"n_fft": 2048, "hop_length": 512},
    "mel": {"n_fft": 2048, "hop_length": 512, "n_mels": 128},
    "cqt": {"hop_length": 512, "n_bins": 84, "bins_per_octave": 12},
}
"""Parameters of the spectral features: the spec's NNAudioProcessor defaults, librosa's CQT."""

F0_RANGE = (50.0, 550.0)
KNOWN_F0_FRAME_S, KNOWN_F0_HOP_S = 0.064, 0.010
"""F0 frame and hop on a known-F0 set: 1024 and 160 samples at 16 kHz, as
``benchmarks/known_f0/evaluate.py`` (so the two report the same numbers)."""
_VOICES = ((120.0, 1.0), (210.0, 1.18))
"""(base F0, formant scale) of the synthetic speakers, alternating per minute: male, female."""


@dataclass(frozen=True)
class Variant:
    """One way to run a backend: its option table, a precision, where it is worth running."""

    label: str = "default"
    options: Mapping[str, Any] = field(default_factory=dict)
    precision: str | None = None
    """``None``: the service's ``auto`` (fp32 on CPU, tf32 on Ampere and newer)."""
    on_cpu: bool = True
    on_gpu: bool = True

    def runs_on(self, device: str) -> bool:
        """Whether this variant is measured on `device` (``cpu``, ``cuda:N``)."""
        return self.on_gpu if device.startswith("cuda") else self.on_cpu


VARIANTS: dict[str, tuple[Variant, ...]] = {
    "crepe": (
        Variant("tiny", {"model": "tiny"}),
        # ~0.3 s per frame on a 2-core CPU: hours for the spec's workload, so GPU only.
        Variant("full", {"model": "full"}, on_cpu=False),
        Variant("tiny fp16", {"model": "tiny"}, "fp16", on_cpu=False),
        Variant("full fp16", {"model": "full"}, "fp16", on_cpu=False),
        Variant("full bf16", {"model": "full"}, "bf16", on_cpu=False),
    ),
    "nnaudio": (
        Variant(),
        Variant("fp16", precision="fp16", on_cpu=False),
        Variant("bf16", precision="bf16", on_cpu=False),
    ),
}
"""Variants worth comparing, per backend name; a backend missing here runs once as it is."""


@dataclass(frozen=True)
class Workload:
    """What to measure and how hard."""

    minutes: float = 42.0
    """Length of the recording: ``minutes * 60`` one-second F0 windows (2,520 for 42)."""
    sr: int = 22050
    features: tuple[Feature, ...] = FEATURES
    repeats: int = 5
    """Timed calls per case (after the first call), fewer when `case_budget_s` runs out."""
    case_budget_s: float = 120.0
    """A case stops repeating once its timed calls have taken this long (at least one call)."""
    baseline_windows: int | None = None
    """Time librosa's F0 on this many windows and scale linearly (its pyin is slow)."""
    unique_minutes: float = 5.0
    """Minutes of distinct synthetic speech; longer recordings repeat it."""
    seed: int = 0
    known_f0: str | os.PathLike[str] | None = None
    """Directory of a known-F0 speech set (`gpuaudio.evaluation.speechset`): F0 backends are
    also scored on it, per noise condition (not timed: the speed workload stays synthetic)."""

    @classmethod
    def quick(cls, **changes: Any) -> Workload:
        """About a minute of audio and few repeats: finishes in about a minute on a small CPU."""
        return replace(cls(minutes=1.0, repeats=3, case_budget_s=20.0), **changes)

    @property
    def n_windows(self) -> int:
        return max(1, round(self.minutes * 60))


@dataclass
class CaseResult:
    """One backend variant on one feature."""

    feature: str
    backend: str
    variant: str
    device: str
    auto: bool
    """Whether ``auto`` picks this backend on this machine."""
    status: str = "ok"
    """``ok``, ``failed``, ``skipped`` (variant not run on this device) or ``unavailable``."""
    note: str = ""
    precision: str = ""
    plugin: str = ""
    seconds: float | None = None
    """Median of the timed calls, scaled to the whole workload when `scaled_by` is set."""
    times_s: list[float] = field(default_factory=list)
    first_call_s: float | None = None
    scaled_by: float | None = None
    vs_librosa: float | None = None
    """librosa's time / this backend's time, both from this run."""
    host_rss_before_mb: float | None = None
    """The process's resident memory when the timed calls began."""
    host_peak_mb: float | None = None
    """The process's peak resident memory during the timed calls (Linux; elsewhere the
    process's lifetime peak)."""
    gpu_peak_mb: float | None = None
    accuracy: dict[str, float] = field(default_factory=dict)
    known_f0: dict[str, dict[str, float]] = field(default_factory=dict)
    """F0 on the known-F0 set: condition -> scores (`evaluation.metrics.F0Scores`) and seconds."""


@dataclass
class BenchReport:
    """Everything one run measured, with the machine it ran on."""

    machine: dict[str, Any]
    workload: dict[str, Any]
    results: list[CaseResult]
    started: str
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "gpuaudio_bench": 2,
            "started": self.started,
            "duration_s": round(self.duration_s, 2),
            "machine": self.machine,
            "workload": self.workload,
            "results": [asdict(r) for r in self.results],
        }

    def table(self) -> str:
        """The results as a markdown table, then what was not run and why."""
        head = (
            "feature",
            "backend",
            "variant",
            "device",
            "time (s)",
            "x librosa",
            "first call (s)",
            "peak memory",
            "accuracy",
        )
        rows = [head, tuple("---" for _ in head)]
        notes: list[str] = []
        skipped: dict[tuple[str, str, str], list[str]] = {}
        for r in self.results:
            if r.status == "skipped":
                skipped.setdefault((r.feature, r.backend, r.device), []).append(r.variant)
                continue
            if r.status != "ok":
                notes.append(f"- {r.feature} {r.backend}: {r.status}: {r.note}")
                continue
            rows.append(
                (
                    r.feature,
                    r.backend + (" (auto)" if r.auto else ""),
                    r.variant,
                    f"{r.device} {r.precision}",
                    _seconds(r.seconds) + ("*" if r.scaled_by else ""),
                    f"{r.vs_librosa:.2f}" if r.vs_librosa is not None else "-",
                    _seconds(r.first_call_s),
                    _memory(r),
                    _accuracy(r.feature, r.accuracy),
                )
            )
            if r.note:
                notes.append(f"- {r.feature} {r.backend} {r.variant}: {r.note}")
        notes += [
            f"- {feature} {backend}: variants {', '.join(labels)} not measured on {device}"
            for (feature, backend, device), labels in skipped.items()
        ]
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines + (["", *notes] if notes else []) + self._known_f0_table())

    def _known_f0_table(self) -> list[str]:
        """RPA / voicing recall / false alarm per condition on the known-F0 set, if scored."""
        scored = [r for r in self.results if r.status == "ok" and r.known_f0]
        if not scored:
            return []
        labels = self.workload.get("known_f0_conditions", {})
        conditions = list(scored[0].known_f0)
        head = ["backend", "variant", *(f"{labels.get(c, c)} RPA / VR / FA" for c in conditions)]
        rows = [head, ["---"] * len(head)]
        for r in scored:
            rows.append(
                [r.backend, r.variant]
                + [
                    "{raw_pitch_accuracy:.3f} / {voicing_recall:.3f} / "
                    "{voicing_false_alarm:.3f}".format(**r.known_f0[c])
                    for c in conditions
                ]
            )
        title = f"F0 on the known-F0 set {self.workload['known_f0']}:"
        return ["", title, "", *("| " + " | ".join(row) + " |" for row in rows)]


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def _memory(r: CaseResult) -> str:
    if r.gpu_peak_mb is not None:
        return f"GPU {r.gpu_peak_mb:.0f} MB"
    if r.host_peak_mb is None:
        return "-"
    grew = f" (+{r.host_peak_mb - r.host_rss_before_mb:.0f})" if r.host_rss_before_mb else ""
    return f"RSS {r.host_peak_mb:.0f} MB{grew}"


def _accuracy(feature: str, accuracy: Mapping[str, float]) -> str:
    if not accuracy:
        return "-"
    if feature == "f0":
        return (
            f"RPA {accuracy['raw_pitch_accuracy']:.1%}, VR {accuracy['voicing_recall']:.1%}, "
            f"FA {accuracy['voicing_false_alarm']:.1%}"
        )
    return f"max err {accuracy['max_error_rel']:.1e}"


# -- the workload -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    """The synthetic recording: audio and its F0 truth on the synthesiser's 5 ms grid."""

    audio: npt.NDArray[np.float32]
    sr: int
    truth_times: npt.NDArray[np.float64]
    truth_f0: npt.NDArray[np.float64]

    @property
    def windows(self) -> npt.NDArray[np.float32]:
        """(n_windows, sr): consecutive one-second windows."""
        return self.audio.reshape(-1, self.sr)


def make_recording(workload: Workload) -> Recording:
    """Speech-like audio of ``workload.n_windows`` seconds with exactly known F0.

    Minutes alternate between a male and a female synthetic speaker; beyond
    ``unique_minutes`` the distinct part repeats (synthesis costs about a second per minute).
    """
    from gpuaudio.evaluation.synth import HOP_S, synthesize_speech

    total = workload.n_windows
    unique = max(1, min(total, round(workload.unique_minutes * 60)))
    audio_parts, f0_parts = [], []
    for index, start in enumerate(range(0, unique, 60)):
        seconds = min(60, unique - start)
        base_f0, formants = _VOICES[index % len(_VOICES)]
        audio, truth = synthesize_speech(
            float(seconds),
            workload.sr,
            workload.seed + index,
            base_f0=base_f0,
            formant_scale=formants,
        )
        audio_parts.append(audio[: seconds * workload.sr])
        f0_parts.append(truth.f0[: round(seconds / HOP_S)])
    repeats = math.ceil(total / unique)
    audio = np.tile(np.concatenate(audio_parts), repeats)[: total * workload.sr]
    f0 = np.tile(np.concatenate(f0_parts), repeats)[: round(total / HOP_S)]
    times = np.arange(f0.size, dtype=np.float64) * HOP_S
    return Recording(audio, workload.sr, times, f0)


# -- candidates -------------------------------------------------------------------------------


def candidates(
    feature: Feature, registry: PluginRegistry, info: _device.DeviceInfo
) -> tuple[list[tuple[Candidate, bool]], list[CaseResult]]:
    """Backends that run here when named in config (with whether ``auto`` picks them), and
    the ones that cannot, as ``unavailable`` results with the reason. Baseline first."""
    specs = registry.specs(feature)
    ranked = resolve(feature, specs, info).ranked
    auto_name = ranked[0].spec.name if ranked else None
    eligible: list[tuple[Candidate, bool]] = []
    unavailable: list[CaseResult] = []
    for spec in specs:
        try:
            chosen = resolve(feature, specs, info, choice=spec.name).ranked[0]
        except BackendUnavailableError as exc:
            reason = str(exc).split("cannot run here (")[-1].split("); eligible")[0]
            reason = reason.removeprefix(f"{spec.name}: ")
            unavailable.append(
                CaseResult(feature, spec.name, "-", "-", False, "unavailable", reason)
            )
            continue
        eligible.append((chosen, spec.name == auto_name))
    eligible.sort(key=lambda pair: pair[0].spec.name != BASELINE)
    return eligible, unavailable


def count_steps(workload: Workload, registry: PluginRegistry, info: _device.DeviceInfo) -> int:
    """How many progress lines `run_bench` gives: the synthesis, then one per measured case."""
    return 1 + sum(
        variant.runs_on(candidate.device)
        for feature in workload.features
        for candidate, _ in candidates(feature, registry, info)[0]
        for variant in VARIANTS.get(candidate.spec.name, (Variant(),))
    )


# -- measuring --------------------------------------------------------------------------------


def _mb(n_bytes: int | None) -> float | None:
    return None if n_bytes is None else round(n_bytes / 2**20, 1)


class _Case:
    """Runs one backend variant on one feature: first call, warm-up, timed repeats."""

    def __init__(
        self,
        feature: Feature,
        candidate: Candidate,
        variant: Variant,
        registry: PluginRegistry,
        info: _device.DeviceInfo,
    ) -> None:
        name = candidate.spec.name
        config: dict[str, Any] = {"backends": {feature: name}, "fallback": False}
        if variant.options:
            config[name] = dict(variant.options)
        if variant.precision:
            config["precision"] = variant.precision
        self.feature = feature
        self.device = candidate.device
        self.service = AudioFeatureService(config, registry=registry, device_info=info)

    def call(self, recording: Recording, windows: int | None = None) -> Any:
        """The feature on the workload (`windows` seconds of it, all when None)."""
        sr = recording.sr
        if self.feature == "f0":
            batch = recording.windows[:windows]
            frame_length, hop_length = window_frame_grid(sr)
            fmin, fmax = F0_RANGE
            return self.service.extract_f0(
                batch, sr, fmin=fmin, fmax=fmax, frame_length=frame_length, hop_length=hop_length
            )
        signal = recording.audio if windows is None else recording.audio[: windows * sr]
        params = SPECTRAL[self.feature]
        if self.feature == "stft":
            return self.service.stft(signal, **params)
        if self.feature == "mel":
            return self.service.melspectrogram(signal, sr, **params)
        return self.service.cqt(signal, sr, **params)

    def estimate_f0(self, audio: npt.NDArray[np.float32], sr: int) -> F0Estimate:
        """F0 of one recording of a known-F0 set (frame and hop of `KNOWN_F0_FRAME_S`)."""
        frame, hop = round(KNOWN_F0_FRAME_S * sr), round(KNOWN_F0_HOP_S * sr)
        fmin, fmax = F0_RANGE
        f0, voiced, _ = self.service.extract_f0(
            audio, sr, fmin=fmin, fmax=fmax, frame_length=frame, hop_length=hop
        )
        return np.arange(f0.size) * hop / sr, f0, voiced


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _measure(
    case: _Case,
    result: CaseResult,
    recording: Recording,
    workload: Workload,
    windows: int | None,
) -> Any:
    """Fill `result`'s timings and memory; return the output of the last timed call."""
    with warnings.catch_warnings():  # librosa warns that one second is short for low CQT bins
        warnings.simplefilter("ignore", UserWarning)
        result.first_call_s, _ = _timed(lambda: case.call(recording, 1))
    provenance = case.service.provenance[case.feature]
    result.precision, result.plugin = provenance.precision, provenance.plugin
    on_gpu = case.device.startswith("cuda")
    if on_gpu:
        case.call(recording, windows)  # cuDNN autotuning, allocator growth: not timed
        _device.reset_peak_memory(case.device)
    gc.collect()
    _device.reset_peak_memory("cpu")
    result.host_rss_before_mb = _mb(_device.resident_memory_bytes())
    output = None
    for _ in range(workload.repeats):
        output = None  # let the previous output go before the next call
        seconds, output = _timed(lambda: case.call(recording, windows))
        result.times_s.append(round(seconds, 6))
        if sum(result.times_s) >= workload.case_budget_s:
            break
    result.seconds = statistics.median(result.times_s) * (result.scaled_by or 1.0)
    result.host_peak_mb = _mb(_device.peak_memory_bytes("cpu"))
    if on_gpu:
        result.gpu_peak_mb = _mb(_device.peak_memory_bytes(case.device))
    return output


def _f0_accuracy(output: Any, recording: Recording) -> dict[str, float]:
    """RPA (50 cents), chroma accuracy, voicing recall and false alarm against the truth."""
    f0, voiced, _ = output
    n_windows, n_frames = f0.shape
    _, hop = window_frame_grid(recording.sr)
    times = np.arange(n_windows)[:, None] + np.arange(n_frames)[None, :] * hop / recording.sr
    reference = resample_f0(recording.truth_times, recording.truth_f0, times.ravel())
    scores = f0_scores(reference, np.asarray(f0).ravel(), np.asarray(voiced).ravel())
    keep = ("raw_pitch_accuracy", "raw_chroma_accuracy", "voicing_recall", "voicing_false_alarm")
    return {name: round(float(getattr(scores, name)), 5) for name in keep}


def _spectral_accuracy(output: Any, reference: Any) -> dict[str, float]:
    """Largest absolute difference from librosa, relative to librosa's largest magnitude."""
    ours, ref = np.asarray(output), np.asarray(reference)
    if ours.shape != ref.shape:
        raise ValueError(f"output shape {ours.shape} differs from librosa's {ref.shape}")
    error = float(np.max(np.abs(ours - ref))) / max(float(np.max(np.abs(ref))), 1e-30)
    return {"max_error_rel": float(f"{error:.3e}")}


def run_bench(
    workload: Workload,
    *,
    registry: PluginRegistry | None = None,
    device_info: _device.DeviceInfo | None = None,
    progress: Callable[[str], None] | None = None,
    checkpoint: Callable[[BenchReport], None] | None = None,
) -> BenchReport:
    """Measure every eligible backend variant of every feature in `workload`.

    `progress` gets a line per step; `checkpoint` gets the report after each feature (to save
    partial results of a run that may be cut short).
    """
    started = time.perf_counter()
    registry = registry if registry is not None else make_plugin_manager()
    info = device_info if device_info is not None else _device.probe()
    say = progress or (lambda _text: None)
    report = BenchReport(
        machine=describe_machine(info, registry),
        workload={**asdict(workload), "n_windows": workload.n_windows},
        results=[],
        started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    speech_set = None
    if workload.known_f0 is not None and "f0" in workload.features:
        speech_set = load_set(workload.known_f0)
        report.workload.update(_describe_set(speech_set))
    say(f"synthesising {workload.n_windows} s of speech at {workload.sr} Hz")
    recording = make_recording(workload)
    for feature in workload.features:
        eligible, unavailable = candidates(feature, registry, info)
        baseline: CaseResult | None = None
        reference: Any = None
        for candidate, auto in eligible:
            for variant in VARIANTS.get(candidate.spec.name, (Variant(),)):
                result = CaseResult(
                    feature, candidate.spec.name, variant.label, candidate.device, auto
                )
                report.results.append(result)
                if not variant.runs_on(candidate.device):
                    result.status = "skipped"
                    continue
                say(f"{feature}: {candidate.spec.name} {variant.label} on {candidate.device}")
                output = _run_case(
                    lambda: _Case(feature, candidate, variant, registry, info),  # noqa: B023
                    result,
                    recording,
                    workload,
                    speech_set,
                )
                if output is None:
                    continue
                if candidate.spec.name == BASELINE and baseline is None:
                    baseline, reference = result, output
                if feature != "f0" and reference is not None:
                    result.accuracy = _spectral_accuracy(output, reference)
                output = None
                _release(candidate.device)
        if baseline is not None and baseline.seconds:
            for result in report.results:
                if result.feature == feature and result.status == "ok" and result.seconds:
                    result.vs_librosa = round(baseline.seconds / result.seconds, 3)
        report.results.extend(unavailable)
        report.duration_s = time.perf_counter() - started
        report.machine["load_average_end"] = _load_average()
        if checkpoint is not None:
            checkpoint(report)
    return report


def _run_case(
    make_case: Callable[[], _Case],
    result: CaseResult,
    recording: Recording,
    workload: Workload,
    speech_set: SpeechSet | None = None,
) -> Any:
    """Measure one case into `result`; its last output, or None when it failed.

    F0 cases are also scored on `speech_set` when one is given."""
    windows = None
    if result.feature == "f0" and result.backend == BASELINE and workload.baseline_windows:
        windows = min(workload.baseline_windows, workload.n_windows)
        if windows < workload.n_windows:
            result.scaled_by = workload.n_windows / windows
            result.note = (
                f"timed on {windows} of {workload.n_windows} windows and scaled linearly "
                f"(x{result.scaled_by:.2f}); accuracy on those windows"
            )
    try:
        case = make_case()
        output = _measure(case, result, recording, workload, windows)
        if result.feature == "f0":
            result.accuracy = _f0_accuracy(output, recording)
            if speech_set is not None:
                scores = score_estimator(case.estimate_f0, speech_set)
                result.known_f0 = {c: score.as_dict() for c, score in scores.items()}
    except Exception as exc:  # one broken backend must not stop the benchmark
        result.status, result.note = "failed", f"{type(exc).__name__}: {exc}"
        return None
    return output


def _describe_set(speech_set: SpeechSet) -> dict[str, Any]:
    """What identifies a known-F0 set in the report: where, how much, a manifest digest."""
    from gpuaudio.audio_io import sha256_file

    return {
        "known_f0": str(speech_set.directory),
        "known_f0_manifest_sha256": sha256_file(speech_set.directory / "manifest.json"),
        "known_f0_recordings": len(speech_set.recordings),
        "known_f0_conditions": {
            name: condition_label(name, snr) for name, snr in speech_set.conditions.items()
        },
        "known_f0_frame_hop_s": [KNOWN_F0_FRAME_S, KNOWN_F0_HOP_S],
    }


def _release(device: str) -> None:
    gc.collect()
    _device.release_cached_memory(device)


# -- the machine ------------------------------------------------------------------------------


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _total_ram_gb() -> float | None:
    total = _device.host_memory_bytes("MemTotal")
    return None if total is None else round(total / 2**30, 1)


def _nvidia_driver() -> str | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def describe_machine(info: _device.DeviceInfo, registry: PluginRegistry) -> dict[str, Any]:
    """CPU, cores, RAM, GPUs, driver and the versions that matter for the numbers."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _total_ram_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "device": info.describe(),
        "gpus": [
            {
                "name": g.name,
                "compute_capability": ".".join(map(str, g.compute_capability)),
                "memory_gb": round(g.total_memory_bytes / 2**30, 1),
            }
            for g in info.gpus
        ],
        "nvidia_driver": _nvidia_driver() if info.gpus else None,
        "cuda": info.cuda_version,
        "cuda_arch_list": list(info.cuda_arch_list),
        "versions": {
            "gpuaudio": __version__,
            "torch": info.torch_version,
            "numpy": np.__version__,
            "librosa": _version("librosa"),
            "nnAudio": _version("nnAudio"),
            "torchcrepe": _version("torchcrepe"),
            **{f"plugin {p.plugin}": p.version for p in registry.loaded},
        },
        "load_average_start": _load_average(),
    }


def check_output(path: str | os.PathLike[str], *, force: bool) -> Path:
    """`path` as a Path; raises `OutputExistsError` when it exists and `force` is not set."""
    target = Path(path)
    if target.exists() and not force:
        raise OutputExistsError(f"{target} exists; pass --force to overwrite it")
    return target


def write_json(report: BenchReport, path: str | os.PathLike[str], *, force: bool) -> Path:
    """Write the report as JSON (never over an existing file unless `force`)."""
    target = check_output(path, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return target


def parse_features(text: str) -> tuple[Feature, ...]:
    """``"f0,mel"`` -> ``("f0", "mel")``; unknown names raise `InvalidParameterError`."""
    from gpuaudio.errors import InvalidParameterError

    names: Sequence[str] = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in FEATURES]
    if unknown or not names:
        raise InvalidParameterError(
            f"--features wants a comma-separated subset of {', '.join(FEATURES)}, got {text!r}"
        )
    return tuple(feature for feature in FEATURES if feature in names)
