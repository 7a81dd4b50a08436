"""The crepe backend through the service and directly: batching, OOM, voicing, config, GPU."""

from __future__ import annotations

import sys
import types
from typing import Any

import librosa
import numpy as np
import pytest
import torch

from gpuaudio import AudioFeatureService, BackendContext, ConfigError, MemoryManager
from gpuaudio.config import MemoryConfig
from gpuaudio.testing import harmonic_tone
from gpuaudio_crepe import _backend
from gpuaudio_crepe._backend import CrepeBackend

SR = 22050


def _backend_on(
    device: str = "cpu",
    precision: str = "fp32",
    options: dict[str, Any] | None = None,
    **memory: Any,
) -> CrepeBackend:
    manager = MemoryManager(device, MemoryConfig(**memory))
    return CrepeBackend(
        BackendContext(device, precision, manager, {"model": "tiny", **(options or {})})
    )


def _speechlike(seconds: float, seed: int) -> np.ndarray:
    """A tone gliding between 120 and 260 Hz with pauses, in light noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    f0 = 190 + 70 * np.sin(2 * np.pi * 0.7 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    gate = (np.sin(2 * np.pi * 1.3 * t + seed) > -0.3).astype(float)
    return (0.2 * tone * gate + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


def _f0(backend: CrepeBackend, y: np.ndarray, hop: int = 512) -> tuple[np.ndarray, ...]:
    frames = backend.f0(
        np.atleast_2d(y), SR, fmin=50.0, fmax=550.0, frame_length=2048, hop_length=hop
    )
    return tuple(np.asarray(a) for a in (frames.f0, frames.voiced_flag, frames.voiced_prob))


def test_the_issues_config_gives_pyin_shaped_results() -> None:
    svc = AudioFeatureService(config={"backends": {"f0": "crepe"}, "crepe": {"model": "tiny"}})
    y = _speechlike(0.5, seed=0)
    ours = svc.extract_f0(y, SR)
    reference = librosa.pyin(y, fmin=50.0, fmax=550.0, sr=SR)
    assert svc.provenance["f0"].backend == "crepe"
    for mine, theirs in zip(ours, reference, strict=True):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
    both = ours[1] & reference[1]
    assert both.mean() > 0.5
    cents = 1200 * np.abs(np.log2(ours[0][both] / reference[0][both]))
    assert np.median(cents) < 25


def test_windows_alone_equal_windows_together_in_small_sub_batches() -> None:
    windows = np.stack([_speechlike(0.5, seed) for seed in range(3)])
    small = _backend_on(max_batch=16, min_batch=1)  # frames of one window span sub-batches
    together = _f0(small, windows)
    assert small.context.memory.stats.sub_batches > 3
    for i, window in enumerate(windows):
        alone = _f0(_backend_on(), window)
        np.testing.assert_allclose(together[0][i], alone[0][0], rtol=1e-4, equal_nan=True)
        np.testing.assert_array_equal(together[1][i], alone[1][0])
        np.testing.assert_allclose(together[2][i], alone[2][0], atol=1e-5)


def test_injected_out_of_memory_halves_and_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    y = _speechlike(1.0, seed=1)
    expected = _f0(_backend_on(), y)
    real = _backend.load_model

    class FailsAbove32Frames(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, frames: torch.Tensor) -> torch.Tensor:
            if frames.shape[0] > 32:
                raise RuntimeError("CUDA out of memory (injected)")
            return self.net(frames)

    monkeypatch.setattr(_backend, "load_model", lambda *a: FailsAbove32Frames(real(*a)))
    backend = _backend_on(max_batch=128, min_batch=8)
    result = _f0(backend, y)
    stats = backend.context.memory.stats
    assert stats.retries >= 1 and max(stats.batch_sizes) <= 32
    assert sum(stats.batch_sizes) == expected[0].shape[-1]
    np.testing.assert_allclose(result[0], expected[0], rtol=1e-4, equal_nan=True)
    np.testing.assert_array_equal(result[1], expected[1])


def test_silence_gate_unvoices_quiet_frames_and_can_be_disabled() -> None:
    rng = np.random.default_rng(5)
    tone = harmonic_tone(200.0, SR, 1.0)
    hiss = (1e-4 * rng.standard_normal(SR)).astype(np.float32)  # -80 dBFS
    y = np.concatenate([tone, hiss])
    f0, voiced, prob = (a[0] for a in _f0(_backend_on(), y))
    quiet = slice(len(f0) // 2 + 4, None)
    assert not voiced[quiet].any() and np.all(prob[quiet] == 0) and np.isnan(f0[quiet]).all()
    assert voiced[4 : len(f0) // 2 - 4].mean() > 0.95
    ungated = CrepeBackend(
        BackendContext("cpu", "fp32", MemoryManager("cpu"), {"model": "tiny", "silence_db": -200})
    )
    ungated_prob = _f0(ungated, y)[2][0]
    assert ungated_prob[quiet].max() > 0  # CREPE reports periodicity in hiss without the gate


@pytest.mark.parametrize(
    ("voicing", "thresholds"),
    [("periodicity", (0.05, 0.3, 0.6)), ("periodicity+harmonicity", (0.05, 0.3, 0.8))],
)
def test_voicing_threshold_is_monotonic(voicing: str, thresholds: tuple[float, ...]) -> None:
    y = _speechlike(1.0, seed=2)
    counts = []
    for threshold in thresholds:
        options = {"model": "tiny", "voicing": voicing, "voicing_threshold": threshold}
        backend = CrepeBackend(BackendContext("cpu", "fp32", MemoryManager("cpu"), options))
        f0, voiced, prob = _f0(backend, y)
        assert np.array_equal(voiced, prob >= threshold) and np.isnan(f0[~voiced]).all()
        counts.append(int(voiced.sum()))
    assert counts[0] > counts[1] > counts[2]


@pytest.mark.parametrize("n", [1, 300, 511])
def test_input_shorter_than_512_samples(n: int) -> None:
    svc = AudioFeatureService(
        {"device": "cpu", "backends": {"f0": "crepe"}, "crepe": {"model": "tiny"}}
    )
    y = harmonic_tone(200.0, SR, 0.05)[:n]
    ours = svc.extract_f0(y, SR, frame_length=1024, hop_length=128)
    reference = (
        librosa.pyin(y, fmin=50.0, fmax=550.0, sr=SR, frame_length=1024, hop_length=128)
        if n >= 512
        else None
    )
    assert ours[0].shape == (1 + n // 128,)
    if reference is not None:
        assert ours[0].shape == reference[0].shape


@pytest.mark.parametrize(
    "options",
    [{"model": "huge"}, {"decoder": "beam"}, {"voicing_threshold": 1.5}, {"colour": "red"}],
)
def test_bad_options_raise_config_error(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        CrepeBackend(BackendContext("cpu", "fp32", MemoryManager("cpu"), options))


def test_cpu_runs_fp32_whatever_is_asked() -> None:
    assert _backend_on(precision="fp16").dtype == torch.float32


def test_matches_stock_torchcrepe_predict_at_16k(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same frames, same network, same HMM: periodicity equal, F0 within the stock dither.

    With ``voicing = "periodicity"`` voiced_prob is the periodicity torchcrepe returns."""
    pytest.importorskip("resampy")
    if "torchcrepe" not in sys.modules:
        monkeypatch.setitem(sys.modules, "torchaudio", types.ModuleType("torchaudio"))
    import torchcrepe

    rate = 16000
    y = librosa.resample(_speechlike(0.6, seed=3), orig_sr=SR, target_sr=rate)
    pitch, periodicity = torchcrepe.predict(
        torch.from_numpy(y)[None], rate, 160, 50.0, 550.0, "tiny", return_periodicity=True
    )
    backend = _backend_on(options={"voicing": "periodicity"})
    frames = backend.f0(y[None], rate, fmin=50.0, fmax=550.0, frame_length=640, hop_length=160)
    np.testing.assert_allclose(frames.voiced_prob.numpy()[0], periodicity[0].numpy(), atol=1e-4)
    voiced = frames.voiced_flag.numpy()[0]
    cents = 1200 * np.abs(np.log2(frames.f0.numpy()[0][voiced] / pitch[0].numpy()[voiced]))
    assert voiced.mean() > 0.3 and np.percentile(cents, 95) < 30  # dither is up to 20 cents


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "tf32", "fp16", "bf16"])
def test_cuda_agrees_with_cpu(precision: str) -> None:
    y = np.stack([_speechlike(1.0, seed) for seed in range(8)])
    cpu = _f0(_backend_on(), y)
    gpu_backend = _backend_on("cuda:0", precision)
    frames = gpu_backend.f0(y, SR, fmin=50.0, fmax=550.0, frame_length=2048, hop_length=512)
    assert frames.f0.is_cuda
    gpu = [a.cpu().numpy() for a in (frames.f0, frames.voiced_flag, frames.voiced_prob)]
    both = cpu[1] & gpu[1]
    assert np.mean(cpu[1] == gpu[1]) > 0.97
    cents = 1200 * np.abs(np.log2(cpu[0][both] / gpu[0][both]))
    assert np.percentile(cents, 99) < (1 if precision == "fp32" else 20)


