"""The exported ONNX graph (what TensorRT compiles), run by onnxruntime on CPU, against PyTorch;
and the tensorrt backend's whole load path with that graph standing in for the engine.

Measured (64 speech frames, against the fp32 PyTorch network): max |salience difference|
1e-6 for the fp32 graph, 9e-4 (tiny) and 4e-4 (full) for the fp16 graph. F0 through the crepe
pipeline with the graph in place of the network: every voiced frame within 10 cents of the
PyTorch path (max 0.002 cents fp32, 0.08 cents fp16), voicing identical, on both models.
"""

from __future__ import annotations

import hashlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from gpuaudio import BackendContext, MemoryManager
from gpuaudio.config import MemoryConfig
from gpuaudio.evaluation.metrics import f0_scores
from gpuaudio.evaluation.synth import synthesize_speech
from gpuaudio_crepe import _backend as crepe_backend
from gpuaudio_crepe._backend import CrepeBackend
from gpuaudio_crepe._network import PITCH_BINS, WINDOW_SIZE, load_model, weights_path
from gpuaudio_tensorrt import _backend as trt_backend
from gpuaudio_tensorrt._export import INPUT, OUTPUT, export_onnx

SR = 22050
DTYPES = {"fp32": torch.float32, "fp16": torch.float16}
ELEMENT_TYPES = {"fp32": onnx.TensorProto.FLOAT, "fp16": onnx.TensorProto.FLOAT16}


@pytest.fixture(scope="module", params=["fp32", "fp16"])
def exported(request: pytest.FixtureRequest) -> tuple[str, bytes]:
    precision = request.param
    return precision, export_onnx(load_model("tiny", "cpu", DTYPES[precision]), example_batch=2)


class OnnxRuntimeNetwork(torch.nn.Module):
    """The exported graph behind the CREPE network's (n, 1024) -> (n, 360) contract."""

    def __init__(self, model: bytes) -> None:
        super().__init__()
        self.session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        (salience,) = self.session.run([OUTPUT], {INPUT: frames.numpy()})
        return torch.from_numpy(salience)


def _frames(n: int, seed: int) -> torch.Tensor:
    """Normalised 16 kHz frames of speech-like audio, as the crepe pipeline feeds them."""
    audio, _ = synthesize_speech(2.0, 16000, seed)
    starts = np.random.default_rng(seed).integers(0, audio.size - WINDOW_SIZE, n)
    frames = torch.from_numpy(np.stack([audio[s : s + WINDOW_SIZE] for s in starts]))
    frames = frames - frames.mean(dim=1, keepdim=True)
    return frames / frames.std(dim=1, keepdim=True).clamp_min(1e-10)


def test_graph_has_a_dynamic_batch_axis_and_the_precision_in_its_types(
    exported: tuple[str, bytes],
) -> None:
    precision, model = exported
    graph = onnx.load_from_string(model).graph
    onnx.checker.check_model(onnx.load_from_string(model))
    (frames,), (salience,) = graph.input, graph.output
    assert (frames.name, salience.name) == (INPUT, OUTPUT)
    for value, width in ((frames, WINDOW_SIZE), (salience, PITCH_BINS)):
        batch, features = value.type.tensor_type.shape.dim
        assert batch.dim_param and not batch.dim_value  # symbolic: any batch size
        assert features.dim_value == width
        assert value.type.tensor_type.elem_type == ELEMENT_TYPES[precision]


@pytest.mark.parametrize("batch", [1, 5, 37])
def test_graph_matches_the_pytorch_network_at_other_batch_sizes(
    exported: tuple[str, bytes], batch: int
) -> None:
    precision, model = exported
    frames = _frames(batch, seed=batch)
    expected = load_model("tiny", "cpu", torch.float32)(frames)
    salience = OnnxRuntimeNetwork(model)(frames.to(DTYPES[precision]))
    assert salience.shape == (batch, PITCH_BINS) and salience.dtype == DTYPES[precision]
    bound = {"fp32": 1e-5, "fp16": 5e-3}[precision]
    assert float((salience.float() - expected).abs().max()) < bound


class OnnxCrepe(CrepeBackend):
    """The crepe pipeline with its network replaced, exactly as the tensorrt backend does."""

    def __init__(self, context: BackendContext, model: bytes) -> None:
        super().__init__(context)
        self.onnx_network = OnnxRuntimeNetwork(model)

    @property
    def network(self) -> Any:
        return self.onnx_network


