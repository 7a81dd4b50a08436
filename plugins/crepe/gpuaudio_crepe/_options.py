"""The ``[crepe]`` options model (pydantic only: imported by the hooks, so nothing heavy here)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gpuaudio.backends import parse_options

Model = Literal["full", "tiny"]
Decoder = Literal["viterbi", "weighted_argmax", "argmax"]
Voicing = Literal["periodicity", "periodicity+harmonicity"]

DEFAULT_VOICING_THRESHOLD = {
    ("full", "periodicity"): 0.04,
    ("tiny", "periodicity"): 0.14,
    ("full", "periodicity+harmonicity"): 0.14,
    ("tiny", "periodicity+harmonicity"): 0.14,
}
DEFAULT_VOICING_WEIGHT = {"full": 0.2, "tiny": 0.3}
"""Per model and voicing mode, the threshold (and weight of periodicity in the score) that
maximised overall accuracy (voicing and pitch) averaged over clean / 20 dB / 5 dB on the tuning
half of the known-F0 speech set with voicing false alarms at most pyin's there, and were then
scored on the other half (benchmarks/known_f0/voicing_sweep.py, docs/crepe.md)."""


class CrepeOptions(BaseModel):
    """The ``[crepe]`` config table; defaults that depend on the model are filled in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Model = Field(
        "full", description="full (22 M parameters, most accurate) or tiny (0.5 M, fast on CPU)."
    )
    decoder: Decoder = Field(
        "viterbi", description="viterbi (smooth path, torchcrepe's HMM), weighted_argmax, argmax."
    )
    voicing: Voicing = Field(
        "periodicity+harmonicity",
        description="periodicity+harmonicity: score = voicing_weight * periodicity + "
        "(1 - voicing_weight) * harmonicity; periodicity: score = periodicity.",
    )
    voicing_weight: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Weight of periodicity in the combined score; default: the model's tuned "
        "weight. Only with voicing = 'periodicity+harmonicity'.",
    )
    voicing_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Frames whose voicing score is below this are unvoiced; default: the "
        "tuned threshold of the model and voicing mode.",
    )
    silence_db: float = Field(
        -60.0,
        description="Frames quieter than this (RMS in dB re full scale, at 16 kHz) are "
        "unvoiced; -inf disables the gate.",
    )

    @classmethod
    def from_table(cls, table: Mapping[str, Any], section: str = "crepe") -> CrepeOptions:
        """Validate a ``[crepe]`` table; `section` names it in the `ConfigError` messages."""
        return parse_options(cls, table, section)

    @field_validator("silence_db")
    @classmethod
    def _not_nan(cls, value: float) -> float:
        if math.isnan(value):
            raise ValueError("must be a number of dB (use -inf to disable)")
        return value

    @model_validator(mode="after")
    def _tuned_defaults(self) -> CrepeOptions:
        combined = self.voicing == "periodicity+harmonicity"
        if self.voicing_weight is not None and not combined:
            raise ValueError(
                "voicing_weight applies only to voicing = 'periodicity+harmonicity' "
                f"(voicing is {self.voicing!r})"
            )
        if combined and self.voicing_weight is None:
            object.__setattr__(self, "voicing_weight", DEFAULT_VOICING_WEIGHT[self.model])
        if self.voicing_threshold is None:
            threshold = DEFAULT_VOICING_THRESHOLD[self.model, self.voicing]
            object.__setattr__(self, "voicing_threshold", threshold)
        return self
