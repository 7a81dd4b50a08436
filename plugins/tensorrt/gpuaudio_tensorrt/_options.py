"""The ``[tensorrt]`` options model: crepe's options and the engine cache's folder (pydantic
only: imported by the hooks)."""

from __future__ import annotations

from pydantic import Field

from gpuaudio_crepe._options import CrepeOptions


class TensorRTOptions(CrepeOptions):
    """The ``[tensorrt]`` config table: every ``[crepe]`` option, and where engines are cached."""

    cache_dir: str | None = Field(
        None, description="Folder of built engines; default: the user cache folder."
    )
