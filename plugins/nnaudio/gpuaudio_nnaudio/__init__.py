"""gpuaudio spectral backends on torch (hooks only, no imports).

Two backends share one distribution because they share the framing, chunking, caching and
mel code: ``nnaudio`` (nnAudio's convolution layers; STFT, mel and CQT) and ``torch``
(``torch.stft``, i.e. cuFFT on a GPU; STFT and mel). ``torch`` ranks first where both can
run because it is the faster of the two (docs/nnaudio.md has the measurements).
"""

from __future__ import annotations

from gpuaudio import BackendSpec, hookimpl

__version__ = "0.1.0"  # the distribution's version (pyproject: [tool.hatch.version])

_INSTALL_HINT = "pip install gpuaudio-nnaudio  (or: pip install 'gpuaudio[nnaudio]')"
_NNAUDIO = {
    "load": "gpuaudio_nnaudio._nnaudio:NnAudioBackend",
    "devices": ("cuda", "cpu"),
    "requires": ("torch", "nnAudio", "librosa"),
    "priority": 10,
    "install_hint": _INSTALL_HINT,
}
_TORCH = {
    "load": "gpuaudio_nnaudio._torchfft:TorchFftBackend",
    "devices": ("cuda", "cpu"),
    "requires": ("torch", "librosa"),
    "priority": 20,
    "install_hint": _INSTALL_HINT,
}


@hookimpl
def gpuaudio_stft_backends() -> list[BackendSpec]:
    """nnAudio's conv1d STFT and torch.stft (cuFFT)."""
    return [
        BackendSpec(
            name="nnaudio",
            feature="stft",
            description="nnAudio STFT layer (conv1d with Fourier kernels)",
            **_NNAUDIO,  # type: ignore[arg-type]
        ),
        BackendSpec(
            name="torch",
            feature="stft",
            description="torch.stft (cuFFT on CUDA, pocketfft/MKL on CPU)",
            **_TORCH,  # type: ignore[arg-type]
        ),
    ]


@hookimpl
def gpuaudio_mel_backends() -> list[BackendSpec]:
    """Mel power spectrograms on either STFT, with librosa's Slaney mel filterbank."""
    return [
        BackendSpec(
            name="nnaudio",
            feature="mel",
            description="nnAudio STFT layer + librosa's mel filterbank as a matmul",
            **_NNAUDIO,  # type: ignore[arg-type]
        ),
        BackendSpec(
            name="torch",
            feature="mel",
            description="torch.stft (cuFFT) + librosa's mel filterbank as a matmul",
            **_TORCH,  # type: ignore[arg-type]
        ),
    ]


@hookimpl
def gpuaudio_cqt_backends() -> list[BackendSpec]:
    """nnAudio's CQT1992v2 (full-rate time-domain kernels)."""
    return [
        BackendSpec(
            name="nnaudio",
            feature="cqt",
            description="nnAudio CQT1992v2 layer (about 3% from librosa.cqt at the edges)",
            **_NNAUDIO,  # type: ignore[arg-type]
        )
    ]
