"""The four hooks a plugin implements to register backends. Hooks register; they never compute."""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from gpuaudio.backends import BackendSpec

PROJECT_NAME = "gpuaudio"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def gpuaudio_f0_backends() -> Iterable[BackendSpec]:  # type: ignore[empty-body]
    """Return the F0 (pitch) backends this plugin provides."""


@hookspec
def gpuaudio_stft_backends() -> Iterable[BackendSpec]:  # type: ignore[empty-body]
    """Return the STFT backends this plugin provides."""


@hookspec
def gpuaudio_mel_backends() -> Iterable[BackendSpec]:  # type: ignore[empty-body]
    """Return the mel-spectrogram backends this plugin provides."""


@hookspec
def gpuaudio_cqt_backends() -> Iterable[BackendSpec]:  # type: ignore[empty-body]
    """Return the constant-Q transform backends this plugin provides."""


HOOK_BY_FEATURE = {
    "f0": "gpuaudio_f0_backends",
    "stft": "gpuaudio_stft_backends",
    "mel": "gpuaudio_mel_backends",
    "cqt": "gpuaudio_cqt_backends",
}
