"""AudioFeatureService: librosa-shaped feature extraction served by the resolved backends."""

from __future__ import annotations

import difflib
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ValidationError

from gpuaudio import _pyin_params as _pyin
from gpuaudio import _validation as check
from gpuaudio import contract
from gpuaudio import device as _device
from gpuaudio.backends import (
    FEATURES,
    PROTOCOLS,
    BackendContext,
    F0Frames,
    Feature,
    declared_kwargs,
)
from gpuaudio.config import BackendChoice, BackendsConfig, Config, load_config
from gpuaudio.cqt_geometry import CqtGeometry
from gpuaudio.errors import (
    BackendError,
    ConfigError,
    GpuOutOfMemoryError,
    InsufficientMemoryError,
    InvalidAudioError,
    InvalidParameterError,
    describe,
)
from gpuaudio.memory import MemoryManager, frame_chunks
from gpuaudio.plugins import PluginRegistry, make_plugin_manager
from gpuaudio.resolver import Candidate, Resolution, resolve

if TYPE_CHECKING:
    from gpuaudio.analysis.escalation import EscalationReport

log = logging.getLogger(__name__)

_F0_CONTEXT_SECONDS = 10.0
"""Frames of context on each side of a chunk for F0: covers the frame span and lets pyin's
Viterbi path settle before the kept frames (REQ-S-002)."""


@dataclass(frozen=True)
class Provenance:
    """Which backend produced a result, where, and what the MemoryManager did."""

    feature: Feature
    backend: str
    plugin: str
    distribution: str
    version: str
    device: str
    precision: str
    reason: str
    fallbacks: tuple[str, ...]
    sub_batches: int
    retries: int
    peak_memory_bytes: int | None
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)
    """The backend's settings as it ran (its ``options`` model with every default filled in,
    e.g. acpitch's ``envelope_weight``), empty for a backend that has none."""

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class Plan(dict[Feature, Resolution]):
    """The resolution of every feature; ``str(plan)`` is a readable table."""

    def __str__(self) -> str:
        lines = []
        for feature, res in self.items():
            if res.ranked:
                first = res.ranked[0]
                lines.append(f"{feature:5} -> {first.spec.name} on {first.device} ({first.reason})")
            else:
                lines.append(f"{feature:5} -> NONE: {res.explain_none()}")
            for rej in res.rejected:
                lines.append(f"        not {rej.spec.name}: {rej.reason}")
            lines.extend(f"        note: {note}" for note in res.notes)
        return "\n".join(lines)


