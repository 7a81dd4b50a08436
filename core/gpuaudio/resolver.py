"""Capability resolver: a pure function from (feature, specs, device, config) to a ranking.

Nothing here imports torch or a plugin: module presence is checked with ``find_spec`` (or an
injected predicate), the device is a `DeviceInfo` the caller supplies (a fake one in tests).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gpuaudio.backends import BackendSpec, Feature
from gpuaudio.device import DeviceInfo, GpuInfo
from gpuaudio.errors import BackendUnavailableError

ModuleCheck = Callable[[str], bool]
_MISSING = "missing module"
_NAMED_ONLY = "used only when named in config (auto=False)"
OPTIONAL = "?"
"""Suffix of an optional name in a preference list (``"praat?"``): skipped when absent."""
log = logging.getLogger(__name__)


def module_available(name: str) -> bool:
    """True if a top-level module can be imported (found, not imported)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class Candidate:
    """An eligible backend and the device it would run on."""

    spec: BackendSpec
    device: str
    reason: str


@dataclass(frozen=True)
class Rejection:
    """A backend that cannot serve here, and why."""

    spec: BackendSpec
    reason: str

    @property
    def needs_install(self) -> bool:
        """True when the backend is rejected because a required module is missing."""
        return self.reason.startswith(_MISSING)


@dataclass(frozen=True)
class Resolution:
    """Ranked eligible backends (best first) and the rejected ones, for one feature."""

    feature: Feature
    ranked: tuple[Candidate, ...]
    rejected: tuple[Rejection, ...]
    requested: tuple[str, ...]
    notes: tuple[str, ...] = ()
    """What the resolver skipped on purpose (an optional name that is not registered)."""

    @property
    def chosen(self) -> Candidate:
        """The backend that will serve; raises `BackendUnavailableError` if none can."""
        if not self.ranked:
            raise BackendUnavailableError(self.explain_none())
        return self.ranked[0]

    def explain_none(self) -> str:
        reasons = "; ".join(f"{r.spec.name}: {r.reason}" for r in self.rejected)
        return f"no backend can compute {self.feature!r} here ({reasons or 'none registered'})"


def _target_gpu(device: DeviceInfo, setting: str) -> tuple[GpuInfo | None, str]:
    if setting == "cpu":
        return None, "device=cpu configured"
    if not device.torch_available:
        return None, "torch is not installed"
    if not device.cuda_available or not device.gpus:
        return None, "no CUDA device" + (f" ({device.error})" if device.error else "")
    if setting.startswith("cuda:"):
        index = int(setting.split(":", 1)[1])
        gpu = device.gpu(index)
        if gpu is None:
            present = ", ".join(f"cuda:{g.index}" for g in device.gpus)
            return None, f"{setting} configured but not present (have {present})"
        return gpu, ""
    return device.gpus[0], ""  # REQ-S-005: the first available GPU


def _cuda_problem(spec: BackendSpec, gpu: GpuInfo, device: DeviceInfo) -> str:
    have = ".".join(map(str, gpu.compute_capability))
    if not device.supports(gpu):
        return (
            f"torch {device.torch_version} (CUDA {device.cuda_version}) has no GPU code for "
            f"compute capability {have} of cuda:{gpu.index} (it was built for "
            f"{' '.join(device.cuda_arch_list)}); install a torch build for this GPU "
            "(see https://pytorch.org/get-started/locally/)"
        )
    if spec.min_compute_capability and gpu.compute_capability < spec.min_compute_capability:
        need = ".".join(map(str, spec.min_compute_capability))
        return f"compute capability {have} of cuda:{gpu.index} is below the required {need}"
    if gpu.free_memory_mb < spec.min_free_memory_mb:
        return (
            f"only {gpu.free_memory_mb:.0f} MB free on cuda:{gpu.index}, "
            f"needs {spec.min_free_memory_mb} MB"
        )
    return ""


def _place(
    spec: BackendSpec,
    device: DeviceInfo,
    setting: str,
    explicit: bool,
    available: ModuleCheck,
) -> tuple[str | None, str]:
    """(device, why) when eligible, (None, why not) otherwise."""
    missing = [name for name in spec.requires if not available(name)]
    if missing:
        hint = f"; install with: {spec.install_hint}" if spec.install_hint else ""
        return None, f"{_MISSING} {', '.join(missing)}{hint}"
    gpu, no_gpu = _target_gpu(device, setting)
    kinds = spec.devices if explicit else spec.devices[:1]
    problems = []
    for kind in kinds:
        if kind == "cuda":
            if gpu is None:
                problems.append(no_gpu)
                continue
            problem = _cuda_problem(spec, gpu, device)
            if problem:
                problems.append(problem)
                continue
            return f"cuda:{gpu.index}", f"{gpu.name} (cuda:{gpu.index})"
        if setting in ("auto", "cpu"):
            return "cpu", "CPU" if setting == "auto" else "CPU (device=cpu configured)"
        problems.append(f"runs on CPU only, device={setting} configured")
    if not explicit and len(spec.devices) > 1:
        problems.append(f"can run on {', '.join(spec.devices[1:])} only when named in config")
    return None, "; ".join(problems)


