"""What the nnaudio and torch backends share: upload, padding, frame-block chunking, layer
caching, precision handling and the mel projection.

A backend only supplies `_stft_block`: the complex STFT of an already padded segment with
``center=False``. Everything else (librosa's ``center`` padding, chunking a long signal into
blocks of frames that each carry the ``n_fft - hop`` samples they share with their
neighbours, the mel filterbank) lives here, so both backends give the same frames.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gpuaudio import BackendContext, ConfigError, InvalidParameterError
from gpuaudio.device import host_tensor, tf32_mode

_DTYPES = {
    "fp32": torch.float32,
    "tf32": torch.float32,  # spectra are computed in strict fp32: see `framewise`
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}
_DEVICE_PAD_MODES = {
    "constant": "constant",
    "reflect": "reflect",
    "edge": "replicate",
}
"""np.pad modes (librosa's ``pad_mode``) that torch pads on the device; others go via numpy."""
_UNSUPPORTED_PAD_MODES = ("wrap", "maximum", "mean", "median", "minimum")
"""Modes librosa.stft refuses (they look at the whole signal, so chunks would differ)."""


class LayerCache:
    """Built layers, kernels and filterbanks keyed by their parameters (LRU, `maxsize` kept)."""

    def __init__(self, maxsize: int = 16) -> None:
        self.maxsize = maxsize
        self.builds = 0
        """How many entries were built (misses): lets tests prove nothing is rebuilt per call."""
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The entry for `key`, built by `build()` on first use."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = build()
        self.builds += 1
        self._entries[key] = value
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value


def window_array(window: str, win_length: int, n_fft: int) -> np.ndarray:
    """librosa's analysis window: `get_window(..., fftbins=True)` centred in `n_fft` samples."""
    import librosa

    try:
        values = librosa.filters.get_window(window, win_length, fftbins=True)
    except (ValueError, TypeError) as exc:
        raise InvalidParameterError(
            f"unknown window {window!r}: use a scipy.signal.get_window name such as 'hann'"
        ) from exc
    return np.asarray(librosa.util.pad_center(values, size=n_fft), dtype=np.float64)


class SpectralBackend:
    """Base of the torch spectral backends: subclasses implement `_stft_block`."""

    name = ""
    half_precision = True
    """Whether fp16 / bf16 are honoured; otherwise those precisions compute in fp32."""

    def __init__(self, context: BackendContext) -> None:
        context.require_no_options(self.name)
        if context.precision not in _DTYPES:
            raise ConfigError(
                f"unknown precision {context.precision!r} for the {self.name} backend; "
                f"use one of {sorted(_DTYPES)}"
            )
        self.context = context
        self.device = torch.device(context.device)
        self.memory = context.memory
        self.dtype = _DTYPES[context.precision] if self.half_precision else torch.float32
        self.precision = context.precision if self.half_precision else "fp32"
        """The precision the spectra are computed in (recorded in the provenance)."""
        self.cache = LayerCache()

    # -- the one thing a subclass provides --------------------------------------------------

    def _stft_block(
        self, segment: torch.Tensor, *, n_fft: int, hop_length: int, win_length: int, window: str
    ) -> torch.Tensor:
        """Complex64 STFT (batch, 1 + n_fft // 2, frames) of a padded segment, no centring."""
        raise NotImplementedError

    # -- features ---------------------------------------------------------------------------

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
    ) -> torch.Tensor:
        """``librosa.stft`` batch-first: complex64 (batch, 1 + n_fft // 2, frames)."""
        n_freq = 1 + n_fft // 2

        def block(segment: torch.Tensor) -> torch.Tensor:
            return self._stft_block(
                segment, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window
            )

        return self.framewise(
            y,
            block,
            span=n_fft,
            hop=hop_length,
            center=center,
            pad_mode=pad_mode,
            bytes_per_frame=self._frame_bytes(n_fft, hop_length, outputs=4 * n_freq),
        )

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
    ) -> torch.Tensor:
        """``librosa.feature.melspectrogram`` batch-first: float32 (batch, n_mels, frames)."""
        basis = self.cache.get(
            ("mel", sr, n_fft, n_mels, fmin, fmax, self.device),
            lambda: self._mel_basis(sr, n_fft, n_mels, fmin, fmax),
        )

        def block(segment: torch.Tensor) -> torch.Tensor:
            spectrum = self._stft_block(
                segment, n_fft=n_fft, hop_length=hop_length, win_length=n_fft, window="hann"
            )
            power_spectrum = spectrum.real.square() + spectrum.imag.square()
            if power != 2.0:
                power_spectrum = power_spectrum.pow(power / 2.0)
            return torch.matmul(basis, power_spectrum)

        n_freq = 1 + n_fft // 2
        return self.framewise(
            y,
            block,
            span=n_fft,
            hop=hop_length,
            center=center,
            pad_mode=pad_mode,
            bytes_per_frame=self._frame_bytes(n_fft, hop_length, outputs=5 * n_freq + n_mels),
        )

    # -- shared machinery -------------------------------------------------------------------

    def framewise(
        self,
        y: np.ndarray,
        block: Callable[[torch.Tensor], torch.Tensor],
        *,
        span: int,
        hop: int,
        center: bool,
        pad_mode: str,
        bytes_per_frame: int,
    ) -> torch.Tensor:
        """Run `block` over blocks of frames of the (centre-padded) signal, then join them.

        Frame ``t`` covers padded samples ``[t*hop, t*hop + span)``. A block of frames
        ``[start, stop)`` gets exactly the samples its frames cover, overlap with the next
        block included, so any split gives the same frames as one piece (seam-exact). The
        MemoryManager picks how many frames go in one block (and halves it on OOM).
        """
        signal = self.upload(y)
        if center:
            signal = pad_signal(signal, y, span // 2, pad_mode)
        n_frames = 1 + (signal.shape[-1] - span) // hop
        rows = signal.shape[0]

        def run(start: int, stop: int) -> torch.Tensor:
            segment = signal[:, start * hop : (stop - 1) * hop + span].to(self.dtype)
            # PyTorch lets cuDNN use TF32 for fp32 convolutions by default: about three decimal
            # digits lost on a conv STFT, far outside the 1e-5 agreement with librosa we promise.
            # fp32 work stays strict in fp16/bf16 runs too (the mel projection is fp32 there).
            with torch.inference_mode(), tf32_mode(str(self.device), enabled=False):
                return block(segment)

        parts = self.memory.map_batches(run, n_frames, bytes_per_frame * rows)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def upload(self, y: np.ndarray) -> torch.Tensor:
        """The (batch, samples) float32 input on the device, in one host-to-device copy."""
        host = host_tensor(y)
        if self.device.type == "cuda":
            return host.pin_memory().to(self.device, non_blocking=True)
        return host

    def _frame_bytes(self, span: int, hop: int, *, outputs: int) -> int:
        """Per-frame, per-row working memory: new input, a worst-case unfolded frame, outputs."""
        itemsize = torch.tensor([], dtype=self.dtype).element_size()
        return itemsize * (hop + span) + 4 * outputs

    def _mel_basis(self, sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> Any:
        """librosa's mel filterbank (Slaney scale, Slaney area norm) as a float32 device tensor."""
        import librosa

        basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        return torch.from_numpy(np.asarray(basis, dtype=np.float32)).to(self.device)


def pad_signal(signal: torch.Tensor, host: np.ndarray, pad: int, pad_mode: str) -> torch.Tensor:
    """Pad `pad` samples on both ends as ``np.pad(..., mode=pad_mode)`` (librosa's centring).

    Common modes pad on the device; any other np.pad mode pads `host` with numpy and uploads.
    """
    if pad_mode in _UNSUPPORTED_PAD_MODES:
        raise InvalidParameterError(
            f"pad_mode={pad_mode!r} is not supported (nor by librosa.stft); use 'constant', "
            "'reflect' or 'edge'"
        )
    mode = _DEVICE_PAD_MODES.get(pad_mode)
    # torch's reflect padding cannot fold over a signal shorter than the pad; numpy can
    if mode is not None and (mode != "reflect" or pad < signal.shape[-1]):
        if mode == "constant":
            return F.pad(signal, (pad, pad))
        return F.pad(signal.unsqueeze(1), (pad, pad), mode=mode).squeeze(1)
    try:
        padded = np.pad(host, ((0, 0), (pad, pad)), mode=pad_mode)  # type: ignore[call-overload]
    except (ValueError, TypeError) as exc:
        raise InvalidParameterError(
            f"pad_mode={pad_mode!r} is not a numpy.pad mode; use 'constant', 'reflect' or 'edge'"
        ) from exc
    return torch.from_numpy(np.ascontiguousarray(padded, dtype=np.float32)).to(signal.device)
