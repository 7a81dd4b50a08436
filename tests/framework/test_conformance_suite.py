"""The conformance suite v2 catches what v1 let through (issue 13, item 7): an F0 backend
two frames late, one that ignores fmin/fmax, one that answers in float16, a spectrum a frame
early, and a config table its options model refuses."""

from __future__ import annotations

from typing import Any, ClassVar

import librosa
import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from gpuaudio import BackendError, BackendSpec, ConfigError, F0Frames, hookimpl
from gpuaudio.plugins import PluginRegistry, make_plugin_manager
from gpuaudio.testing import F0BackendConformance, StftBackendConformance


class LateF0:
    """librosa.pyin, two frames late."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def f0(self, y, sr, *, fmin, fmax, frame_length, hop_length):  # type: ignore[no-untyped-def]
        f0, flag, prob = librosa.pyin(
            y, sr=sr, fmin=fmin, fmax=fmax, frame_length=frame_length, hop_length=hop_length
        )
        late = (np.full_like(f0, np.nan), np.zeros_like(flag), np.zeros_like(prob))
        for out, array in zip(late, (f0, flag, prob), strict=True):
            out[..., 2:] = array[..., :-2]
        return F0Frames(*late)


class RangeBlindF0(LateF0):
    """librosa.pyin over 50-1000 Hz whatever it is asked."""

    def f0(self, y, sr, *, fmin, fmax, frame_length, hop_length):  # type: ignore[no-untyped-def]
        return F0Frames(
            *librosa.pyin(
                y, sr=sr, fmin=50.0, fmax=1000.0, frame_length=frame_length, hop_length=hop_length
            )
        )


class HalfF0(LateF0):
    """librosa.pyin in float16."""

    def f0(self, y, sr, *, fmin, fmax, frame_length, hop_length):  # type: ignore[no-untyped-def]
        f0, flag, prob = librosa.pyin(
            y, sr=sr, fmin=fmin, fmax=fmax, frame_length=frame_length, hop_length=hop_length
        )
        return F0Frames(f0.astype(np.float16), flag, prob)


class EarlyStft:
    """librosa.stft, one frame early."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def stft(self, y, *, n_fft, hop_length, win_length, window, center, pad_mode):  # type: ignore[no-untyped-def]
        good = librosa.stft(y, n_fft=n_fft, hop_length=hop_length, pad_mode=pad_mode)
        return np.concatenate([good[..., 1:], good[..., -1:]], axis=-1)


class Threshold(BaseModel):
    """The faulty F0 backends' options."""

    model_config = ConfigDict(extra="forbid")
    threshold: float = 0.5


class Faulty:
    @hookimpl
    def gpuaudio_f0_backends(self):  # type: ignore[no-untyped-def]
        return [
            BackendSpec(name, "f0", f"{__name__}:{cls}", description="faulty", options=Threshold)
            for name, cls in (("late", "LateF0"), ("blind", "RangeBlindF0"), ("half", "HalfF0"))
        ]

    @hookimpl
    def gpuaudio_stft_backends(self):  # type: ignore[no-untyped-def]
        return [BackendSpec("early", "stft", f"{__name__}:EarlyStft", description="faulty")]


class _InProcess:
    @classmethod
    def registry(cls) -> PluginRegistry:
        registry = make_plugin_manager()
        registry.register(Faulty(), name="faulty")
        return registry


class Late(_InProcess, F0BackendConformance):
    backend = "late"


class Blind(_InProcess, F0BackendConformance):
    backend = "blind"


class Half(_InProcess, F0BackendConformance):
    backend = "half"


class Early(_InProcess, StftBackendConformance):
    backend = "early"


def test_an_f0_backend_two_frames_late_fails_the_timing_test():
    with pytest.raises(AssertionError, match=r"frames are 2 hop\(s\) late"):
        Late().test_frame_timing_on_a_chirp(Late.service())


def test_an_f0_backend_ignoring_fmin_fmax_fails():
    # The host refuses its result before the suite's own check could see it.
    with pytest.raises(BackendError, match=r"outside fmin\.\.fmax \(300\.\.600 Hz\)"):
        Blind().test_fmin_fmax_respected(Blind.service(), Blind.noisy_tone())


def test_an_f0_backend_in_float16_fails():
    with pytest.raises(BackendError, match="f0 has dtype float16"):
        Half().test_pyin_shapes_and_dtypes(Half.service(), Half.noisy_tone())


def test_a_spectrum_a_frame_early_fails_the_timing_test():
    with pytest.raises(AssertionError, match=r"frames are 1 hop\(s\) early"):
        Early().test_frame_timing_on_a_chirp(Early.service())


class BadTable(Late):
    options: ClassVar[dict[str, Any]] = {"threshhold": 0.3}


def test_options_are_checked_with_the_model():
    Late().test_options_are_checked_up_front()
    with pytest.raises(ConfigError, match="did you mean 'threshold'"):
        BadTable().test_options_are_checked_up_front()
