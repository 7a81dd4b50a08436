"""Configuration: pydantic models, loaded from a dict, kwargs, a TOML file and ``GPUAUDIO_*``.

Precedence, lowest first: defaults < TOML file < environment < explicit dict/kwargs.
Every table except the known ones below is a backend's own option table (``[crepe]``); the
service validates it with the backend's options model (`BackendSpec.options`) when it is built.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from gpuaudio.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENV_PREFIX = "GPUAUDIO_"
CONFIG_FILE_ENV = "GPUAUDIO_CONFIG"
CONFIG_FILENAME = "gpuaudio.toml"
# Variables that are not configuration keys.
_NON_CONFIG_ENV = {"GPUAUDIO_CONFIG", "GPUAUDIO_PLUGINS", "GPUAUDIO_PLUGIN_IMPORT_TIMEOUT"}
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")
# Where a pyproject.toml holds gpuaudio's table: [tool.gpuaudio].
_PYPROJECT_TABLE = ("tool", "gpuaudio")

Precision = Literal["auto", "fp32", "tf32", "fp16", "bf16"]
BackendChoice = str | list[str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class BackendsConfig(_Strict):
    """Which backend serves each feature: ``auto``, a name, or names in order of preference."""

    f0: BackendChoice = "auto"
    stft: BackendChoice = "auto"
    mel: BackendChoice = "auto"
    cqt: BackendChoice = "auto"

    @field_validator("f0", "stft", "mel", "cqt", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str) and "," in value:
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("f0", "stft", "mel", "cqt")
    @classmethod
    def _non_empty(cls, value: BackendChoice) -> BackendChoice:
        names = [value] if isinstance(value, str) else value
        if not names or any(not name.strip() for name in names):
            raise ValueError("must be 'auto', a backend name or a non-empty list of names")
        if isinstance(value, list) and "auto" in value and value[-1] != "auto":
            raise ValueError("'auto' may only end a preference list")
        if any(name.strip() in ("auto?", "?") for name in names):
            raise ValueError("'?' marks an optional backend name ('praat?'), not 'auto'")
        return value


class MemoryConfig(_Strict):
    """Batch sizing and chunking shared by all backends (MemoryManager)."""

    max_batch: int = Field(2048, ge=1, description="Largest sub-batch of items sent to a device.")
    min_batch: int = Field(128, ge=1, description="Floor of OOM halving; cap when memory is low.")
    low_memory_mb: int = Field(
        2048, ge=0, description="Below this free GPU memory, cap at min_batch."
    )
    memory_fraction: float = Field(
        0.5, gt=0, le=1, description="Share of free memory a sub-batch may plan to use."
    )
    chunk_seconds: float = Field(
        3600.0, gt=0, le=604800,
        description="Inputs longer than this are processed in chunks (REQ-S-002); at most a "
        "week (604800 s), longer than any recording.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> MemoryConfig:
        if self.min_batch > self.max_batch:
            raise ValueError(f"min_batch ({self.min_batch}) exceeds max_batch ({self.max_batch})")
        return self


class BatchConfig(_Strict):
    """How `gpuaudio batch` runs its recordings (not an analysis setting: not in a config hash)."""

    engine: Literal["local", "dask"] = Field(
        "local", description="local (embedded worker processes) or dask (dask.distributed)."
    )
    workers: int | None = Field(
        None, ge=1, description="Worker processes (default: one per GPU, else one)."
    )
    address: str | None = Field(
        None, description="Dask scheduler to connect to (tcp://host:8786); else a LocalCluster."
    )
    retries: int = Field(2, ge=0, description="Reruns of a task whose worker died.")
    resources: dict[str, PositiveFloat] | None = Field(
        None, description="Dask worker resources each recording needs, e.g. {GPU = 1} for workers "
        "started with `dask worker ADDRESS --resources GPU=1` (dask engine only; a local "
        "cluster on a machine with GPUs asks for GPU = 1 by itself)."
    )
    copy_audio: bool = Field(
        False, description="Copy each recording beside its report.html (in the config hash); "
        "else the page plays the original by a relative path."
    )


class Config(BaseModel):
    """The whole gpuaudio configuration."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    precision: Precision = Field("auto", description="auto | fp32 | tf32 | fp16 | bf16")
    backends: BackendsConfig = Field(default_factory=BackendsConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    fallback: bool = Field(
        True, description="On a backend failure (e.g. OOM at min_batch) try the next eligible one."
    )
    priorities: dict[str, int] = Field(
        default_factory=dict,
        description="Backend name -> rank under auto, overriding the plugin's priority.",
    )

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        value = value.strip().lower()
        if not _DEVICE_PATTERN.match(value):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value

    @model_validator(mode="after")
    def _backend_tables(self) -> Config:
        for key, value in (self.model_extra or {}).items():
            close = difflib.get_close_matches(key, Config.model_fields, n=1, cutoff=0.8)
            if close:  # a typo of a setting, not a backend's option table
                raise ValueError(f"unknown key {key!r}: did you mean {close[0]!r}?")
            if not isinstance(value, Mapping):
                raise ValueError(
                    f"unknown key {key!r}: expected one of {sorted(Config.model_fields)} "
                    "or a backend option table such as [crepe]"
                )
        return self

    def backend_options(self, backend: str) -> dict[str, Any]:
        """The option table of one backend (empty when absent)."""
        return dict((self.model_extra or {}).get(backend, {}))

    def backend_tables(self) -> list[str]:
        """Names of the backend option tables present."""
        return list(self.model_extra or {})


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The gpuaudio table of a TOML file: the whole file, or ``[tool.gpuaudio]`` of a pyproject."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    if path.name == "pyproject.toml":
        table = data
        for depth, key in enumerate(_PYPROJECT_TABLE, start=1):
            value = table.get(key, {})
            if not isinstance(value, dict):
                name = ".".join(_PYPROJECT_TABLE[:depth])
                raise ConfigError(
                    f"config file {path}: {name!r} must be a table ([{name}]), "
                    f"not {type(value).__name__}"
                )
            table = value
        return table
    return data


def discover_file(cwd: Path | None = None) -> Path | None:
    """``$GPUAUDIO_CONFIG``, else ``./gpuaudio.toml``, else a ``./pyproject.toml`` with
    ``[tool.gpuaudio]``."""
    if os.environ.get(CONFIG_FILE_ENV):
        return Path(os.environ[CONFIG_FILE_ENV])
    cwd = cwd or Path.cwd()
    if (cwd / CONFIG_FILENAME).is_file():
        return cwd / CONFIG_FILENAME
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        try:
            tool = tomllib.loads(pyproject.read_text("utf-8")).get("tool")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None  # someone else's broken pyproject is not our config
        if isinstance(tool, dict) and "gpuaudio" in tool:  # a string `tool` is not a table
            return pyproject
    return None


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Config from variables: ``GPUAUDIO_DEVICE=cuda:1``, ``GPUAUDIO_MEMORY__MAX_BATCH=512``,
    ``GPUAUDIO_CREPE__MODEL=tiny``.

    A double underscore nests; values stay strings and pydantic converts them.
    """
    environ = os.environ if environ is None else environ
    result: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _NON_CONFIG_ENV:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if not all(path):
            raise ConfigError(f"environment variable {name} is not a valid config path")
        if len(path) == 1 and path[0] not in Config.model_fields:
            known = ", ".join(f"{ENV_PREFIX}{key.upper()}" for key in Config.model_fields)
            raise ConfigError(
                f"environment variable {name} is not a gpuaudio setting (settings: {known}, "
                f"or {ENV_PREFIX}<TABLE>__<KEY>); unset or rename it"
            )
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name} conflicts with another variable")
        node[path[-1]] = value
    return result


def load_config(
    source: Config | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Config:
    """Build a `Config` from a model, a mapping or a TOML path, plus environment and kwargs.

    With `source` None the file is discovered (see `discover_file`). Raises `ConfigError`
    naming the offending key.
    """
    if isinstance(source, Config):
        if not overrides:
            return source
        source = source.model_dump()
    data: dict[str, Any] = {}
    if source is None:
        found = discover_file()
        if found is not None:
            data = read_toml(found)
    elif isinstance(source, (str, os.PathLike)):
        data = read_toml(source)
    elif isinstance(source, Mapping):
        data = {}
    else:
        raise ConfigError(
            f"config must be a Config, a mapping or a path, not {type(source).__name__}"
        )
    data = _merge(data, from_environment(environ))
    if isinstance(source, Mapping):
        data = _merge(data, source)
    data = _merge(data, overrides)
    return validate_config(data)


def validate_config(data: Mapping[str, Any]) -> Config:
    """Validate a plain mapping, turning pydantic's errors into one `ConfigError`."""
    try:
        return Config.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "config"
            problems.append(f"{key}: {error['msg']}")
        raise ConfigError("invalid gpuaudio config: " + "; ".join(problems)) from None
