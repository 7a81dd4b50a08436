"""What a plugin registers (`BackendSpec`) and what the backend object it loads must provide."""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from gpuaudio.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from gpuaudio.memory import MemoryManager

Feature = Literal["f0", "stft", "mel", "cqt"]
FEATURES: tuple[Feature, ...] = ("f0", "stft", "mel", "cqt")
DEVICE_KINDS = ("cuda", "cpu")
OptionsT = TypeVar("OptionsT", bound=BaseModel)
API_VERSION = "1.0"
"""The plugin API this gpuaudio speaks, ``MAJOR.MINOR``. Within a major version changes are
additive only: new `BackendSpec` fields have defaults, and a new keyword argument of a backend
method is passed only to backends whose method declares it (`declared_kwargs`), so a plugin
written for 1.0 keeps working with every 1.x. A spec whose major version differs is refused."""
_API_PATTERN = re.compile(r"^(\d+)\.(\d+)$")


@functools.lru_cache(maxsize=256)
def _parameters(method: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """(keyword names, takes **kwargs) of a callable."""
    params = inspect.signature(method).parameters.values()
    names = frozenset(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def declared_kwargs(method: Callable[..., Any], optional: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments added after API 1.0 (`optional`) that `method` declares, by name
    or with ``**kwargs``: the host passes a backend only what it can take."""
    if not optional:
        return {}
    target = getattr(method, "__func__", method)  # a bound method's function, cacheable
    names, var_kw = _parameters(target)
    return {key: value for key, value in optional.items() if var_kw or key in names}


def parse_options(model: type[OptionsT], table: Mapping[str, Any], section: str) -> OptionsT:
    """Validate a backend's config table (``[section]``) with its options model.

    Strings (from ``GPUAUDIO_<SECTION>__<KEY>``) are coerced by the model; an unknown key
    gets a did-you-mean; every problem is one `ConfigError` naming ``section.key``.
    """
    fields = list(model.model_fields)
    for key in table:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown [{section}] option {key!r}: {hint}"
                f"(options: {', '.join(fields) or 'none, remove the table'})"
            )
    try:
        return model.model_validate(dict(table))
    except ValidationError as exc:
        problems = [
            f"{'.'.join([section, *map(str, error['loc'])])}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ConfigError(f"invalid [{section}] options: {'; '.join(problems)}") from None


@dataclass(frozen=True)
class OptionInfo:
    """One option of a backend, as ``gpuaudio plugins --options`` lists it."""

    name: str
    type: str
    default: str
    description: str


def describe_options(model: type[BaseModel]) -> list[OptionInfo]:
    """Name, type, default and description of every field of an options model."""
    infos = []
    for name, info in model.model_fields.items():
        kind = info.annotation
        type_name = kind.__name__ if isinstance(kind, type) else str(kind)
        default = "required" if info.is_required() else repr(info.get_default())
        description = " ".join((info.description or "").split())
        infos.append(OptionInfo(name, type_name.replace("typing.", ""), default, description))
    return infos


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
    """Rank among eligible backends of the same device kind under ``auto`` (higher first;
    librosa 0, fastpyin 10, GPU backends 10-20; negative ranks below the reference). Users
    override it with a ``[priorities]`` table."""
    auto: bool = True
    """False: never chosen by ``auto``, only when named in config (experimental backends)."""
    install_hint: str = ""
    description: str = ""
    api_version: str = API_VERSION
    """The plugin API the backend was written for (``"1.0"``); a different major version is
    refused by the plugin manager and listed by ``gpuaudio plugins``."""
    options: type[BaseModel] | None = None
    """The pydantic model of the backend's config table (``[name]``); None: it takes none. The
    service validates the table with it when it is built and hands the backend the instance."""
    plugin: str = field(default="", compare=False)
    """Filled in by the plugin manager: the entry-point name that registered the spec."""

    def __post_init__(self) -> None:
        self._check_types()
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
        if not isinstance(self.api_version, str) or not _API_PATTERN.match(self.api_version):
            raise ValueError(
                f"BackendSpec.api_version must be 'MAJOR.MINOR' (e.g. {API_VERSION!r}), "
                f"got {self.api_version!r}"
            )
        if self.options is not None and not (
            isinstance(self.options, type) and issubclass(self.options, BaseModel)
        ):
            raise ValueError(
                f"BackendSpec.options must be a pydantic model class, got {self.options!r}"
            )
        self._check_default_options()

    def _check_default_options(self) -> None:
        """The options model must be valid with no table at all: a backend the user never
        configures still has to load (and a required field would otherwise break every run)."""
        if self.options is None:
            return
        try:
            self.options()
        except ValidationError as exc:
            fields = sorted({".".join(map(str, e["loc"])) or "(model)" for e in exc.errors()})
            raise ValueError(
                f"BackendSpec.options ({self.options.__name__}) must be valid without a config "
                f"table; give these fields defaults: {', '.join(fields)}"
            ) from None

    def _check_types(self) -> None:
        """A plugin's spec with a value of the wrong type (``priority="10"``, ``requires=
        "librosa"``) is refused here, in its hook, not met later in the resolver."""
        for name in ("name", "load", "install_hint", "description"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(
                    f"BackendSpec.{name} must be a string, got {getattr(self, name)!r}"
                )
        for name in ("devices", "requires"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"BackendSpec.{name} must be a tuple of strings, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        for name in ("priority", "min_free_memory_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"BackendSpec.{name} must be an integer, got {value!r}")
        if self.min_free_memory_mb < 0:
            raise ValueError(
                f"BackendSpec.min_free_memory_mb must be >= 0, got {self.min_free_memory_mb}"
            )
        capability = self.min_compute_capability
        if capability is not None and not (
            isinstance(capability, tuple) and len(capability) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in capability)
        ):
            raise ValueError(
                "BackendSpec.min_compute_capability must be None or (major, minor) integers, "
                f"e.g. (7, 0), got {capability!r}"
            )
        if not isinstance(self.auto, bool):
            raise ValueError(f"BackendSpec.auto must be True or False, got {self.auto!r}")

    @property
    def api_compatible(self) -> bool:
        """True when the spec's API major version is this gpuaudio's."""
        return self.api_version.split(".")[0] == API_VERSION.split(".")[0]

    def parse_options(self, table: Mapping[str, Any]) -> Any:
        """This backend's validated options: an instance of `options` (defaults where the
        table is silent), or ``{}`` for a backend without options (a table is refused)."""
        if self.options is not None:
            return parse_options(self.options, table, self.name)
        if table:
            raise ConfigError(
                f"the {self.name} backend takes no options, got {sorted(table)}; "
                f"remove the [{self.name}] table or its keys"
            )
        return {}

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
    options: Any = field(default_factory=dict)
    """The backend's options: an instance of its spec's `options` model, validated by the
    service (``{}`` for a backend without options). Code that builds a backend itself may
    pass the table as a dict; read it with `options_as`."""

    def options_as(self, model: type[OptionsT], section: str) -> OptionsT:
        """`options` as an instance of `model`: as is when it already is one, else the dict
        validated by `model` (`ConfigError` naming ``[section]`` when it is not valid)."""
        if isinstance(self.options, model):
            return self.options
        return parse_options(model, self.options or {}, section)

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
