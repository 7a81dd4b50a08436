"""The tensorrt F0 backend: the crepe backend's pipeline with the network swapped for an engine.

Everything but the network (resampling, framing at librosa's frame centres, normalisation,
MemoryManager sub-batches, decoding, voicing, silence gate) is `CrepeBackend`'s own code: this
class only overrides its ``network`` property with an `EngineRunner` that has the same
(n, 1024) -> (n, 360) contract. The engine comes from the on-disk cache (`_cache`), or is
built once from the exported ONNX graph (`_export`) by TensorRT (`_engine`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from pathlib import Path

import torch

from gpuaudio import BackendContext, BackendUnavailableError
from gpuaudio_crepe._backend import CrepeBackend
from gpuaudio_crepe._network import bytes_per_frame, load_model, weights_path
from gpuaudio_tensorrt import __version__
from gpuaudio_tensorrt._cache import EngineCache, EngineKey, default_cache_dir
from gpuaudio_tensorrt._export import ONNX_OPSET, export_onnx
from gpuaudio_tensorrt._options import TensorRTOptions

__all__ = ["TensorRTCrepeBackend", "file_sha256"]

log = logging.getLogger(__name__)
_ENGINE_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16}


@functools.lru_cache(maxsize=8)
def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, computed once per (path, size, modification time)."""
    stat = path.stat()
    return _sha256_of(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_engine(cache_dir: Path, key: EngineKey, device: str) -> tuple[torch.nn.Module, str]:
    """(runner, cache outcome) for `key`, loaded once per process and device."""
    from gpuaudio_tensorrt._engine import EngineRunner, build_engine

    def build() -> bytes:
        network = load_model(key.model, device, _ENGINE_DTYPES[key.precision])
        return build_engine(export_onnx(network), key.precision, key.max_batch)

    return EngineCache(cache_dir).load_or_build(
        key, build, lambda data: EngineRunner.deserialize(data, torch.device(device))
    )


class TensorRTCrepeBackend(CrepeBackend):
    """F0 with CREPE on ``cuda``, its network run by a TensorRT engine cached on disk."""

    name = "tensorrt"

    def __init__(self, context: BackendContext) -> None:
        options = context.options_as(TensorRTOptions, self.name)
        if not context.device.startswith("cuda"):
            raise BackendUnavailableError(
                f"the tensorrt backend runs on CUDA devices only, not {context.device!r}; "
                "use the crepe backend on CPU"
            )
        super().__init__(dataclasses.replace(context, options=options))
        if self.precision == "bf16":
            log.info("tensorrt: bf16 requested; the engine runs in fp16 (same speed, finer)")
            self.precision, self.dtype = "fp16", torch.float16
            self.bytes_per_frame = bytes_per_frame(self.options.model, self.dtype)
        cache_dir = options.cache_dir
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.cache_outcome = ""
        """``"hit"`` or ``"built (<why>)"`` once the engine is loaded."""

    def engine_key(self) -> EngineKey:
        """The cache key of this backend's engine on its device."""
        from gpuaudio_tensorrt._engine import tensorrt_version

        props = torch.cuda.get_device_properties(self.device)
        return EngineKey(
            model=self.options.model,
            weights_sha256=file_sha256(weights_path(self.options.model)),
            precision=self.precision,
            gpu_name=str(props.name),
            compute_capability=f"{props.major}.{props.minor}",
            tensorrt_version=tensorrt_version(),
            max_batch=self.context.memory.config.max_batch,
            onnx_opset=ONNX_OPSET,
            plugin_version=__version__,
        )

    @property
    def network(self) -> torch.nn.Module:
        """The TensorRT engine runner, loaded (or built) on first use."""
        runner, outcome = _load_engine(self.cache_dir, self.engine_key(), str(self.device))
        if outcome != self.cache_outcome:
            self.cache_outcome = outcome
            log.info(
                "tensorrt engine for crepe-%s (%s): %s", self.options.model, self.precision, outcome
            )
        return runner