def _rank_key(candidate: Candidate, priorities: Mapping[str, int]) -> tuple[int, int, str]:
    on_gpu = 0 if candidate.device.startswith("cuda") else 1
    priority = priorities.get(candidate.spec.name, candidate.spec.priority)
    return (on_gpu, -priority, candidate.spec.name)


def resolve(
    feature: Feature,
    specs: Sequence[BackendSpec],
    device: DeviceInfo,
    *,
    device_setting: str = "auto",
    choice: str | Sequence[str] = "auto",
    available: ModuleCheck = module_available,
    priorities: Mapping[str, int] | None = None,
    failed_plugins: Sequence[str] = (),
) -> Resolution:
    """Rank the backends for `feature`.

    ``choice="auto"`` ranks every eligible backend: GPU before CPU, then priority (the spec's,
    or `priorities`, the user's ``[priorities]`` table), then name; a spec with ``auto=False``
    serves only when named. A name or list of names (optionally ending in ``"auto"``) keeps
    that order. A name ending in ``"?"`` is optional: skipped, with a note, when no such
    backend is registered. An unknown name, or a choice where no named backend is eligible,
    raises `BackendUnavailableError` with the reason, what is eligible instead and
    `failed_plugins` (the plugins that failed to load, with their errors).
    """
    names = [choice] if isinstance(choice, str) else list(choice)
    wants_auto = names[-1] == "auto"
    by_name = {spec.name: spec for spec in specs if spec.feature == feature}
    notes = [
        f"optional {feature} backend {n[:-1]!r} is not registered: skipped"
        for n in names
        if n.endswith(OPTIONAL) and n[:-1] not in by_name
    ]
    for note in notes:
        log.info("%s", note)
    named = [
        n.removesuffix(OPTIONAL)
        for n in names
        if n != "auto" and not (n.endswith(OPTIONAL) and n[:-1] not in by_name)
    ]
    unknown = [n for n in named if n not in by_name]
    auto_eligible: list[Candidate] = []
    rejected: list[Rejection] = []
    for spec in by_name.values():
        placed, why = _place(spec, device, device_setting, False, available)
        if placed is not None and not spec.auto:
            placed, why = None, _NAMED_ONLY
        if placed is None:
            rejected.append(Rejection(spec, why))
        else:
            auto_eligible.append(Candidate(spec, placed, why))
    auto_eligible.sort(key=lambda candidate: _rank_key(candidate, priorities or {}))
    eligible_names = ", ".join(c.spec.name for c in auto_eligible) or "none"
    if unknown:
        failed = f"; plugins that failed to load: {'; '.join(failed_plugins)}"
        raise BackendUnavailableError(
            f"unknown {feature} backend {', '.join(map(repr, unknown))}; registered: "
            f"{', '.join(sorted(by_name)) or 'none'}; eligible here: {eligible_names}"
            + (failed if failed_plugins else "")
        )
    if not named:
        if not wants_auto:
            raise BackendUnavailableError(
                f"none of the optional {feature} backends {names} is registered; add 'auto' "
                f"to the list to use the best eligible one ({eligible_names})"
            )
        return Resolution(
            feature, tuple(auto_eligible), tuple(rejected), tuple(names), tuple(notes)
        )

    ranked: list[Candidate] = []
    named_rejections: list[Rejection] = []
    for name in named:
        placed, why = _place(by_name[name], device, device_setting, True, available)
        if placed is None:
            named_rejections.append(Rejection(by_name[name], why))
        else:
            ranked.append(Candidate(by_name[name], placed, f"named in config; {why}"))
    if not ranked and not wants_auto:
        reasons = "; ".join(f"{r.spec.name}: {r.reason}" for r in named_rejections)
        raise BackendUnavailableError(
            f"configured {feature} backend cannot run here ({reasons}); eligible here: "
            f"{eligible_names}"
        )
    if wants_auto:
        ranked += [c for c in auto_eligible if c.spec.name not in named]
    rejected = named_rejections + [r for r in rejected if r.spec.name not in named]
    return Resolution(feature, tuple(ranked), tuple(rejected), tuple(names), tuple(notes))
