"""gpuaudio-yin: an F0 backend over ``librosa.yin`` (hooks only: cheap to import).

This module is what the ``gpuaudio`` entry point names. gpuaudio imports it when it discovers
plugins, so it imports nothing heavy: the backend itself (librosa, numpy) lives in
`gpuaudio_yin._backend` and is imported only when the backend is chosen.
"""

from __future__ import annotations

from gpuaudio import BackendSpec, hookimpl
from gpuaudio_yin._options import YinOptions


@hookimpl
def gpuaudio_f0_backends() -> list[BackendSpec]:
    """YIN on the CPU, used only when named in config (pyin is more robust)."""
    return [
        BackendSpec(
            name="yin",
            feature="f0",
            load="gpuaudio_yin._backend:YinBackend",
            devices=("cpu",),
            requires=("librosa",),
            priority=0,
            auto=False,
            install_hint="pip install gpuaudio-yin",
            description="librosa.yin (no HMM): fast, no voicing model; voicing from periodicity",
            api_version="1.0",
            options=YinOptions,
        )
    ]
