"""gpuaudio: librosa-compatible audio features on the GPU, with a CPU fallback.

Public API only; see docs/architecture.md. The framework's names are imported here; the one
name from the analysis layer above it, `EscalationMonitor`, is imported on first use, so
``import gpuaudio`` loads the framework alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from gpuaudio.analysis.streaming import EscalationMonitor

__version__ = "0.1.0"

_LAZY = {"EscalationMonitor": "gpuaudio.analysis.streaming"}
"""Public names from the layers above the framework: imported on first access."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gpuaudio' has no attribute {name!r}")

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
