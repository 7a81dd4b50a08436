"""Who is speaking: a speaker embedding per analysis window, from a voice encoder a package ships.

Two voices of about the same pitch (two women, two men, a low woman and a high man) sharing one
channel cannot be told apart by pitch; their timbre tells them apart. Resemblyzer (Apache-2.0,
resemble-ai) ships in its wheel the weights of a GE2E voice encoder (Wan et al. 2018: three
LSTM layers over 40 mel bands, a 256-dimension embedding, trained to tell speakers apart):
``resemblyzer/pretrained.pt``, 17 MB. gpuaudio reads those weights from the installed
distribution, without importing the package (its audio module needs ``webrtcvad``), and runs
the network itself with torch (on the service's device) on each window's own second of audio:
nothing is downloaded, and
without the package (``pip install gpuaudio[voices]``) voices are told apart by pitch alone.

The mel spectrogram comes from the service's own mel backend (`AudioFeatureService.melspectrogram`,
librosa's definition: 400-sample frames every 160 samples at 16 kHz, as the encoder was trained),
so on a GPU the spectral path serves this step too. Each window is scaled to -30 dBFS first
(the encoder's training level), so a raised voice or a line's gain control does not move it.
"""

from __future__ import annotations

import functools
import importlib.util
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gpuaudio.service import AudioFeatureService

ENCODER_DISTRIBUTION = "resemblyzer"
_WEIGHTS = "resemblyzer/pretrained.pt"
EMBEDDING_SIZE = 256
_MEL_BANDS = 40
_FRAME_S = 0.025
_HOP_S = 0.010
_LSTM_LAYERS = 3
_TARGET_DBFS = -30.0
_SILENCE_RMS = 1e-6
"""Windows quieter than this (about -120 dBFS) get no embedding (NaN): nothing to scale up."""
_WINDOWS_PER_CALL = 256
"""Windows per mel/encoder call: bounds what is held at once (~4 MB of mel bands)."""


def encoder_name() -> str | None:
    """``"resemblyzer X.Y.Z"`` when the voice encoder's weights and torch are installed, else
    None (voices are then told apart by pitch only)."""
    if importlib.util.find_spec("torch") is None:
        return None
    weights = _weights_path()
    if weights is None:
        return None
    return f"{ENCODER_DISTRIBUTION} {metadata.version(ENCODER_DISTRIBUTION)}"


def _weights_path() -> Path | None:
    try:
        distribution = metadata.distribution(ENCODER_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(distribution.locate_file(_WEIGHTS)))
    return path if path.is_file() else None


def encoder_device(service: AudioFeatureService) -> str:
    """Where the encoder runs: the service's configured device (`device` in the config), or
    under ``auto`` CUDA when torch sees a GPU, else the CPU."""
    import torch

    wanted = service.config.device
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return wanted


@functools.lru_cache(maxsize=2)
def _encoder(device: str) -> Any:
    """The voice encoder with the packaged weights, on `device`."""
    import torch
    from torch import nn

    class VoiceEncoder(nn.Module):  # Resemblyzer's network, parameter names as in its weights
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(_MEL_BANDS, EMBEDDING_SIZE, _LSTM_LAYERS, batch_first=True)
            self.linear = nn.Linear(EMBEDDING_SIZE, EMBEDDING_SIZE)

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            embedding = torch.relu(self.linear(hidden[-1]))
            unit: torch.Tensor = embedding / embedding.norm(dim=1, keepdim=True).clamp_min(1e-12)
            return unit

    weights = _weights_path()
    if weights is None:  # checked by encoder_name(); the package was removed since
        raise ModuleNotFoundError(f"{ENCODER_DISTRIBUTION} is not installed")
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    state = {
        name: tensor
        for name, tensor in checkpoint["model_state"].items()
        if not name.startswith("similarity_")  # GE2E's training loss, not the encoder
    }
    encoder = VoiceEncoder()
    encoder.load_state_dict(state, strict=True)
    return encoder.to(device).eval()


def speaker_embeddings(service: AudioFeatureService, batch: np.ndarray, sr: int) -> np.ndarray:
    """One unit-length embedding per window of `batch` (windows, samples) at `sr` (16 kHz):
    (windows, 256) float32, NaN rows for silent windows; (windows, 0) without the encoder."""
    if encoder_name() is None:
        return np.zeros((batch.shape[0], 0), dtype=np.float32)
    import torch

    device = encoder_device(service)
    encoder = _encoder(device)
    n_fft, hop = round(_FRAME_S * sr), round(_HOP_S * sr)
    out = np.full((batch.shape[0], EMBEDDING_SIZE), np.nan, dtype=np.float32)
    rms = np.sqrt(np.mean(np.square(batch, dtype=np.float64), axis=1))
    audible = np.flatnonzero(rms >= _SILENCE_RMS)
    for start in range(0, audible.size, _WINDOWS_PER_CALL):
        rows = audible[start : start + _WINDOWS_PER_CALL]
        scaled = batch[rows] * (10 ** (_TARGET_DBFS / 20) / rms[rows])[:, None]
        mel = service.melspectrogram(  # a tensor: on a GPU backend it stays on the device
            scaled.astype(np.float32), sr, n_fft=n_fft, hop_length=hop, n_mels=_MEL_BANDS,
            as_tensor=True,
        )
        frames = mel.transpose(1, 2).to(device, torch.float32).contiguous()
        with torch.no_grad():
            out[rows] = encoder(frames).cpu().numpy()
    return out
