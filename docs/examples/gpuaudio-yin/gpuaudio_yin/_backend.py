"""The yin backend: ``librosa.yin`` for the pitch, a periodicity score for the voicing."""

from __future__ import annotations

import librosa
import numpy as np

from gpuaudio import BackendContext, F0Frames
from gpuaudio_yin._options import YinOptions


class YinBackend:
    """F0 with YIN on the CPU, on librosa.pyin's frame grid (frame t centred at t * hop)."""

    precision = "fp64"  # librosa computes in float64 whatever the configured precision

    def __init__(self, context: BackendContext) -> None:
        self.options = context.options_as(YinOptions, "yin")

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
        """(batch, samples) float32 -> three (batch, 1 + samples // hop_length) arrays.

        YIN always finds a period, so voicing is decided apart: ``voiced_prob`` is not a
        probability but a periodicity score in [0, 1] (the normalised autocorrelation at the
        YIN period), ``voiced_flag`` is score >= ``voicing_threshold`` in a frame that is not
        silent, and f0 is NaN where the flag is False, as pyin's is.
        """
        f0 = librosa.yin(
            y,
            fmin=fmin,
            fmax=fmax,
            sr=sr,
            frame_length=frame_length,
            hop_length=hop_length,
            trough_threshold=self.options.trough_threshold,
            center=True,
        )
        frames = librosa.util.frame(
            np.pad(y, [(0, 0), (frame_length // 2, frame_length // 2)]),
            frame_length=frame_length,
            hop_length=hop_length,
        )  # (batch, frame_length, frames), centred like librosa.yin's
        score = _periodicity(frames, np.rint(sr / f0).astype(np.int64))
        power = np.mean(frames.astype(np.float64) ** 2, axis=-2)
        loud = 10 * np.log10(np.maximum(power, 1e-20)) >= self.options.silence_db
        voiced = loud & (score >= self.options.voicing_threshold)
        return F0Frames(np.where(voiced, f0, np.nan), voiced, np.where(loud, score, 0.0))


def _periodicity(frames: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation ``2 sum x[n] x[n+T] / (sum x[n]^2 + sum x[n+T]^2)`` of each
    (batch, frame_length, frames) frame at its lag T (batch, frames), clipped to [0, 1]."""
    x = np.moveaxis(frames, -2, -1).astype(np.float64)  # (batch, frames, frame_length)
    n = x.shape[-1]
    index = np.arange(n)
    lag = np.clip(lags, 1, n - 1)[..., None]
    inside = index < n - lag  # the samples that have a partner T later
    head = np.where(inside, x, 0.0)
    tail = np.where(inside, np.take_along_axis(x, np.minimum(index + lag, n - 1), axis=-1), 0.0)
    energy = np.sum(head**2, axis=-1) + np.sum(tail**2, axis=-1)
    cross = 2 * np.sum(head * tail, axis=-1)
    score: np.ndarray = np.clip(cross / np.maximum(energy, 1e-20), 0.0, 1.0)
    return score
