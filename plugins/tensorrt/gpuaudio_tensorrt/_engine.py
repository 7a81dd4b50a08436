"""TensorRT itself: build an engine from the exported ONNX graph, run it on torch tensors.

The only module of the plugin that imports ``tensorrt``. Written against the TensorRT 10/11
Python API: strongly typed networks (the precision comes from the graph), one optimisation
profile over the batch axis, ``execute_async_v3`` on torch's current CUDA stream.
"""

from __future__ import annotations

import tensorrt as trt
import torch

from gpuaudio import GpuOutOfMemoryError
from gpuaudio_crepe._network import PITCH_BINS, WINDOW_SIZE
from gpuaudio_tensorrt._export import INPUT, OUTPUT

__all__ = ["EngineRunner", "build_engine", "tensorrt_version"]

_LOGGER = trt.Logger(trt.Logger.WARNING)
_TORCH_DTYPES = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}


def tensorrt_version() -> str:
    """The TensorRT library version (part of every engine's cache key)."""
    return str(trt.__version__)


def build_engine(onnx_model: bytes, precision: str, max_batch: int) -> bytes:
    """A serialised engine for batches of 1..`max_batch` frames, tuned at `max_batch`.

    ``precision`` only decides TF32: on for ``tf32``, off otherwise (so ``fp32`` is IEEE
    fp32 as in the PyTorch path); fp16 is already in the graph's types.
    """
    builder = trt.Builder(_LOGGER)
    strongly_typed = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    network = builder.create_network(0 if strongly_typed is None else 1 << int(strongly_typed))
    parser = trt.OnnxParser(network, _LOGGER)
    if not parser.parse(onnx_model):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse the exported CREPE graph: {errors}")
    config = builder.create_builder_config()
    tf32 = getattr(trt.BuilderFlag, "TF32", None)
    if tf32 is not None:
        if precision == "tf32":
            config.set_flag(tf32)
        else:
            config.clear_flag(tf32)
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT, (1, WINDOW_SIZE), (max_batch, WINDOW_SIZE), (max_batch, WINDOW_SIZE))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT failed to build the CREPE engine (see its log above)")
    return bytes(serialized)


class EngineRunner(torch.nn.Module):
    """A deserialised engine behind the CREPE network's contract: (n, 1024) -> (n, 360)."""

    def __init__(self, runtime: trt.Runtime, engine: trt.ICudaEngine, device: torch.device) -> None:
        super().__init__()
        self.runtime = runtime  # kept alive as long as its engine
        self.engine = engine
        self.device = device
        with torch.cuda.device(device):
            self.context = engine.create_execution_context()
        if self.context is None:
            raise GpuOutOfMemoryError(
                "out of memory creating the TensorRT execution context on "
                f"{device}; lower memory.max_batch (the engine reserves memory for it)"
            )
        self.output_dtype = _TORCH_DTYPES[engine.get_tensor_dtype(OUTPUT)]

    @classmethod
    def deserialize(cls, data: bytes, device: torch.device) -> EngineRunner | None:
        """The runner for serialised engine `data`, or None if TensorRT rejects the bytes."""
        runtime = trt.Runtime(_LOGGER)
        with torch.cuda.device(device):
            engine = runtime.deserialize_cuda_engine(data)
        return None if engine is None else cls(runtime, engine, device)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Salience of each frame, enqueued on the current stream (no synchronisation)."""
        frames = frames.contiguous()
        salience = torch.empty(
            frames.shape[0], PITCH_BINS, dtype=self.output_dtype, device=frames.device
        )
        self.context.set_input_shape(INPUT, tuple(frames.shape))
        self.context.set_tensor_address(INPUT, frames.data_ptr())
        self.context.set_tensor_address(OUTPUT, salience.data_ptr())
        stream = torch.cuda.current_stream(frames.device).cuda_stream
        if not self.context.execute_async_v3(stream):
            raise RuntimeError("TensorRT failed to run the CREPE engine")
        return salience