def test_f0_through_the_graph_is_within_10_cents_of_pytorch(exported: tuple[str, bytes]) -> None:
    precision, model = exported
    audio = np.stack(
        [synthesize_speech(4.0, SR, seed, base_f0=f0)[0] for seed, f0 in ((1, 110.0), (2, 210.0))]
    )
    context = BackendContext("cpu", "fp32", MemoryManager("cpu"), {"model": "tiny"})
    kwargs: dict[str, Any] = {"fmin": 50.0, "fmax": 550.0, "frame_length": 2048, "hop_length": 256}
    reference = CrepeBackend(context).f0(audio, SR, **kwargs)
    backend = OnnxCrepe(context, model)
    backend.dtype = DTYPES[precision]  # what the pipeline casts frames to before the network
    ours = backend.f0(audio, SR, **kwargs)
    ref_f0, f0 = np.asarray(reference.f0).ravel(), np.asarray(ours.f0).ravel()
    scores = f0_scores(ref_f0, f0, cent_tolerance=10.0)
    assert scores.n_ref_voiced > 0.3 * ref_f0.size
    assert scores.raw_pitch_accuracy >= 0.99
    assert np.mean(np.asarray(reference.voiced_flag) == np.asarray(ours.voiced_flag)) >= 0.99


@pytest.fixture
def stand_in_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """TensorRT replaced by onnxruntime and the GPU by the CPU, everything else real.

    The "engine" is the exported ONNX graph itself, so the backend's load path (key, export,
    build, on-disk cache, verification, network swap) runs end to end on a CPU machine.
    """
    builds: list[tuple[str, int]] = []

    def build_engine(onnx_model: bytes, precision: str, max_batch: int) -> bytes:
        builds.append((precision, max_batch))
        return onnx_model

    class Runner:
        @staticmethod
        def deserialize(data: bytes, device: torch.device) -> OnnxRuntimeNetwork:
            return OnnxRuntimeNetwork(data)

    engine = types.ModuleType("gpuaudio_tensorrt._engine")
    engine.__dict__.update(
        build_engine=build_engine, EngineRunner=Runner, tensorrt_version=lambda: "stand-in"
    )
    monkeypatch.setitem(sys.modules, "gpuaudio_tensorrt._engine", engine)
    gpu = types.SimpleNamespace(name="Stand-in GPU", major=8, minor=0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: gpu)
    monkeypatch.setattr(crepe_backend, "effective_precision", lambda precision, device: precision)
    trt_backend._load_engine.cache_clear()
    yield builds
    trt_backend._load_engine.cache_clear()


def _on_cpu(cache: Path, precision: str) -> trt_backend.TensorRTCrepeBackend:
    memory = MemoryManager("cpu", MemoryConfig(max_batch=512))
    options = {"model": "tiny", "cache_dir": str(cache)}
    backend = trt_backend.TensorRTCrepeBackend(BackendContext("cuda:0", precision, memory, options))
    backend.device = torch.device("cpu")
    return backend


def test_backend_builds_caches_and_serves_crepe_f0(
    stand_in_engine: list[tuple[str, int]], tmp_path: Path
) -> None:
    audio = synthesize_speech(2.0, SR, 5)[0][None]
    kwargs: dict[str, Any] = {"fmin": 50.0, "fmax": 550.0, "frame_length": 2048, "hop_length": 512}
    reference = CrepeBackend(BackendContext("cpu", "fp32", MemoryManager("cpu"), {"model": "tiny"}))
    expected = reference.f0(audio, SR, **kwargs)

    first = _on_cpu(tmp_path, "fp32")
    ours = first.f0(audio, SR, **kwargs)
    assert first.cache_outcome == "built (not cached)" and stand_in_engine == [("fp32", 512)]
    key = first.engine_key()
    assert key.weights_sha256 == hashlib.sha256(weights_path("tiny").read_bytes()).hexdigest()
    assert (key.gpu_name, key.compute_capability, key.max_batch) == ("Stand-in GPU", "8.0", 512)
    assert {p.name for p in tmp_path.iterdir()} == {f"{key.stem}.engine", f"{key.stem}.json"}
    np.testing.assert_allclose(ours.f0, expected.f0, rtol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(ours.voiced_flag, expected.voiced_flag)

    trt_backend._load_engine.cache_clear()  # a new process: only the disk cache is left
    second = _on_cpu(tmp_path, "fp32")
    second.f0(audio, SR, **kwargs)
    assert second.cache_outcome == "hit" and len(stand_in_engine) == 1


def test_bf16_is_served_by_an_fp16_engine(
    stand_in_engine: list[tuple[str, int]], tmp_path: Path
) -> None:
    backend = _on_cpu(tmp_path, "bf16")
    assert (backend.precision, backend.dtype) == ("fp16", torch.float16)
    assert backend.engine_key().precision == "fp16"
    assert backend.network(_frames(3, seed=0).half()).dtype == torch.float16
    assert stand_in_engine == [("fp16", 512)]
