"""Caching, chunking through the MemoryManager, OOM retry, errors and backend selection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from gpuaudio import AudioFeatureService, ConfigError, InvalidParameterError, MemoryManager
from gpuaudio.config import MemoryConfig
from gpuaudio.testing import fake_gpu
from gpuaudio_nnaudio._nnaudio import NnAudioBackend
from gpuaudio_nnaudio._torchfft import TorchFftBackend

BACKENDS = [NnAudioBackend, TorchFftBackend]
STFT: dict[str, Any] = {
    "n_fft": 512,
    "hop_length": 128,
    "win_length": 512,
    "window": "hann",
    "center": True,
    "pad_mode": "reflect",
}
MEL: dict[str, Any] = {
    "n_fft": 512,
    "hop_length": 128,
    "n_mels": 40,
    "fmin": 0.0,
    "fmax": 8000.0,
    "power": 2.0,
    "center": True,
    "pad_mode": "constant",
}


def _small_memory(frames_per_block: int, bytes_per_frame: int) -> MemoryManager:
    """A MemoryManager that believes only `frames_per_block` frames fit at once."""
    config = MemoryConfig(min_batch=1, max_batch=frames_per_block, memory_fraction=1.0)
    return MemoryManager("cpu", config, free_memory=lambda: frames_per_block * bytes_per_frame)


@pytest.mark.parametrize("cls", BACKENDS)
def test_layers_are_built_once(cls: type, make_backend: Any, noise: np.ndarray) -> None:
    backend = make_backend(cls)
    for _ in range(3):
        backend.stft(noise, **STFT)
        backend.melspectrogram(noise, 16000, **MEL)
    # nnaudio: one STFT layer per window setting + one mel basis; torch: windows + mel basis
    assert backend.cache.builds == 2
    backend.stft(noise, **{**STFT, "hop_length": 256})
    assert backend.cache.builds == 2 + (cls is NnAudioBackend)


def test_cache_evicts_least_recently_used(make_backend: Any, noise: np.ndarray) -> None:
    backend = make_backend(TorchFftBackend)
    backend.cache.maxsize = 2
    for n_fft in (256, 512, 256, 1024, 512):
        backend.stft(noise, **{**STFT, "n_fft": n_fft, "win_length": n_fft})
    assert backend.cache.builds == 4  # 256, 512, (256 hit), 1024 evicts 512, 512 rebuilt


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("feature", ["stft", "mel"])
def test_blocks_of_frames_are_seam_exact(
    cls: type, feature: str, make_backend: Any, noise: np.ndarray
) -> None:
    def compute(backend: Any) -> np.ndarray:
        if feature == "stft":
            return np.asarray(backend.stft(noise, **STFT))
        return np.asarray(backend.melspectrogram(noise, 16000, **MEL))

    whole = compute(make_backend(cls))
    memory = _small_memory(7, 10**6)
    backend = make_backend(cls, memory=memory)
    backend._frame_bytes = lambda *args, **kwargs: 10**6 // noise.shape[0]
    blocks = compute(backend)
    assert memory.stats.sub_batches == -(-whole.shape[-1] // 7)
    assert blocks.shape == whole.shape
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=2e-6 * np.abs(whole).max())


def test_cqt_blocks_are_seam_exact(make_backend: Any, noise: np.ndarray) -> None:
    kwargs = {"hop_length": 256, "fmin": 65.0, "n_bins": 48, "bins_per_octave": 12}
    whole = np.asarray(make_backend(NnAudioBackend).cqt(noise, 16000, **kwargs))
    memory = _small_memory(10, 10**6)
    backend = make_backend(NnAudioBackend, memory=memory)
    backend._frame_bytes = lambda *args, **kwargs: 10**6 // noise.shape[0]
    blocks = np.asarray(backend.cqt(noise, 16000, **kwargs))
    assert memory.stats.sub_batches > 1
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=2e-6 * np.abs(whole).max())


@pytest.mark.parametrize("cls", BACKENDS)
def test_out_of_memory_halves_the_block_and_retries(
    cls: type, make_backend: Any, noise: np.ndarray
) -> None:
    whole = np.asarray(make_backend(cls).stft(noise, **STFT))
    memory = MemoryManager(
        "cpu", MemoryConfig(min_batch=8, max_batch=4096), out_of_memory=lambda e: "OOM" in str(e)
    )
    backend = make_backend(cls, memory=memory)
    real_block = backend._stft_block

    def flaky_block(segment: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        if segment.shape[-1] > 100 * STFT["hop_length"]:  # "too big for the device"
            raise RuntimeError("CUDA OOM (simulated)")
        result: torch.Tensor = real_block(segment, **kwargs)
        return result

    backend._stft_block = flaky_block
    result = np.asarray(backend.stft(noise, **STFT))
    assert memory.stats.retries >= 1
    assert max(memory.stats.batch_sizes) <= 100
    np.testing.assert_allclose(result, whole, rtol=0, atol=2e-6 * np.abs(whole).max())


@pytest.mark.parametrize("cls", BACKENDS)
def test_unknown_options_are_rejected(cls: type, make_backend: Any) -> None:
    with pytest.raises(ConfigError, match="takes no options"):
        make_backend(cls, model="tiny")


def test_options_table_rejected_when_the_service_is_built() -> None:
    with pytest.raises(ConfigError, match="takes no options"):
        AudioFeatureService({"device": "cpu", "backends": {"stft": "torch"}, "torch": {"n_fft": 4}})


@pytest.mark.parametrize("cls", BACKENDS)
def test_bad_window_and_pad_mode_say_what_to_use(
    cls: type, make_backend: Any, noise: np.ndarray
) -> None:
    backend = make_backend(cls)
    with pytest.raises(InvalidParameterError, match="hann"):
        backend.stft(noise, **{**STFT, "window": "no-such-window"})
    with pytest.raises(InvalidParameterError, match=r"'constant', 'reflect'"):
        backend.stft(noise, **{**STFT, "pad_mode": "wrap"})
    with pytest.raises(InvalidParameterError, match=r"numpy\.pad"):
        backend.stft(noise, **{**STFT, "pad_mode": "bogus"})


def test_numpy_only_pad_modes_match_librosa(
    make_backend: Any, relative_error: Any, noise: np.ndarray
) -> None:
    import librosa

    for pad_mode in ("symmetric", "linear_ramp"):
        ours = make_backend(TorchFftBackend).stft(noise, **{**STFT, "pad_mode": pad_mode})
        ref = librosa.stft(noise, n_fft=512, hop_length=128, pad_mode=pad_mode)
        assert relative_error(ours, ref) <= 1e-5


def test_tf32_precision_computes_in_fp32(make_backend: Any, noise: np.ndarray) -> None:
    backend = make_backend(NnAudioBackend, precision="tf32")
    assert backend.dtype == torch.float32
    assert make_backend(NnAudioBackend, precision="fp16").dtype == torch.float16
    assert make_backend(TorchFftBackend, precision="bf16").dtype == torch.float32


def test_auto_selection_prefers_torch_on_a_gpu_and_librosa_on_cpu() -> None:
    on_gpu = AudioFeatureService(device_info=fake_gpu())
    assert on_gpu.resolution("stft").chosen.spec.name == "torch"
    assert on_gpu.resolution("mel").chosen.spec.name == "torch"
    assert on_gpu.resolution("cqt").chosen.spec.name == "nnaudio"
    assert on_gpu.resolution("mel").chosen.device == "cuda:0"
    assert [c.spec.name for c in on_gpu.resolution("mel").ranked][:2] == ["torch", "nnaudio"]
    on_cpu = AudioFeatureService({"device": "cpu"})
    assert on_cpu.resolution("mel").chosen.spec.name == "librosa"


def test_registered_through_the_entry_point() -> None:
    svc = AudioFeatureService({"device": "cpu"})
    plugins = {
        spec.name: spec.plugin
        for feature in ("stft", "mel", "cqt")
        for spec in svc.registry.specs(feature)
        if spec.name in ("nnaudio", "torch")
    }
    assert plugins == {"nnaudio": "nnaudio", "torch": "nnaudio"}
    assert "torch" not in {spec.name for spec in svc.registry.specs("cqt")}


def test_hooks_module_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, gpuaudio_nnaudio; "
        "print(sorted(m for m in ('torch', 'nnAudio', 'librosa') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
