"""The ``torch`` backend: ``torch.stft`` (cuFFT on CUDA) for STFT and mel.

An FFT needs O(n log n) work per frame where a convolution STFT needs O(n^2), so this is the
faster path on both CPU and GPU (docs/nnaudio.md). It always computes in fp32: half-precision
FFTs exist only on CUDA and only for power-of-two sizes, and would buy little.
"""

from __future__ import annotations

import torch

from gpuaudio_nnaudio._spectral import SpectralBackend, window_array

__all__ = ["TorchFftBackend"]


class TorchFftBackend(SpectralBackend):
    """STFT and mel with ``torch.stft``, windows cached on the device."""

    name = "torch"
    half_precision = False

    def _stft_block(
        self, segment: torch.Tensor, *, n_fft: int, hop_length: int, win_length: int, window: str
    ) -> torch.Tensor:
        weights = self.cache.get(
            ("window", n_fft, win_length, window, self.device),
            lambda: torch.from_numpy(window_array(window, win_length, n_fft)).to(
                self.device, torch.float32
            ),
        )
        return torch.stft(
            segment,
            n_fft=n_fft,
            hop_length=hop_length,
            window=weights,
            center=False,
            return_complex=True,
        )
