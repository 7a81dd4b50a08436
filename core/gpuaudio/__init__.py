"""gpuaudio: librosa-compatible audio features on the GPU, with a CPU fallback.

Public API only; see docs/architecture.md. Every name is imported on first use, so that
``import gpuaudio`` (and ``gpuaudio --version``) loads neither numpy nor torch; the one name
from the analysis layer above the framework, `EscalationMonitor`, is in `_LAZY`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gpuaudio.analysis.streaming import EscalationMonitor
    from gpuaudio.backends import (
        FEATURES,
        BackendContext,
        BackendSpec,
        CqtBackend,
        F0Backend,
        F0Frames,
        MelBackend,
        StftBackend,
    )
    from gpuaudio.config import Config, load_config
    from gpuaudio.device import DeviceInfo, GpuInfo
    from gpuaudio.errors import (
        AudioFileError,
        BackendError,
        BackendUnavailableError,
        ConfigError,
        GpuAudioError,
        GpuOutOfMemoryError,
        InsufficientMemoryError,
        InvalidAudioError,
        InvalidParameterError,
        OutputExistsError,
        OutputWriteError,
        StreamClosedError,
    )
    from gpuaudio.hookspecs import hookimpl
    from gpuaudio.memory import MemoryManager
    from gpuaudio.plugins import make_plugin_manager
    from gpuaudio.resolver import resolve
    from gpuaudio.service import AudioFeatureService, Provenance

__version__ = "0.1.0"  # the distribution's version (pyproject: [tool.hatch.version])

_FRAMEWORK = {
    "FEATURES": "gpuaudio.backends",
    "BackendContext": "gpuaudio.backends",
    "BackendSpec": "gpuaudio.backends",
    "CqtBackend": "gpuaudio.backends",
    "F0Backend": "gpuaudio.backends",
    "F0Frames": "gpuaudio.backends",
    "MelBackend": "gpuaudio.backends",
    "StftBackend": "gpuaudio.backends",
    "Config": "gpuaudio.config",
    "load_config": "gpuaudio.config",
    "DeviceInfo": "gpuaudio.device",
    "GpuInfo": "gpuaudio.device",
    "AudioFileError": "gpuaudio.errors",
    "BackendError": "gpuaudio.errors",
    "BackendUnavailableError": "gpuaudio.errors",
    "ConfigError": "gpuaudio.errors",
    "GpuAudioError": "gpuaudio.errors",
    "GpuOutOfMemoryError": "gpuaudio.errors",
    "InsufficientMemoryError": "gpuaudio.errors",
    "InvalidAudioError": "gpuaudio.errors",
    "InvalidParameterError": "gpuaudio.errors",
    "OutputExistsError": "gpuaudio.errors",
    "OutputWriteError": "gpuaudio.errors",
    "StreamClosedError": "gpuaudio.errors",
    "hookimpl": "gpuaudio.hookspecs",
    "MemoryManager": "gpuaudio.memory",
    "make_plugin_manager": "gpuaudio.plugins",
    "resolve": "gpuaudio.resolver",
    "AudioFeatureService": "gpuaudio.service",
    "Provenance": "gpuaudio.service",
}
"""Public names from the framework layer and their modules: imported on first access."""

_LAZY = {"EscalationMonitor": "gpuaudio.analysis.streaming"}
"""Public names from the layers above the framework: imported on first access."""


def __getattr__(name: str) -> Any:
    module = _FRAMEWORK.get(name) or _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gpuaudio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "FEATURES",
    "AudioFeatureService",
    "AudioFileError",
    "BackendContext",
    "BackendError",
    "BackendSpec",
    "BackendUnavailableError",
    "Config",
    "ConfigError",
    "CqtBackend",
    "DeviceInfo",
    "EscalationMonitor",
    "F0Backend",
    "F0Frames",
    "GpuAudioError",
    "GpuInfo",
    "GpuOutOfMemoryError",
    "InsufficientMemoryError",
    "InvalidAudioError",
    "InvalidParameterError",
    "MelBackend",
    "MemoryManager",
    "OutputExistsError",
    "OutputWriteError",
    "Provenance",
    "StftBackend",
    "StreamClosedError",
    "__version__",
    "hookimpl",
    "load_config",
    "make_plugin_manager",
    "resolve",
]
