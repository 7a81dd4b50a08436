"""The TensorRT engine itself (CUDA + tensorrt): build, cache, dynamic batch, accuracy vs PyTorch.

Accuracy bound (issue 6): F0 within 10 cents of the PyTorch crepe path (fp32) on >= 99 % of
the frames that path calls voiced, for fp32 and fp16 engines, tiny and full.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from gpuaudio import AudioFeatureService, BackendContext, MemoryManager
from gpuaudio.config import MemoryConfig
from gpuaudio.device import tf32_mode
from gpuaudio.evaluation.metrics import f0_scores
from gpuaudio.evaluation.synth import synthesize_speech
from gpuaudio.testing import F0BackendConformance

pytestmark = pytest.mark.gpu
pytest.importorskip("tensorrt")

from gpuaudio_crepe._network import PITCH_BINS, WINDOW_SIZE, load_model, weights_path  # noqa: E402
from gpuaudio_tensorrt import _backend  # noqa: E402
from gpuaudio_tensorrt._backend import TensorRTCrepeBackend  # noqa: E402

SR = 22050
DEVICE = "cuda:0"
SHARED_CACHE = Path(tempfile.gettempdir()) / "gpuaudio-tests-tensorrt"


def _model_or_skip(model: str) -> str:
    try:
        weights_path(model)
    except FileNotFoundError as exc:
        pytest.skip(f"CREPE {model} weights absent: {exc}")
    return model


def _backend_in(cache: Path, precision: str, max_batch: int = 256) -> TensorRTCrepeBackend:
    memory = MemoryManager(DEVICE, MemoryConfig(max_batch=max_batch, min_batch=1))
    options = {"model": "tiny", "cache_dir": str(cache)}
    return TensorRTCrepeBackend(BackendContext(DEVICE, precision, memory, options))


def _f0(backend: Any, audio: np.ndarray) -> Any:
    return backend.f0(audio, SR, fmin=50.0, fmax=550.0, frame_length=2048, hop_length=256)


def test_engine_is_built_once_cached_on_disk_and_rebuilt_when_corrupt(tmp_path: Path) -> None:
    audio = synthesize_speech(2.0, SR, 0)[0][None]
    _backend._load_engine.cache_clear()
    first = _backend_in(tmp_path, "fp16")
    expected = _f0(first, audio)
    assert first.cache_outcome == "built (not cached)"
    key = first.engine_key()
    engine = tmp_path / f"{key.stem}.engine"
    assert engine.is_file() and (tmp_path / f"{key.stem}.json").is_file()
    assert key.gpu_name == torch.cuda.get_device_name(0)

    _backend._load_engine.cache_clear()  # a new process: only the disk cache is left
    second = _backend_in(tmp_path, "fp16")
    again = _f0(second, audio)
    assert second.cache_outcome == "hit"
    np.testing.assert_array_equal(np.asarray(again.voiced_flag), np.asarray(expected.voiced_flag))

    engine.write_bytes(engine.read_bytes()[: engine.stat().st_size // 2])
    _backend._load_engine.cache_clear()
    third = _backend_in(tmp_path, "fp16")
    _f0(third, audio)
    assert third.cache_outcome.startswith("built (corrupt engine")


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engine_serves_any_batch_up_to_max_batch(tmp_path: Path, precision: str) -> None:
    backend = _backend_in(tmp_path, precision, max_batch=64)
    dtype = torch.float16 if precision == "fp16" else torch.float32
    reference = load_model("tiny", DEVICE, torch.float32)
    runner = backend.network
    for batch in (1, 13, 64):
        frames = torch.randn(batch, WINDOW_SIZE, device=DEVICE)
        salience = runner(frames.to(dtype))
        assert salience.shape == (batch, PITCH_BINS) and salience.dtype == dtype
        # IEEE fp32 reference, as the engine's
        with torch.inference_mode(), tf32_mode(DEVICE, enabled=False):
            expected = reference(frames)
        error = float((salience.float() - expected).abs().max())
        assert error < {"fp32": 1e-4, "fp16": 5e-3}[precision]


@pytest.mark.parametrize("model", ["tiny", "full"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_f0_within_10_cents_of_the_pytorch_path(model: str, precision: str) -> None:
    _model_or_skip(model)
    audio = np.stack(
        [synthesize_speech(20.0, SR, seed, base_f0=f0)[0] for seed, f0 in ((3, 110.0), (4, 210.0))]
    )
    config: dict[str, Any] = {"device": DEVICE, "fallback": False}
    torch_path = AudioFeatureService(
        {**config, "precision": "fp32", "backends": {"f0": "crepe"}, "crepe": {"model": model}}
    )
    tensorrt = AudioFeatureService(
        {
            **config,
            "precision": precision,
            "backends": {"f0": "tensorrt"},
            "tensorrt": {"model": model, "cache_dir": str(SHARED_CACHE)},
        }
    )
    ref_f0, ref_voiced, _ = torch_path.extract_f0(audio, SR, fmin=50.0, fmax=550.0)
    f0, voiced, _ = tensorrt.extract_f0(audio, SR, fmin=50.0, fmax=550.0)
    assert tensorrt.provenance["f0"].backend == "tensorrt"
    scores = f0_scores(ref_f0.ravel(), f0.ravel(), cent_tolerance=10.0)
    assert scores.n_ref_voiced > 0.3 * ref_f0.size
    assert scores.raw_pitch_accuracy >= 0.99
    assert np.mean(ref_voiced == voiced) >= 0.99


@pytest.mark.gpu
class TestTensorRTF0(F0BackendConformance):
    backend = "tensorrt"
    device = "cuda"
    options: ClassVar[dict[str, Any]] = {"model": "tiny", "cache_dir": str(SHARED_CACHE)}
    max_cents = 10.0
    min_voiced = 0.95
