"""The librosa backend's STFT: ``librosa.stft``, computed in numpy for the common arguments.

A Hann window with zero padding (``pad_mode="constant"``, librosa's default; any padding
when ``center=False``) is computed here exactly as librosa defines it: the periodic Hann
window as scipy builds it (float64, centred in ``n_fft`` when ``win_length`` is shorter),
frames every ``hop_length`` samples of the signal padded by ``n_fft // 2`` on each side when
centred, each frame times the window in float64, numpy's ``rfft``, and librosa's complex
dtype for the input (complex64 for float32). So the values are librosa's bit for bit (tested
in tests/librosa/test_stft.py) without importing librosa or ``scipy.signal``, which cost
~1 CPU s at the start of every command that analyses. Other windows and pad modes go to
``librosa.stft`` itself (the librosa backend's `LibrosaBackend.stft`).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from gpuaudio import BackendContext, InvalidParameterError

if TYPE_CHECKING:
    from gpuaudio_librosa._backend import LibrosaBackend

__all__ = ["LibrosaStft", "hann_stft", "periodic_hann"]

_BLOCK_BYTES = 1 << 22
"""Windowed float64 frames transformed at once: bounds the temporaries (librosa uses blocks
of 256 KiB; the values do not depend on the block size)."""


def periodic_hann(length: int) -> np.ndarray:
    """``scipy.signal.get_window("hann", length, fftbins=True)``, computed as scipy does
    (a symmetric cosine window one sample longer, its last sample dropped)."""
    if length <= 1:
        return np.ones(length)
    phase = np.linspace(-np.pi, np.pi, length + 1)
    window: np.ndarray = (0.5 + 0.5 * np.cos(phase))[:-1]
    return window


def hann_stft(
    y: np.ndarray, *, n_fft: int, hop_length: int, win_length: int, center: bool
) -> np.ndarray:
    """``librosa.stft(y, ..., window="hann", pad_mode="constant")`` of `y` (..., samples):
    (..., 1 + n_fft // 2, frames), complex64 for float32 input (complex128 for float64)."""
    if win_length > n_fft:
        raise InvalidParameterError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
    if not center and n_fft > y.shape[-1]:
        raise InvalidParameterError(
            f"n_fft ({n_fft}) is larger than the signal ({y.shape[-1]} samples) with center=False"
        )
    left = (n_fft - win_length) // 2
    window = np.pad(periodic_hann(win_length), (left, n_fft - win_length - left))
    if center:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(n_fft // 2, n_fft // 2)])
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)[..., ::hop_length, :]
    spectrum = np.empty((*frames.shape[:-1], 1 + n_fft // 2), np.result_type(y, np.complex64))
    per_frame = max(1, int(np.prod(frames.shape[:-2])) * n_fft * 8)
    step = max(1, _BLOCK_BYTES // per_frame)
    for start in range(0, frames.shape[-2], step):
        block = frames[..., start : start + step, :]
        spectrum[..., start : start + step, :] = np.fft.rfft(window * block, axis=-1)
    return spectrum.swapaxes(-1, -2)


class LibrosaStft:
    """``librosa.stft``: `hann_stft` for a Hann window with zero padding, librosa otherwise."""

    name = "librosa"
    precision: ClassVar[dict[str, str]] = {"stft": "fp32"}
    """As `LibrosaBackend`: spectra from float32 input (the window product is float64)."""

    def __init__(self, context: BackendContext) -> None:
        context.require_no_options("librosa")
        self.context = context

    @cached_property
    def _librosa(self) -> LibrosaBackend:
        """librosa itself, imported on first use (other windows and pad modes)."""
        from gpuaudio_librosa._backend import LibrosaBackend

        return LibrosaBackend(self.context)

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
        if window == "hann" and (pad_mode == "constant" or not center):
            return hann_stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                             center=center)
        return self._librosa.stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                                  window=window, center=center, pad_mode=pad_mode)
