"""gpuaudio's TensorRT F0 backend: CREPE's network as a cached TensorRT engine (hooks only)."""

from __future__ import annotations

from gpuaudio import BackendSpec, hookimpl
from gpuaudio_tensorrt._options import TensorRTOptions

__version__ = "0.1.0"  # the distribution's version (pyproject: [tool.hatch.version])


@hookimpl
def gpuaudio_f0_backends() -> list[BackendSpec]:
    """CREPE full/tiny with the network compiled by TensorRT; the rest is the crepe pipeline."""
    return [
        BackendSpec(
            name="tensorrt",
            feature="f0",
            load="gpuaudio_tensorrt._backend:TensorRTCrepeBackend",
            devices=("cuda",),
            requires=("torch", "torchcrepe", "tensorrt"),
            min_compute_capability=(7, 0),
            priority=20,
            install_hint="pip install 'gpuaudio[tensorrt]'",
            options=TensorRTOptions,
            description=(
                "CREPE (full|tiny) through a TensorRT engine built once per GPU and cached; "
                "resampling, framing and decoding shared with the crepe backend"
            ),
        )
    ]
