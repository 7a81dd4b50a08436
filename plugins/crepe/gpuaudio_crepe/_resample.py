"""Band-limited resampling on the device: a windowed-sinc polyphase filter run as one conv1d.

The algorithm is the one of ``torchaudio.functional.resample`` (Hann-windowed sinc, 6 zero
crossings, roll-off 0.99), written here because torchaudio's compiled extension may not load.
Output sample ``j`` is exactly at time ``j / new_rate`` (no delay), so frame centres can be
placed on the output grid by arithmetic alone.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

__all__ = ["resample"]

_ZERO_CROSSINGS = 6
_ROLLOFF = 0.99


@functools.lru_cache(maxsize=16)
def _kernel(orig: int, new: int, device: str) -> tuple[torch.Tensor, int]:
    """(new, 1, taps) polyphase filter bank for rates reduced by their gcd, and its half width."""
    cutoff = min(orig, new) * _ROLLOFF
    width = math.ceil(_ZERO_CROSSINGS * orig / cutoff)
    offsets = torch.arange(-width, width + orig, dtype=torch.float64) / orig
    phases = -torch.arange(new, dtype=torch.float64)[:, None] / new
    t = ((phases + offsets[None, :]) * cutoff).clamp(-_ZERO_CROSSINGS, _ZERO_CROSSINGS)
    window = torch.cos(t * math.pi / _ZERO_CROSSINGS / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / torch.where(t == 0, 1.0, t))
    kernel = (sinc * window * cutoff / orig).to(torch.float32)
    return kernel[:, None, :].to(device), width


def resample(signal: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample float32 (batch, samples) from `orig_rate` to `new_rate` on its device.

    Returns (batch, ceil(samples * new_rate / orig_rate)).
    """
    if orig_rate == new_rate:
        return signal
    gcd = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // gcd, new_rate // gcd
    kernel, width = _kernel(orig, new, str(signal.device))
    batch, length = signal.shape
    padded = F.pad(signal, (width, width + orig))
    out = F.conv1d(padded[:, None, :], kernel, stride=orig)  # (batch, new, blocks)
    out = out.transpose(1, 2).reshape(batch, -1)
    return out[:, : math.ceil(new * length / orig)]
