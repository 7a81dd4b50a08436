"""CUDA-only checks (skipped without a GPU): device residency, no TF32 drift, fp16 bound."""

from __future__ import annotations

from typing import Any

import librosa
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("backend", ["nnaudio", "torch"])
def test_auto_precision_on_cuda_keeps_librosa_agreement(
    make_service: Any, relative_error: Any, backend: str, noise: np.ndarray
) -> None:
    """`precision = "auto"` resolves to tf32 on Ampere+; spectra must still agree to 1e-5."""
    torch.backends.cudnn.allow_tf32 = True  # PyTorch's default: the backend must override it
    svc = make_service(backend, device="cuda", precision="auto")
    mel = svc.melspectrogram(noise, 16000, n_fft=2048, hop_length=512, n_mels=128)
    ref = librosa.feature.melspectrogram(y=noise, sr=16000, n_fft=2048, hop_length=512)
    assert svc.provenance["mel"].device.startswith("cuda")
    assert relative_error(mel, ref) <= 1e-5


@pytest.mark.parametrize("backend", ["nnaudio", "torch"])
def test_tensor_output_and_cached_layers_stay_on_the_device(
    make_service: Any, backend: str, noise: np.ndarray
) -> None:
    svc = make_service(backend, device="cuda")
    first = svc.stft(noise, n_fft=1024, hop_length=256, as_tensor=True)
    svc.stft(noise, n_fft=1024, hop_length=256)
    (instance,) = (b for key, b in svc._backends.items() if key[0] == "stft")
    assert instance.cache.builds == 1
    assert all(
        t.device.type == "cuda"
        for entry in instance.cache._entries.values()
        for t in (entry.buffers() if hasattr(entry, "buffers") else [entry])
    )
    assert first.dtype == torch.complex64


def test_fp16_bound_on_cuda(make_service: Any, relative_error: Any, noise: np.ndarray) -> None:
    svc = make_service("nnaudio", device="cuda", precision="fp16")
    mel = svc.melspectrogram(noise, 16000, n_fft=2048, hop_length=512, n_mels=128)
    ref = librosa.feature.melspectrogram(y=noise, sr=16000, n_fft=2048, hop_length=512)
    assert relative_error(mel, ref) <= 1e-3
