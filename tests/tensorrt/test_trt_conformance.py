"""The tensorrt backend's registration and options pass the conformance suite on any machine
(the whole suite, which needs CUDA and tensorrt, runs in test_trt_gpu.py)."""

from typing import Any, ClassVar

from gpuaudio.testing import BackendSpecConformance


class TestTensorRTSpec(BackendSpecConformance):
    backend = "tensorrt"
    feature = "f0"
    options: ClassVar[dict[str, Any]] = {"model": "tiny", "cache_dir": "/tmp/engines"}
