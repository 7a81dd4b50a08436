"""What a plugin registers (`BackendSpec`) and what the backend object it loads must provide."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from gpuaudio.memory import MemoryManager

Feature = Literal["f0", "stft", "mel", "cqt"]
FEATURES: tuple[Feature, ...] = ("f0", "stft", "mel", "cqt")
DEVICE_KINDS = ("cuda", "cpu")


@dataclass(frozen=True)
class BackendSpec:
    """A backend as a plugin registers it: plain data, nothing imported until `load`.

    The first entry of `devices` is where the backend runs when chosen automatically; the
    others are used only when the backend is named in config (e.g. a GPU backend on CPU).
    """

    name: str
    feature: Feature
    load: str
    """``"module:factory"``; ``factory(BackendContext)`` returns the backend object."""
    devices: tuple[str, ...] = ("cpu",)
    requires: tuple[str, ...] = ()
    """Top-level modules that must be importable (checked with find_spec, never imported)."""
    min_compute_capability: tuple[int, int] | None = None
    min_free_memory_mb: int = 0
    priority: int = 0
    install_hint: str = ""
    description: str = ""
    plugin: str = field(default="", compare=False)
    """Filled in by the plugin manager: the entry-point name that registered the spec."""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "_").isidentifier():
            raise ValueError(
                f"BackendSpec.name must be an identifier-like string, got {self.name!r}"
            )
        if self.feature not in FEATURES:
            raise ValueError(f"BackendSpec.feature must be one of {FEATURES}, got {self.feature!r}")
        if ":" not in self.load:
            raise ValueError(f"BackendSpec.load must be 'module:factory', got {self.load!r}")
        unknown = [d for d in self.devices if d not in DEVICE_KINDS]
        if not self.devices or unknown:
            raise ValueError(f"BackendSpec.devices must be a non-empty subset of {DEVICE_KINDS}")

    def load_factory(self) -> Callable[[BackendContext], Any]:
        """Import and return the factory named by `load`."""
        module_name, _, attr = self.load.partition(":")
        module = importlib.import_module(module_name)
        factory: Callable[[BackendContext], Any] = getattr(module, attr)
        return factory


@dataclass
class BackendContext:
    """Everything a backend factory gets: where to run, how precisely, and shared services."""

    device: str
    """``"cpu"`` or ``"cuda:N"``."""
    precision: str
    """``"fp32" | "tf32" | "fp16" | "bf16"`` (``auto`` already resolved)."""
    memory: MemoryManager
    options: dict[str, Any] = field(default_factory=dict)
    """The backend's own config table (e.g. ``crepe.model``); unknown keys are the backend's
    to reject with `ConfigError`."""

    def require_no_options(self, backend: str) -> None:
        """Raise `ConfigError` if a backend that takes no options was given a config table."""
        if self.options:
            from gpuaudio.errors import ConfigError

            raise ConfigError(
                f"the {backend} backend takes no options, got {sorted(self.options)}; "
                f"remove the [{backend}] table or its keys"
            )


@dataclass(frozen=True)
class F0Frames:
    """Frame-wise F0 as `librosa.pyin` returns it, batch-first: each array is (batch, frames)."""

    f0: Any
    voiced_flag: Any
    voiced_prob: Any


@runtime_checkable
class F0Backend(Protocol):
    """Frame-wise F0 on the librosa.pyin frame grid (centres at ``t * hop_length``)."""

    def f0(
        self,
        y: np.ndarray,
        sr: int,
        *,
        fmin: float,
        fmax: float,
        frame_length: int,
        hop_length: int,
    ) -> F0Frames:
        """`y` is float32 (batch, samples); NaN f0 where unvoiced."""
        ...


@runtime_checkable
class StftBackend(Protocol):
    """Complex STFT as `librosa.stft` returns it, batch-first."""

    def stft(
        self,
        y: np.ndarray,
        *,
        n_fft: int,
        hop_length: int,
        win_length: int,
        window: str,
        center: bool,
        pad_mode: str,
    ) -> Any:
        """`y` is float32 (batch, samples); returns complex64 (batch, 1 + n_fft // 2, frames)."""
        ...


@runtime_checkable
class MelBackend(Protocol):
    """Mel power spectrogram as `librosa.feature.melspectrogram` returns it, batch-first."""

    def melspectrogram(
        self,
        y: np.ndarray,
        sr: int,
        *,
        n_fft: int,
        hop_length: int,
        n_mels: int,
        fmin: float,
        fmax: float,
        power: float,
        center: bool,
        pad_mode: str,
    ) -> Any:
        """`y` is float32 (batch, samples); returns float32 (batch, n_mels, frames)."""
        ...


@runtime_checkable
class CqtBackend(Protocol):
    """Complex constant-Q transform as `librosa.cqt` returns it, batch-first."""

    def cqt(
        self,
        y: np.ndarray,
        sr: int,
        *,
        hop_length: int,
        fmin: float,
        n_bins: int,
        bins_per_octave: int,
    ) -> Any:
        """`y` is float32 (batch, samples); returns complex64 (batch, n_bins, frames)."""
        ...


PROTOCOLS: dict[Feature, type] = {
    "f0": F0Backend,
    "stft": StftBackend,
    "mel": MelBackend,
    "cqt": CqtBackend,
}
