"""The ``[yin]`` config table (pydantic only: the hooks import it)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator


class YinOptions(BaseModel):
    """Options of the yin backend: ``[yin]`` in gpuaudio.toml, or ``GPUAUDIO_YIN__<KEY>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trough_threshold: float = Field(
        0.1, gt=0.0, le=1.0, description="librosa.yin's absolute threshold for the first dip."
    )
    voicing_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Frames whose periodicity (normalised autocorrelation at the YIN period) "
        "is below this are unvoiced.",
    )
    silence_db: float = Field(
        -60.0, description="Frames quieter than this (RMS, dB re full scale) are unvoiced."
    )

    @field_validator("silence_db")
    @classmethod
    def _not_nan(cls, value: float) -> float:
        if math.isnan(value):
            raise ValueError("must be a number of dB (-inf: no silence gate)")
        return value
