"""The ``[acpitch]`` options model (pydantic only: imported by the hooks, so nothing heavy here).

The names and defaults are Praat's "advanced pitch settings" of ``To Pitch (ac)``, except the
silence reference, which is local here (see `AcPitchOptions.silence_reference_s`), and the
envelope's share of the autocorrelation, which Praat does not have
(`AcPitchOptions.envelope_weight`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AcPitchOptions(BaseModel):
    """The ``[acpitch]`` config table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voicing_threshold: float = Field(
        0.45,
        ge=0.0,
        le=1.0,
        description="Strength of the unvoiced candidate: frames whose best normalised "
        "autocorrelation stays below this tend to be unvoiced (higher: fewer voiced frames).",
    )
    silence_threshold: float = Field(
        0.03,
        ge=0.0,
        le=1.0,
        description="Frames whose peak amplitude is below this share of the loudest frame "
        "within +-silence_reference_s are pushed towards unvoiced.",
    )
    silence_reference_s: float = Field(
        1.0,
        gt=0.0,
        le=60.0,
        description="Half-width (s) of the span whose loudest frame is the silence reference "
        "(Praat uses the whole sound; a local one follows level changes and does not depend "
        "on how a long input is cut).",
    )
    octave_cost: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="Per octave below fmax, subtracted from a candidate's strength: favours "
        "the higher of two candidates an octave apart.",
    )
    octave_jump_cost: float = Field(
        0.35,
        ge=0.0,
        le=10.0,
        description="Path cost per octave of F0 change between frames 10 ms apart (scaled "
        "by 10 ms / hop).",
    )
    voiced_unvoiced_cost: float = Field(
        0.14,
        ge=0.0,
        le=10.0,
        description="Path cost of a voiced/unvoiced change between frames 10 ms apart "
        "(scaled by 10 ms / hop).",
    )
    envelope_weight: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of each frame's autocorrelation taken from its squared signal "
        "(50-1000 Hz): the square restores the fundamental that a telephone band removes, "
        "so the track slips an octave up less often there (0: Praat's method; 0.5 halved "
        "the gross errors on the tuning half's phone copies, docs/robust-f0.md).",
    )
    max_candidates: int = Field(
        15, ge=1, le=64, description="Voiced candidates (autocorrelation peaks) kept per frame."
    )
    periods_per_window: float = Field(
        3.0,
        ge=2.0,
        le=12.0,
        description="Analysis window in periods of fmin (3 at fmin 50 Hz: 60 ms), at most "
        "frame_length samples.",
    )
