"""gpuaudio: librosa-compatible audio features on the GPU, with a CPU fallback.

Public API only; see docs/architecture.md.
"""

from __future__ import annotations

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
    InvalidAudioError,
    InvalidParameterError,
    OutputExistsError,
    StreamClosedError,
)
from gpuaudio.hookspecs import hookimpl
from gpuaudio.memory import MemoryManager
from gpuaudio.plugins import make_plugin_manager
from gpuaudio.resolver import resolve
from gpuaudio.service import AudioFeatureService, Provenance
from gpuaudio.streaming import EscalationMonitor

__version__ = "0.1.0"

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
    "InvalidAudioError",
    "InvalidParameterError",
    "MelBackend",
    "MemoryManager",
    "OutputExistsError",
    "Provenance",
    "StftBackend",
    "StreamClosedError",
    "__version__",
    "hookimpl",
    "load_config",
    "make_plugin_manager",
    "resolve",
]