@pytest.mark.gpu
def test_cuda_peak_memory_of_full_model_is_bounded() -> None:
    y = _speechlike(600.0, seed=0)[None]  # 10 minutes
    manager = MemoryManager("cuda:0")
    backend = CrepeBackend(BackendContext("cuda:0", "fp32", manager, {"model": "full"}))
    backend.f0(y, SR, fmin=50.0, fmax=550.0, frame_length=2048, hop_length=512)
    torch.cuda.synchronize()
    assert manager.stats.peak_memory_bytes is not None
    assert manager.stats.peak_memory_bytes < 6 * 2**30


def test_voicing_threshold_defaults_per_model_and_can_be_set() -> None:
    from gpuaudio_crepe._backend import DEFAULT_VOICING_THRESHOLD, CrepeOptions

    for (model, voicing), tuned in DEFAULT_VOICING_THRESHOLD.items():
        options = CrepeOptions.from_table({"model": model, "voicing": voicing})
        assert options.voicing_threshold == tuned
    assert (
        CrepeOptions.from_table({"model": "tiny"}).voicing_threshold
        == (DEFAULT_VOICING_THRESHOLD["tiny", "periodicity+harmonicity"])
    )
    assert (
        CrepeOptions.from_table({"model": "full", "voicing_threshold": 0.3}).voicing_threshold
        == 0.3
    )
