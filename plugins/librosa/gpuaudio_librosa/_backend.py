"""The librosa backend: one object serving f0, stft, mel and cqt on the CPU.

Every method takes a (batch, samples) float32 array and hands the whole batch to librosa in
one call (librosa vectorises over leading axes), so many windows are never a Python loop.
"""

from __future__ import annotations

from typing import Any, ClassVar

import librosa
import numpy as np

from gpuaudio import BackendContext, F0Frames, InvalidParameterError
from gpuaudio_librosa._pyin_version import SPARSE_VITERBI, TRANSITION_MIN_PROB, transition_min_prob

__all__ = ["LibrosaBackend"]


class LibrosaBackend:
    """CPU reference implementation of every gpuaudio feature."""

    name = "librosa"
    precision: ClassVar[dict[str, str]] = {
        "f0": "fp64", "stft": "fp32", "mel": "fp32", "cqt": "fp32",
    }
    """What librosa computes in, whatever the config asks: pyin in float64, spectra from
    float32 input (recorded in the provenance)."""

    def __init__(self, context: BackendContext) -> None:
        context.require_no_options("librosa")
        self.context = context

    def f0(
        self,
        y: np.ndarray,
        sr: int,
        *,
        fmin: float,
        fmax: float,
        frame_length: int,
        hop_length: int,
        **pyin: Any,
    ) -> F0Frames:
        """``librosa.pyin`` itself; `pyin` carries its other keywords (center, fill_na,
        n_thresholds, ...: plugin API 1.x), passed through as given (``transition_min_prob``
        only to a librosa that takes it); parameters librosa refuses are an
        `InvalidParameterError`."""
        threshold = transition_min_prob(pyin.pop("transition_min_prob", TRANSITION_MIN_PROB))
        if SPARSE_VITERBI:
            pyin["transition_min_prob"] = threshold
        try:
            f0, voiced_flag, voiced_prob = librosa.pyin(
                y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame_length,
                hop_length=hop_length, **pyin,
            )
        except librosa.ParameterError as exc:
            raise InvalidParameterError(f"librosa.pyin refused the parameters: {exc}") from exc
        return F0Frames(f0, voiced_flag, voiced_prob)

    def stft(
        self,
        y: np.ndarray,
        *,
        n_fft: int,
        hop_length: int,
        win_length: int,
        window: str,
        center: bool,
        pad_mode: str,
    ) -> np.ndarray:
        result: np.ndarray = librosa.stft(
            y,
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            window=window,
            center=center,
            pad_mode=pad_mode,  # type: ignore[arg-type]
        )
        return result

    def melspectrogram(
        self,
        y: np.ndarray,
        sr: int,
        *,
        n_fft: int,
        hop_length: int,
        n_mels: int,
        fmin: float,
        fmax: float,
        power: float,
        center: bool,
        pad_mode: str,
    ) -> np.ndarray:
        result: np.ndarray = librosa.feature.melspectrogram(
            y=y,
            sr=sr,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            fmin=fmin,
            fmax=fmax,
            power=power,
            center=center,
            pad_mode=pad_mode,
        )
        return result

    def cqt(
        self,
        y: np.ndarray,
        sr: int,
        *,
        hop_length: int,
        fmin: float,
        n_bins: int,
        bins_per_octave: int,
    ) -> Any:
        return librosa.cqt(
            y,
            sr=sr,
            hop_length=hop_length,
            fmin=fmin,
            n_bins=n_bins,
            bins_per_octave=bins_per_octave,
        )
