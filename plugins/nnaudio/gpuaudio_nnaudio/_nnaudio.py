"""The ``nnaudio`` backend: nnAudio's STFT and CQT1992v2 layers (conv1d with fixed kernels).

Layers are built once per parameter set, moved to the device once and kept in a `LayerCache`;
a call only uploads the signal. The layers run with ``center=False`` on segments that
`SpectralBackend.framewise` has already padded and cut into blocks of frames.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from nnAudio.features import STFT, CQT1992v2

from gpuaudio.cqt_geometry import CqtGeometry
from gpuaudio_nnaudio._spectral import SpectralBackend, window_array

__all__ = ["NnAudioBackend"]


class NnAudioBackend(SpectralBackend):
    """STFT, mel and CQT with nnAudio layers; fp16 / bf16 run the convolutions in half."""

    name = "nnaudio"

    def _stft_block(
        self, segment: torch.Tensor, *, n_fft: int, hop_length: int, win_length: int, window: str
    ) -> torch.Tensor:
        layer = self.cache.get(
            ("stft", n_fft, hop_length, win_length, window, self.device, self.dtype),
            lambda: self._stft_layer(n_fft, hop_length, win_length, window),
        )
        pair = layer(segment, output_format="Complex").float()  # (..., 2): real, imag
        return torch.complex(pair[..., 0], pair[..., 1])

    def _stft_layer(self, n_fft: int, hop_length: int, win_length: int, window: str) -> Any:
        window_array(window, win_length, n_fft)  # validates the name with librosa's message
        layer = STFT(
            n_fft=n_fft,
            win_length=win_length,
            hop_length=hop_length,
            window=window,
            center=False,
            output_format="Complex",
            verbose=False,
        )
        return layer.to(self.device, self.dtype).eval()

    def cqt(
        self,
        y: np.ndarray,
        sr: int,
        *,
        hop_length: int,
        fmin: float,
        n_bins: int,
        bins_per_octave: int,
    ) -> torch.Tensor:
        """``librosa.cqt``'s shape and scale, complex64 (batch, n_bins, frames).

        nnAudio's CQT1992v2 convolves the full-rate signal with every bin's kernel; librosa
        filters octave by octave on a downsampled signal, which is where the two differ. Its
        frame count is librosa's (`CqtGeometry.frames`): when librosa's early downsampling
        rounds the length up to one more frame, the signal gets the zeros that frame needs.
        """
        frames = CqtGeometry(sr, hop_length, fmin, n_bins, bins_per_octave).frames(y.shape[-1])
        y = _zero_extend(y, (frames - 1) * hop_length)
        layer = self.cache.get(
            ("cqt", sr, hop_length, fmin, n_bins, bins_per_octave, self.device, self.dtype),
            lambda: self._cqt_layer(sr, hop_length, fmin, n_bins, bins_per_octave),
        )

        def block(segment: torch.Tensor) -> torch.Tensor:
            pair = layer(segment, output_format="Complex").float()
            return torch.complex(pair[..., 0], pair[..., 1])

        return self.framewise(
            y,
            block,
            span=layer.kernel_width,
            hop=hop_length,
            center=True,
            pad_mode="constant",
            bytes_per_frame=self._frame_bytes(layer.kernel_width, hop_length, outputs=6 * n_bins),
        )

    def _cqt_layer(
        self, sr: int, hop_length: int, fmin: float, n_bins: int, bins_per_octave: int
    ) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nnAudio warns about its own defaults
            layer = CQT1992v2(
                sr=sr,
                hop_length=hop_length,
                fmin=fmin,
                n_bins=n_bins,
                bins_per_octave=bins_per_octave,
                center=False,
                output_format="Complex",
                verbose=False,
            )
        return layer.to(self.device, self.dtype).eval()


def _zero_extend(y: np.ndarray, length: int) -> np.ndarray:
    """`y` (batch, samples) with zeros appended up to `length` samples (as is when longer);
    a centred frame grid then has ``1 + length // hop`` frames, as librosa pads with zeros."""
    if y.shape[-1] >= length:
        return y
    return np.pad(y, ((0, 0), (0, length - y.shape[-1])))
