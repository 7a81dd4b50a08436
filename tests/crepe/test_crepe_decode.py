"""Decoders, resampler and frame grid against independent references."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import torch

from gpuaudio_crepe import _decode
from gpuaudio_crepe._backend import CREPE_RATE, frame_centres
from gpuaudio_crepe._resample import resample


def _salience(batch: int, frames: int, seed: int) -> torch.Tensor:
    """A wandering pitch path in noise, like a network output."""
    gen = torch.Generator().manual_seed(seed)
    drift = torch.cumsum(torch.randint(-2, 3, (batch, frames), generator=gen), dim=1)
    path = (150 + drift).clamp(20, 340)
    salience = 0.5 * torch.rand(batch, frames, 360, generator=gen)
    return salience.scatter_(2, path[..., None], 0.9)


def _stock_transition() -> np.ndarray:
    """torchcrepe's Viterbi transition matrix, built as torchcrepe builds it."""
    xx, yy = np.meshgrid(range(360), range(360))
    transition = np.maximum(12 - abs(xx - yy), 0)
    return transition / transition.sum(axis=1, keepdims=True)


def _masked(salience: torch.Tensor) -> torch.Tensor:
    """Salience with bins outside 50-550 Hz removed (-inf), as the backend decodes it."""
    lo, hi = _decode.allowed_bins(50.0, 550.0)
    inside = (torch.arange(360) >= lo) & (torch.arange(360) < hi)
    return salience.masked_fill(~inside, -math.inf)


def test_viterbi_equals_librosa_viterbi_on_torchcrepes_transition() -> None:
    masked = _masked(_salience(3, 120, seed=0))
    ours = _decode.viterbi_path(torch.log_softmax(masked, -1))
    transition = _stock_transition()
    for row in range(3):
        probs = torch.softmax(masked[row], -1).numpy().T
        expected = librosa.sequence.viterbi(probs, transition)
        np.testing.assert_array_equal(ours[row].numpy(), expected)


def test_blocked_viterbi_matches_one_pass_on_long_sequences() -> None:
    frames = 2 * _decode.VITERBI_BLOCK + 2 * _decode.VITERBI_MARGIN + 37
    log_obs = torch.log_softmax(_masked(_salience(3, frames, seed=1)), -1)
    blocked = _decode.viterbi_path(log_obs)
    assert torch.equal(blocked, _decode._viterbi(log_obs))


def test_band_maximum_implementations_agree() -> None:
    previous = torch.randn(4, 360, generator=torch.Generator().manual_seed(2))
    log_trans = _decode._log_transition(torch.device("cpu"))
    shifted = _decode._band_max_shifted(previous, log_trans)
    assert torch.equal(shifted, _decode._band_max_unfolded(previous, log_trans))


def test_weighted_argmax_is_crepes_local_average() -> None:
    salience = _salience(2, 30, seed=3)
    f0, periodicity = _decode.decode(salience, "weighted_argmax", 0, 360)
    for b in range(2):
        for t in range(30):
            s = salience[b, t].double().numpy()
            centre = int(s.argmax())
            window = np.arange(max(0, centre - 4), min(360, centre + 5))
            cents = 20 * window + 1997.3794084376191
            expected = 10 * 2 ** (np.sum(s[window] * cents) / np.sum(s[window]) / 1200)
            assert f0[b, t].item() == pytest.approx(expected, rel=1e-5)
            assert periodicity[b, t].item() == pytest.approx(s[centre])


def test_decoders_stay_inside_fmin_fmax() -> None:
    salience = _salience(2, 50, seed=4)
    for decoder in _decode.DECODERS:
        f0, _ = _decode.decode(salience, decoder, *_decode.allowed_bins(100.0, 300.0))
        assert f0.min() >= 100.0 * 2 ** (-40 / 1200) and f0.max() <= 300.0 * 2 ** (40 / 1200)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampler_is_band_limited_and_delay_free(rate: int) -> None:
    t = np.arange(rate) / rate
    signal = torch.tensor(np.sin(2 * np.pi * 440.0 * t), dtype=torch.float32)[None]
    out = resample(signal, rate, CREPE_RATE)
    assert out.shape == (1, math.ceil(rate * CREPE_RATE / rate))
    exact = np.sin(2 * np.pi * 440.0 * np.arange(out.shape[1]) / CREPE_RATE)
    interior = slice(100, -100)
    assert np.max(np.abs(out[0, interior].numpy() - exact[interior])) < 2e-3


def test_frame_centres_do_not_drift() -> None:
    sr, hop = 22050, 220  # 10 ms
    n_frames = 1 + (42 * 60 * sr) // hop
    centres = frame_centres(n_frames, hop, sr, torch.device("cpu")).numpy()
    exact = np.arange(n_frames) * hop * CREPE_RATE / sr
    assert np.max(np.abs(centres - exact)) <= 0.5
    # torchcrepe truncates the hop to int(220 * 16000 / 22050) = 159 samples after resampling.
    truncated_drift_s = (exact[-1] - (n_frames - 1) * 159) / CREPE_RATE
    assert truncated_drift_s > 9.0
