"""gpuaudio's CPU fallback: every feature computed by librosa itself (hooks only, no imports)."""

from __future__ import annotations

from gpuaudio import BackendSpec, hookimpl
from gpuaudio_librosa._acpitch_options import AcPitchOptions

__version__ = "0.1.0"  # the distribution's version (pyproject: [tool.hatch.version])

_COMMON = {
    "devices": ("cpu",),
    "requires": ("librosa",),
    "priority": 0,
    "install_hint": "pip install gpuaudio-librosa",
}


@hookimpl
def gpuaudio_f0_backends() -> list[BackendSpec]:
    """librosa.pyin, fastpyin (the same results, batched, banded Viterbi) and acpitch (the
    CPU default: Praat's autocorrelation method, robust on telephone speech)."""
    return [
        BackendSpec(
            name="librosa",
            feature="f0",
            load="gpuaudio_librosa._backend:LibrosaBackend",
            description="librosa.pyin (probabilistic YIN + Viterbi), CPU reference",
            **_COMMON,  # type: ignore[arg-type]
        ),
        BackendSpec(
            name="fastpyin",
            feature="f0",
            load="gpuaudio_librosa._fastpyin:FastPyinBackend",
            devices=("cpu",),
            requires=("librosa", "numba"),
            priority=10,
            install_hint="pip install gpuaudio-librosa",
            description="librosa.pyin's exact results: batched YIN, numba banded Viterbi (CPU)",
        ),
        BackendSpec(
            name="acpitch",
            feature="f0",
            load="gpuaudio_librosa._acpitch:AcPitchBackend",
            devices=("cpu",),
            requires=("scipy", "numba"),
            # The CPU default (above fastpyin's 10): on real voices over a phone line it is
            # above Praat and fastpyin (docs/robust-f0.md); librosa.pyin's exact values are a
            # name away (`f0 = "fastpyin"`).
            priority=20,
            install_hint="pip install gpuaudio-librosa",
            options=AcPitchOptions,
            description="Praat-style autocorrelation pitch (Boersma 1993), batched: robust on "
            "telephone speech, few voicing false alarms (CPU)",
        ),
    ]


@hookimpl
def gpuaudio_stft_backends() -> list[BackendSpec]:
    """librosa.stft."""
    return [
        BackendSpec(
            name="librosa",
            feature="stft",
            load="gpuaudio_librosa._stft:LibrosaStft",  # Hann + zero padding: numpy, bit for bit
            description="librosa.stft (numpy FFT), CPU reference",
            **_COMMON,  # type: ignore[arg-type]
        )
    ]


@hookimpl
def gpuaudio_mel_backends() -> list[BackendSpec]:
    """librosa.feature.melspectrogram."""
    return [
        BackendSpec(
            name="librosa",
            feature="mel",
            load="gpuaudio_librosa._backend:LibrosaBackend",
            description="librosa.feature.melspectrogram, CPU reference",
            **_COMMON,  # type: ignore[arg-type]
        )
    ]


@hookimpl
def gpuaudio_cqt_backends() -> list[BackendSpec]:
    """librosa.cqt."""
    return [
        BackendSpec(
            name="librosa",
            feature="cqt",
            load="gpuaudio_librosa._backend:LibrosaBackend",
            description="librosa.cqt (recursive downsampling), CPU reference",
            **_COMMON,  # type: ignore[arg-type]
        )
    ]