class AudioFeatureService:
    """librosa-compatible feature extraction on the best backend this machine has.

    ``config`` is a `Config`, a mapping, a TOML path, or None (discover ``gpuaudio.toml`` /
    ``[tool.gpuaudio]`` and ``GPUAUDIO_*``). `registry` and `device_info` are injectable for
    tests and embedding applications; so is `host_memory`, the probe of available host memory
    in bytes (default: ``MemAvailable`` of /proc/meminfo, else ``os.sysconf``).
    """

    def __init__(
        self,
        config: Config | Mapping[str, Any] | str | Path | None = None,
        *,
        registry: PluginRegistry | None = None,
        device_info: _device.DeviceInfo | None = None,
        host_memory: Callable[[], int] | None = None,
    ) -> None:
        self.config = load_config(config)
        self._host_memory = host_memory
        self.registry = registry if registry is not None else make_plugin_manager()
        self.device_info = device_info if device_info is not None else _device.probe()
        self._check_backend_tables()
        self._resolutions: dict[tuple[Feature, str | tuple[str, ...]], Resolution] = {}
        self._backends: dict[tuple[Feature, str, str], Any] = {}
        self._memory: dict[str, MemoryManager] = {}
        self.provenance: dict[Feature, Provenance] = {}

    # -- selection -----------------------------------------------------------------------

    def _check_backend_tables(self) -> None:
        """Every backend table names a registered backend (or a plugin that failed to load)
        and is valid for that backend's options model; raises `ConfigError` otherwise."""
        known = self.registry.backend_names() | {f.plugin for f in self.registry.failures}
        for table in self.config.backend_tables():
            _require_known(table, known, "config table", "[{}]")
        for name in self.config.priorities:
            _require_known(name, known, "[priorities] key", "{!r}")
        for spec in self.registry.all_specs():
            spec.parse_options(self.config.backend_options(spec.name))

    def resolution(self, feature: Feature, choice: BackendChoice | None = None) -> Resolution:
        """How `feature` is served here (cached): by the config's ``[backends]`` choice, or by
        `choice` (a name, or names in order of preference, as that table takes them); raises if
        a named backend can't run."""
        if choice is None:
            choice = getattr(self.config.backends, feature)
        else:
            choice = _checked_choice(feature, choice)
        key = (feature, choice if isinstance(choice, str) else tuple(choice))
        if key not in self._resolutions:
            self._resolutions[key] = resolve(
                feature,
                self.registry.specs(feature),
                self.device_info,
                device_setting=self.config.device,
                choice=choice,
                priorities=self.config.priorities,
                failed_plugins=[
                    f"{f.plugin} ({f.distribution}): {f.error}" for f in self.registry.failures
                ],
            )
        return self._resolutions[key]

    def plan(self) -> Plan:
        """Which backend serves each feature on this machine, and why the others don't.

        Checks the backend option tables again (plugins may have registered since)."""
        self._check_backend_tables()
        return Plan((feature, self.resolution(feature)) for feature in FEATURES)

    def memory_manager(self, device: str) -> MemoryManager:
        """The MemoryManager shared by every backend on `device`."""
        if device not in self._memory:
            probe = self._host_memory if device == "cpu" else None
            self._memory[device] = MemoryManager(device, self.config.memory, free_memory=probe)
        return self._memory[device]

    def _precision(self, device: str) -> str:
        if self.config.precision != "auto":
            return self.config.precision
        if device.startswith("cuda"):
            gpu = self.device_info.gpu(int(device.split(":")[1]))
            if gpu is not None and gpu.compute_capability >= (8, 0):
                return "tf32"
        return "fp32"

    def _backend(self, feature: Feature, candidate: Candidate) -> Any:
        key = (feature, candidate.spec.name, candidate.device)
        if key not in self._backends:
            context = BackendContext(
                device=candidate.device,
                precision=self._precision(candidate.device),
                memory=self.memory_manager(candidate.device),
                options=candidate.spec.parse_options(
                    self.config.backend_options(candidate.spec.name)
                ),
            )
            try:
                backend = candidate.spec.load_factory()(context)
            except (ConfigError, InvalidParameterError):
                raise
            except (Exception, SystemExit) as exc:  # a backend must not end the program
                raise BackendError(
                    f"backend {candidate.spec.name!r} ({feature}) failed to load: {describe(exc)}"
                ) from exc
            if not isinstance(backend, PROTOCOLS[feature]):
                raise BackendError(
                    f"backend {candidate.spec.name!r} does not implement the {feature} protocol"
                )
            self._backends[key] = backend
        return self._backends[key]

    def _dispatch(
        self,
        feature: Feature,
        data: np.ndarray,
        call: Callable[[Any, np.ndarray], Any],
        expected: contract.Expected,
        choice: BackendChoice | None = None,
    ) -> Any:
        """Run `call(backend, data)` on the best backend (of `choice`, else of the config's),
        falling back on failure when allowed.

        Each backend gets its own copy of `data`: one that writes into its input can neither
        change the caller's array nor what the next backend is given. A result that breaks the
        feature's contract (`expected`) is a `BackendError`.
        """
        resolution = self.resolution(feature, choice)
        tried: list[str] = []
        last_error: Exception | None = None
        for candidate in resolution.ranked or (resolution.chosen,):
            started = time.perf_counter()
            try:
                backend = self._backend(feature, candidate)
                result = call(backend, data.copy())
                _device.synchronize(candidate.device)
                problem = expected.problem(result)
                if problem:
                    raise BackendError(
                        f"backend {candidate.spec.name!r} ({feature}, plugin "
                        f"{candidate.spec.plugin!r}) broke the {feature} contract: {problem}"
                    )
            except (GpuOutOfMemoryError, BackendError) as exc:
                if not self.config.fallback:
                    raise
                failure: Exception = exc
            except (InvalidParameterError, ConfigError):  # the caller's: no backend fixes it
                raise
            except (Exception, SystemExit) as exc:  # a CUDA/driver error, a bug: keep going
                failure = BackendError(
                    f"backend {candidate.spec.name!r} ({feature}) failed on {candidate.device}: "
                    f"{describe(exc)}"
                )
                if not self.config.fallback:
                    raise failure from exc
                failure.__cause__ = exc
            else:
                used = _precision_used(backend, feature) or self._precision(candidate.device)
                seconds = time.perf_counter() - started
                self._record(feature, candidate, tried, seconds, used, _options_used(backend))
                return result
            log.warning("%s; trying the next eligible backend", failure)
            tried.append(f"{candidate.spec.name}: {failure}")
            last_error = failure
        assert last_error is not None
        raise last_error

    def _record(
        self,
        feature: Feature,
        cand: Candidate,
        tried: list[str],
        seconds: float,
        precision: str,
        options: dict[str, Any],
    ) -> None:
        loaded = {p.plugin: p for p in self.registry.loaded}
        plugin = loaded.get(cand.spec.plugin)
        stats = self.memory_manager(cand.device).stats
        self.provenance[feature] = Provenance(
            feature=feature,
            backend=cand.spec.name,
            plugin=cand.spec.plugin,
            distribution=plugin.distribution if plugin else "",
            version=plugin.version if plugin else "",
            device=cand.device,
            precision=precision,
            reason=cand.reason,
            fallbacks=tuple(tried),
            sub_batches=stats.sub_batches,
            retries=stats.retries,
            peak_memory_bytes=stats.peak_memory_bytes,
            seconds=seconds,
            options=options,
        )

    # -- features ------------------------------------------------------------------------

    def extract_f0(
        self,
        y: Any,
        sr: int,
        *,
        fmin: float = 50.0,
        fmax: float = 550.0,
        frame_length: int = 2048,
        win_length: Any = _pyin.DEPRECATED,
        hop_length: int | None = None,
        n_thresholds: int = 100,
        beta_parameters: tuple[float, float] = (2, 18),
        boltzmann_parameter: float = 2,
        resolution: float = 0.1,
        max_transition_rate: float = 35.92,
        switch_prob: float = 0.01,
        no_trough_prob: float = 0.01,
        fill_na: float | None = np.nan,
        center: bool = True,
        pad_mode: Any = "constant",
        transition_min_prob: float | None = 1e-4,
        as_tensor: bool = False,
        backend: BackendChoice | None = None,
    ) -> tuple[Any, Any, Any]:
        """Frame-wise F0 as ``librosa.pyin`` with the same keyword arguments.

        Returns ``(f0, voiced_flag, voiced_prob)`` with pyin's shapes, dtypes (float64, bool,
        float64) and frames (centred at ``t * hop_length``, or starting there with
        ``center=False``); f0 is `fill_na` (NaN) where unvoiced. `fill_na` numbers and
        `pad_mode` are applied here for every backend; the pyin-model parameters, ``center=False``
        (and so a `pad_mode` other than "constant") and ``fill_na=None`` need a backend whose
        f0 takes them (librosa, fastpyin): any other backend refuses a non-default value by
        name. `win_length` has no effect, as in librosa 0.11 (a FutureWarning).
        `transition_min_prob` is librosa 1.0's (its Viterbi skips less likely transitions); with
        librosa 0.11, which has no such argument, the pyin backends take only its default or
        None (both: 0.11's full Viterbi). `backend` (a name, or names in order of preference)
        chooses the backend for this call instead of the config's ``[backends] f0``.
        """
        _pyin.warn_win_length(win_length)
        signal = check.audio(y)
        sr = check.sample_rate(sr)
        fmin, fmax = check.frequency_range(fmin, fmax, sr)
        frame_length = check.positive_int("frame_length", frame_length)
        hop = check.positive_int_or("hop_length", hop_length, frame_length // 4)
        model = _pyin.model_params(
            n_thresholds=n_thresholds, beta_parameters=beta_parameters,
            boltzmann_parameter=boltzmann_parameter, resolution=resolution,
            max_transition_rate=max_transition_rate, switch_prob=switch_prob,
            no_trough_prob=no_trough_prob, transition_min_prob=transition_min_prob,
        )
        fill = _pyin.fill_value(fill_na)
        mode = _pyin.pad_mode(pad_mode)
        if not isinstance(center, bool):
            raise InvalidParameterError(f"center must be True or False, got {center!r}")
        framed_centred = center and mode == "constant"
        if center and not framed_centred:  # padded here as librosa pads, then framed from 0
            pad = [(0, 0)] * (signal.ndim - 1) + [(frame_length // 2, frame_length // 2)]
            signal = np.ascontiguousarray(np.pad(signal, pad, mode=mode), dtype=np.float32)
        elif not center and signal.shape[-1] < frame_length:
            raise InvalidParameterError(
                f"frame_length ({frame_length}) is longer than the signal "
                f"({signal.shape[-1]} samples) with center=False; use center=True or a "
                "shorter frame_length"
            )
        optional = {
            **model,
            "center": framed_centred,
            "fill_na": None if fill is None else math.nan,  # numbers are written in below
        }
        shown = {"center": "center=False" if not center else f"pad_mode={mode!r}"}

        def compute(segment: np.ndarray) -> Any:
            def call(backend: Any, y: np.ndarray) -> Any:
                declared = declared_kwargs(backend.f0, optional)
                name = getattr(backend, "name", type(backend).__name__)
                _pyin.refuse_unhonoured(name, optional, declared, shown)
                return backend.f0(
                    y, sr, fmin=fmin, fmax=fmax, frame_length=frame_length,
                    hop_length=hop, **declared,
                )

            frames = contract.frame_count(
                segment.shape[-1], span=frame_length, hop=hop, center=framed_centred
            )
            expected = contract.expected_f0(
                segment.shape[0], frames, unvoiced_nan=fill is not None, f0_range=(fmin, fmax)
            )
            return self._dispatch("f0", segment, call, expected, backend)

        context = math.ceil(_F0_CONTEXT_SECONDS * sr / hop) + math.ceil(frame_length / 2 / hop)
        parts = self._framewise(
            compute, signal, sr, hop=hop, span=frame_length, center=framed_centred,
            context=context, pad_short=framed_centred,
            bytes_per_frame=frame_length * 12,  # fastpyin peaked at ~8 (1.9 GB for a 1-h chunk)
            out_bytes_per_frame=17,  # f0 and voiced_prob float64, voiced_flag bool
        )
        f0 = _output(_concat([p.f0 for p in parts]), signal.shape, np.float64, as_tensor)
        flag = _output(_concat([p.voiced_flag for p in parts]), signal.shape, np.bool_, as_tensor)
        prob = _concat([p.voiced_prob for p in parts])
        if fill is not None and not math.isnan(fill):
            f0 = f0.masked_fill(~flag, fill) if as_tensor else np.where(flag, f0, fill)
        return f0, flag, _output(prob, signal.shape, np.float64, as_tensor)

    def extract_f0_windows(
        self, windows: Any, sr: int, *, fmin: float = 50.0, fmax: float = 550.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """One F0 and one confidence per window, all windows in one batched backend call.

        `windows` is (num_windows, window_samples). F0 is the median of the window's voiced
        frames (NaN when none is voiced); confidence is the mean voicing probability of its
        frames, in [0, 1]. Frames are about 93 ms (2048 samples at 22.05 kHz, scaled with sr).
        """
        batch = check.audio(windows, name="windows")
        if batch.ndim != 2:
            raise InvalidParameterError(
                f"windows must be 2-D (num_windows, window_samples), got shape {batch.shape}"
            )
        sr = check.sample_rate(sr)
        check.frequency_range(fmin, fmax, sr)  # before the grid: sr must fit the F0 range
        frame_length, hop_length = window_frame_grid(sr)
        f0, _, prob = self.extract_f0(
            batch, sr, fmin=fmin, fmax=fmax, frame_length=frame_length, hop_length=hop_length
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN rows -> NaN
            median_f0 = np.nanmedian(f0, axis=-1)
        return median_f0, prob.mean(axis=-1)

    def detect_emotional_escalation(
        self,
        y: Any,
        sr: int,
        *,
        progress: Callable[[str, float], None] | None = None,
        **params: Any,
    ) -> EscalationReport:
        """Where the speaker escalates: per-window F0, variability, voicing, level and an
        arousal score against the speaker's own baseline, and the merged segments.

        Keyword arguments are `EscalationParams` fields (``window_s``, ``threshold``, ...);
        `progress(stage, fraction_done)`, when given, is called before each chunk of the
        analysis and with 1.0 when only the scoring is left (results are the same).
        F0 of all windows comes from one batched call (REQ-E-005). A thin delegation to the
        analysis layer, imported here so the framework never imports it at load time; see
        `gpuaudio.analysis.escalation` and docs/escalation.md for the method.
        """
        from gpuaudio.analysis.escalation import EscalationParams, detect_escalation

        return detect_escalation(self, y, sr, EscalationParams(**params), progress=progress)

    def stft(
        self,
        y: Any,
        *,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        as_tensor: bool = False,
    ) -> Any:
        """Complex STFT as ``librosa.stft`` with the same arguments: (..., 1 + n_fft//2, frames)."""
        signal = check.audio(y)
        n_fft = check.positive_int("n_fft", n_fft)
        win_length = check.positive_int_or("win_length", win_length, n_fft)
        hop = check.positive_int_or("hop_length", hop_length, win_length // 4)
        if win_length > n_fft:
            raise InvalidParameterError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
        window = check.window_name(window)

        def compute(segment: np.ndarray) -> Any:
            return self._dispatch(
                "stft",
                segment,
                lambda b, y: b.stft(
                    y,
                    n_fft=n_fft,
                    hop_length=hop,
                    win_length=win_length,
                    window=window,
                    center=center,
                    pad_mode=pad_mode,
                ),
                contract.expected_spectrum(
                    "stft",
                    segment.shape[0],
                    1 + n_fft // 2,
                    contract.frame_count(segment.shape[-1], span=n_fft, hop=hop, center=center),
                    complex_=True,
                ),
            )

        parts = self._spectral(
            compute, signal, n_fft, hop, center, pad_mode,
            bytes_per_frame=(n_fft // 2 + 1) * 24, out_bytes_per_frame=(n_fft // 2 + 1) * 8,
        )
        return _output(_concat(parts), signal.shape, np.complex64, as_tensor)

    def melspectrogram(
        self,
        y: Any,
        sr: int,
        *,
        n_fft: int = 2048,
        hop_length: int = 512,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        power: float = 2.0,
        as_tensor: bool = False,
    ) -> Any:
        """Mel spectrogram as ``librosa.feature.melspectrogram`` (center=True, constant pad)."""
        signal = check.audio(y)
        sr = check.sample_rate(sr)
        n_fft = check.positive_int("n_fft", n_fft)
        hop = check.positive_int("hop_length", hop_length)
        n_mels = check.positive_int("n_mels", n_mels)
        fmin = check.finite_real("fmin", fmin)
        top = sr / 2 if fmax is None else check.finite_real("fmax", fmax)
        power = check.finite_real("power", power)
        if fmin < 0 or fmin >= top or top > sr / 2:
            raise InvalidParameterError(
                f"need 0 <= fmin < fmax <= sr/2 ({sr / 2} Hz), got fmin={fmin}, fmax={fmax}"
            )
        if power <= 0:
            raise InvalidParameterError(f"power must be positive, got {power}")

        def compute(segment: np.ndarray) -> Any:
            return self._dispatch(
                "mel",
                segment,
                lambda b, y: b.melspectrogram(
                    y,
                    sr,
                    n_fft=n_fft,
                    hop_length=hop,
                    n_mels=n_mels,
                    fmin=float(fmin),
                    fmax=float(top),
                    power=float(power),
                    center=True,
                    pad_mode="constant",
                ),
                contract.expected_spectrum(
                    "mel",
                    segment.shape[0],
                    n_mels,
                    contract.frame_count(segment.shape[-1], span=n_fft, hop=hop, center=True),
                    complex_=False,
                ),
            )

        parts = self._spectral(
            compute, signal, n_fft, hop, True, "constant", sr=sr,
            bytes_per_frame=(n_fft // 2 + 1) * 24 + n_mels * 4, out_bytes_per_frame=n_mels * 4,
        )
        return _output(_concat(parts), signal.shape, np.float32, as_tensor)

    def cqt(
        self,
        y: Any,
        sr: int,
        *,
        hop_length: int = 512,
        fmin: float | None = None,
        n_bins: int = 84,
        bins_per_octave: int = 12,
        as_tensor: bool = False,
    ) -> Any:
        """Complex constant-Q transform as ``librosa.cqt``: (..., n_bins, frames).

        Frame counts are librosa's for every length (`CqtGeometry.frames`: early downsampling
        can add one); settings librosa refuses (filters above Nyquist, input shorter than its
        downsampling factor) raise `InvalidParameterError` / `InvalidAudioError` up front."""
        signal = check.audio(y)
        sr = check.sample_rate(sr)
        hop = check.positive_int("hop_length", hop_length)
        n_bins = check.positive_int("n_bins", n_bins)
        bins_per_octave = check.positive_int("bins_per_octave", bins_per_octave)
        low = 32.70319566257483 if fmin is None else check.finite_real("fmin", fmin)  # C1
        octaves = (n_bins - 1) / bins_per_octave
        if octaves > 40:  # far above any Nyquist frequency (and 2**octaves would overflow)
            raise InvalidParameterError(
                f"n_bins={n_bins} at {bins_per_octave} per octave spans {octaves:.0f} octaves "
                f"above fmin: the top bins are above the Nyquist frequency ({sr / 2} Hz)"
            )
        if low <= 0:
            raise InvalidParameterError(f"fmin must be above 0 Hz, got {low}")
        geometry = CqtGeometry(sr, hop, low, n_bins, bins_per_octave)
        geometry.check_nyquist()
        n_octaves = geometry.n_octaves
        if hop % 2 ** (n_octaves - 1):
            raise InvalidParameterError(
                f"hop_length ({hop}) must be divisible by 2**(octaves-1) = {2 ** (n_octaves - 1)} "
                f"for {n_bins} bins at {bins_per_octave} per octave (as librosa requires)"
            )
        if signal.shape[-1] < geometry.min_samples:
            raise InvalidAudioError(
                f"y has {signal.shape[-1]} samples; librosa's CQT first downsamples by "
                f"{geometry.min_samples} at these settings and needs at least that many"
            )

        def compute(segment: np.ndarray) -> Any:
            return self._dispatch(
                "cqt",
                segment,
                lambda b, y: b.cqt(
                    y,
                    sr,
                    hop_length=hop,
                    fmin=low,
                    n_bins=n_bins,
                    bins_per_octave=bins_per_octave,
                ),
                contract.expected_spectrum(
                    "cqt", segment.shape[0], n_bins, geometry.frames(segment.shape[-1]),
                    complex_=True,
                ),
            )

        longest_filter = geometry.longest_filter
        context = math.ceil(longest_filter / hop) + 4
        parts = self._framewise(
            compute, signal, sr, hop=hop, span=longest_filter, center=True, context=context,
            bytes_per_frame=n_bins * 32, out_bytes_per_frame=n_bins * 8,
            pad_short=False,  # librosa's CQT takes short input; zero-padding changes its values
            frames=geometry.frames,
        )
        return _output(_concat(parts), signal.shape, np.complex64, as_tensor)

    # -- long and short input ------------------------------------------------------------

    def _spectral(
        self,
        compute: Callable[[np.ndarray], Any],
        signal: np.ndarray,
        n_fft: int,
        hop: int,
        center: bool,
        pad_mode: str,
        sr: int | None = None,
        *,
        bytes_per_frame: int,
        out_bytes_per_frame: int,
    ) -> list[Any]:
        n = signal.shape[-1]
        if not center and n < n_fft:
            raise InvalidParameterError(
                f"n_fft ({n_fft}) is larger than the signal ({n} samples) with center=False; "
                "use a smaller n_fft or center=True"
            )
        if center and pad_mode != "constant" and n <= n_fft // 2:
            raise InvalidParameterError(
                f"pad_mode={pad_mode!r} needs more than n_fft//2 = {n_fft // 2} samples, got {n}; "
                "use pad_mode='constant' or a smaller n_fft"
            )
        context = math.ceil(n_fft / 2 / hop) + 1 if center else 0
        return self._framewise(
            compute,
            signal,
            sr,
            hop=hop,
            span=n_fft,
            center=center,
            context=context,
            pad_short=pad_mode == "constant",
            bytes_per_frame=bytes_per_frame,
            out_bytes_per_frame=out_bytes_per_frame,
        )

    def _framewise(
        self,
        compute: Callable[[np.ndarray], Any],
        signal: np.ndarray,
        sr: int | None,
        *,
        hop: int,
        span: int,
        center: bool,
        context: int,
        bytes_per_frame: int,
        out_bytes_per_frame: int,
        pad_short: bool = True,
        frames: Callable[[int], int] | None = None,
    ) -> list[Any]:
        """Compute a frame-wise feature, padding short input and chunking long input.

        Input under 512 samples is zero-padded and the frames trimmed (REQ-E-004). Input
        longer than ``memory.chunk_seconds`` is cut into frame ranges, each computed with
        `context` frames on both sides that are then dropped, so the kept frames see exactly
        the samples they would see in one piece (REQ-S-002). Signals go to the backend in
        groups sized by the host's MemoryManager (about `bytes_per_frame` per computed frame
        of a signal, within ``memory_fraction`` of the available host memory left after the
        result); a call whose result (`out_bytes_per_frame` per frame) plus one signal's work
        would not fit is refused before it starts. `frames` counts the frames of n samples
        (default: as librosa's STFT, `contract.frame_count`).
        """
        batch = signal.reshape(-1, signal.shape[-1])
        rows, n = batch.shape
        if frames is None:
            n_frames = contract.frame_count(n, span=span, hop=hop, center=center)
        else:
            n_frames = frames(n)
        rate = sr or 22050
        chunk_frames = max(1, int(self.config.memory.chunk_seconds * rate) // hop)
        padded_n = max(n, check.MIN_SAMPLES) if pad_short else n
        computed = min(1 + padded_n // hop if center else n_frames, chunk_frames + 2 * context)
        host = self.memory_manager("cpu")
        result_bytes = rows * n_frames * out_bytes_per_frame
        signal_bytes = computed * bytes_per_frame
        _check_host_memory(host.free_bytes(), rows, n_frames, result_bytes, signal_bytes)
        group = max(1, host.items_fitting(signal_bytes, reserved=result_bytes))

        def parts(signals: np.ndarray) -> list[Any]:
            if n < check.MIN_SAMPLES and pad_short:
                padded = np.zeros((signals.shape[0], check.MIN_SAMPLES), dtype=np.float32)
                padded[:, :n] = signals
                return [_trim(compute(padded), 0, n_frames)]
            if n_frames <= chunk_frames:
                return [_trim(compute(signals), 0, n_frames)]
            offset = span // 2 if center else 0
            pieces = []
            for first, stop in frame_chunks(n_frames, chunk_frames):
                lo, hi = max(0, first - context), min(n_frames, stop + context)
                start, end = lo * hop, min(n, (hi - 1) * hop - offset + span)
                pieces.append(_trim(compute(signals[:, start:end]), first - lo, stop - lo))
            return pieces

        if group >= rows:
            return parts(batch)
        groups = (_concat(parts(batch[a:b])) for a, b in frame_chunks(rows, group))
        return [_join_rows(groups, rows)]


def _require_known(name: str, known: set[str], kind: str, shown: str) -> None:
    """`ConfigError` with a did-you-mean when `name` (a table, a priority) names no registered
    backend; `shown` formats a name for the message (``"[{}]"``)."""
    if name in known:
        return
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    raise ConfigError(
        f"unknown {kind} {shown.format(name)}: no backend of that name is registered"
        + (f"; did you mean {shown.format(close[0])}?" if close else "")
        + f" (registered: {', '.join(sorted(known)) or 'none'})"
    )


def _precision_used(backend: Any, feature: Feature) -> str | None:
    """The precision a backend says it computed `feature` in: its ``precision`` attribute (a
    string, or a mapping feature -> string); None when it says nothing (the config's then)."""
    declared = getattr(backend, "precision", None)
    if isinstance(declared, Mapping):
        declared = declared.get(feature)
    return declared if isinstance(declared, str) else None


def _options_used(backend: Any) -> dict[str, Any]:
    """A backend's settings: its ``options`` attribute (a pydantic model, as the built-in
    backends keep their config table, or a mapping), {} when it has none."""
    declared = getattr(backend, "options", None)
    if isinstance(declared, BaseModel):
        return declared.model_dump(mode="json")
    return dict(declared) if isinstance(declared, Mapping) else {}


_HOST_SHARE = 0.8
"""Share of the host's available memory one call may plan to use."""


def _check_host_memory(
    available: int, signals: int, frames: int, result_bytes: int, signal_bytes: int
) -> None:
    """Raise `InsufficientMemoryError` when the result of `signals` x `frames` frames
    (`result_bytes`) plus the work on one signal (`signal_bytes`) would not fit in `available`."""
    needed = result_bytes + signal_bytes
    if needed > _HOST_SHARE * available:
        raise InsufficientMemoryError(
            f"{signals} signal(s) of {frames} frame(s) each need about {needed / 1e9:.1f} GB of "
            f"host memory (the result {result_bytes / 1e9:.1f} GB, the work on one signal "
            f"{signal_bytes / 1e9:.1f} GB), more than {_HOST_SHARE:.0%} of the "
            f"{available / 1e9:.1f} GB available: pass fewer or shorter signals per call"
        )


def window_frame_grid(sr: int) -> tuple[int, int]:
    """F0 (frame_length, hop_length) of `extract_f0_windows` at `sr`: ~93 ms frames, a power of
    two (2048 at 22.05 kHz), and librosa.pyin's default hop of a quarter frame."""
    frame_length = max(256, 1 << round(math.log2(2048 * sr / 22050)))
    return frame_length, frame_length // 4


def _trim(result: Any, first: int, stop: int) -> Any:
    if isinstance(result, F0Frames):
        return F0Frames(
            result.f0[..., first:stop],
            result.voiced_flag[..., first:stop],
            result.voiced_prob[..., first:stop],
        )
    return result[..., first:stop]


def _concat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts, axis=-1)
    import torch

    return torch.cat([torch.as_tensor(p) for p in parts], dim=-1)


def _join_rows(groups: Iterator[Any], rows: int) -> Any:
    """Results of consecutive groups of signals as one batch-first result (an array, or
    F0Frames of arrays), assembled on the host in arrays allocated once: the peak is the result
    plus one group's work, not twice the result."""
    joined: list[np.ndarray] = []
    at = 0
    for group in groups:
        fields: tuple[Any, ...] = (
            (group.f0, group.voiced_flag, group.voiced_prob)
            if isinstance(group, F0Frames)
            else (group,)
        )
        arrays = [f if isinstance(f, np.ndarray) else f.detach().cpu().numpy() for f in fields]
        if not joined:
            joined = [np.empty((rows, *a.shape[1:]), dtype=a.dtype) for a in arrays]
        for out, part in zip(joined, arrays, strict=True):
            out[at : at + part.shape[0]] = part
        at += arrays[0].shape[0]
    return F0Frames(*joined) if len(joined) == 3 else joined[0]


def _output(result: Any, input_shape: tuple[int, ...], dtype: Any, as_tensor: bool) -> Any:
    """Reshape batch-first `result` to the caller's leading axes; numpy unless asked."""
    lead = input_shape[:-1]
    if as_tensor:
        import torch

        tensor = torch.as_tensor(result)
        return tensor.reshape(*lead, *tensor.shape[1:])
    if not isinstance(result, np.ndarray):
        result = result.detach().cpu().numpy()  # .cpu() synchronises (REQ-N-005)
    array = np.asarray(result).astype(dtype, copy=False)
    return array.reshape(*lead, *array.shape[1:])


def _checked_choice(feature: Feature, choice: Any) -> BackendChoice:
    """A per-call backend choice, checked and split as the config's ``[backends]`` entries are."""
    try:
        checked: BackendChoice = getattr(BackendsConfig.model_validate({feature: choice}), feature)
    except ValidationError as exc:
        problems = "; ".join(error["msg"] for error in exc.errors())
        message = f"invalid {feature} backend choice {choice!r}: {problems}"
        raise InvalidParameterError(message) from None
    return checked
