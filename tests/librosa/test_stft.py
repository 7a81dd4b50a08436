"""The librosa backend's numpy STFT equals librosa.stft bit for bit, without importing librosa."""

from __future__ import annotations

import subprocess
import sys
import warnings

import librosa
import numpy as np
import pytest
import scipy.signal

from gpuaudio import AudioFeatureService, BackendContext, InvalidParameterError
from gpuaudio.memory import MemoryManager
from gpuaudio_librosa._stft import LibrosaStft, hann_stft, periodic_hann

SIZES = [  # (samples, n_fft, hop_length, win_length): odd sizes, hop > n_fft, short signals
    (1, 16, 4, 16), (100, 160, 160, 160), (511, 161, 40, 161), (4000, 512, 128, 400),
    (4000, 2048, 512, 2048), (16000, 160, 160, 160), (4003, 255, 700, 128),
]


def _librosa_stft(y: np.ndarray, **kwargs: object) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # librosa: n_fft larger than the signal
        result: np.ndarray = librosa.stft(y, **kwargs)  # type: ignore[arg-type]
    return result


def _backend() -> LibrosaStft:
    return LibrosaStft(BackendContext("cpu", "fp32", MemoryManager("cpu")))


@pytest.mark.parametrize("length", [1, 2, 7, 160, 400, 2048])
def test_periodic_hann_is_scipys(length: int) -> None:
    expected = scipy.signal.get_window("hann", length, fftbins=True)
    np.testing.assert_array_equal(periodic_hann(length), expected)


@pytest.mark.parametrize(
    ("n", "n_fft", "hop", "win", "center"),
    # without centring, librosa (and the service) refuse n_fft > samples: tested below
    [(*size, center) for size in SIZES for center in (True, False) if center or size[1] <= size[0]],
)
@pytest.mark.parametrize("lead", [(), (3,), (2, 2)])
def test_equals_librosa_bit_for_bit(
    n: int, n_fft: int, hop: int, win: int, center: bool, lead: tuple[int, ...]
) -> None:
    y = np.random.default_rng(n + n_fft).standard_normal((*lead, n)).astype(np.float32)
    expected = _librosa_stft(y, n_fft=n_fft, hop_length=hop, win_length=win, center=center)
    got = hann_stft(y, n_fft=n_fft, hop_length=hop, win_length=win, center=center)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype == np.complex64
    np.testing.assert_array_equal(got, expected)


def test_float64_input_is_complex128_as_librosa() -> None:
    y = np.random.default_rng(1).standard_normal((2, 3000))
    expected = _librosa_stft(y, n_fft=400, hop_length=100)
    got = hann_stft(y, n_fft=400, hop_length=100, win_length=400, center=True)
    assert got.dtype == np.complex128
    np.testing.assert_array_equal(got, expected)


def test_large_batch_spans_several_blocks() -> None:
    """Far more frames than one block: the block loop covers every frame once."""
    y = np.random.default_rng(2).standard_normal((64, 16000)).astype(np.float32)
    expected = _librosa_stft(y, n_fft=2048, hop_length=160)
    got = hann_stft(y, n_fft=2048, hop_length=160, win_length=2048, center=True)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("window", "pad_mode", "center"),
    [("hamming", "constant", True), ("hann", "reflect", True), ("blackman", "edge", False),
     ("hann", "reflect", False)],
)
def test_other_arguments_are_librosas(window: str, pad_mode: str, center: bool) -> None:
    y = np.random.default_rng(3).standard_normal((2, 5000)).astype(np.float32)
    kwargs = {"n_fft": 512, "hop_length": 128, "win_length": 400, "window": window,
              "center": center, "pad_mode": pad_mode}
    got = _backend().stft(y, **kwargs)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, _librosa_stft(y, **kwargs))


def test_bad_sizes_are_invalid_parameter_errors() -> None:
    y = np.zeros((1, 100), np.float32)
    with pytest.raises(InvalidParameterError, match="win_length"):
        hann_stft(y, n_fft=64, hop_length=16, win_length=128, center=True)
    with pytest.raises(InvalidParameterError, match="center=False"):
        hann_stft(y, n_fft=128, hop_length=16, win_length=128, center=False)


def test_service_default_stft_is_librosas() -> None:
    service = AudioFeatureService({"backends": {"stft": "librosa"}, "fallback": False})
    y = np.random.default_rng(4).standard_normal(16000).astype(np.float32)
    np.testing.assert_array_equal(service.stft(y, n_fft=320, hop_length=160),
                                  _librosa_stft(y, n_fft=320, hop_length=160))
    assert service.provenance["stft"].backend == "librosa"


def test_hann_stft_through_the_service_imports_neither_librosa_nor_scipy_signal() -> None:
    code = (
        "import sys, numpy as np\n"
        "from gpuaudio import AudioFeatureService\n"
        "s = AudioFeatureService({'backends': {'stft': 'librosa'}})\n"
        "s.stft(np.ones(4000, np.float32), n_fft=320, hop_length=160)\n"
        "print(sorted(m for m in ('librosa', 'scipy.signal') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sizes_cover_the_framing_branches() -> None:
    """SIZES include librosa's three centred framings: no full frame, head/tail split, no tail."""
    kinds = set()
    for n, n_fft, hop, _ in SIZES:
        start_k = -(-(n_fft // 2) // hop)
        tail_k = (n + n_fft // 2 - n_fft) // hop + 1
        kinds.add("whole" if tail_k <= start_k else
                  "tail" if tail_k * hop - n_fft // 2 + n_fft <= n + n_fft // 2 else "no tail")
    assert kinds == {"whole", "tail", "no tail"}
