"""Property-based: any input to the public API gives a result or a gpuaudio error, never
another exception (issue 15 item 6, the service's part). Sizes are kept small for time; the
host-memory bounds of item 4 have their own properties in test_memory_host.py."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuaudio import AudioFeatureService, GpuAudioError

ODD_NUMBERS = st.one_of(
    st.integers(-3, 5000),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([None, "a", True, 1e300, -0.0, 2**40]),
)

SIGNALS = st.one_of(
    st.builds(
        lambda n, dtype, seed: np.random.default_rng(seed).standard_normal(n).astype(dtype),
        st.integers(0, 3000), st.sampled_from(["float32", "float64", "int16", "uint8"]),
        st.integers(0, 9),
    ),
    st.builds(lambda shape: np.zeros(shape, dtype=np.float32),
              st.sampled_from([(2, 600), (600, 2), (1, 1), (3, 0), (), (2, 2, 700)])),
    st.sampled_from([np.array([np.nan, 0.0] * 400), np.array(["a"] * 600), [0.1] * 700]),
)  # fmt: skip


@pytest.fixture(scope="module")
def service():
    return AudioFeatureService(
        {"backends": {"f0": "fastpyin", "stft": "librosa", "mel": "librosa", "cqt": "librosa"}},
    )


CALLS = {
    "stft": lambda s, y, sr, a, b: s.stft(y, n_fft=a if a is not None else 512, hop_length=b),
    "mel": lambda s, y, sr, a, b: s.melspectrogram(y, sr, n_fft=512, hop_length=a, fmin=b),
    "cqt": lambda s, y, sr, a, b: s.cqt(y, sr, hop_length=a, n_bins=b if b is not None else 24),
    "f0": lambda s, y, sr, a, b: s.extract_f0(y, sr, fmin=a, fmax=b, frame_length=1024),
    "f0_windows": lambda s, y, sr, a, b: s.extract_f0_windows(y, sr, fmin=a, fmax=b),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    feature=st.sampled_from(sorted(CALLS)),
    y=SIGNALS,
    sr=st.one_of(st.sampled_from([8000, 16000, 22050]), ODD_NUMBERS),
    a=st.one_of(st.integers(1, 4096), st.floats(20, 4000), ODD_NUMBERS),
    b=st.one_of(st.integers(1, 96), st.floats(30, 8000), ODD_NUMBERS),
)
def test_a_result_or_a_gpuaudio_error(service, feature, y, sr, a, b):
    with contextlib.suppress(GpuAudioError):
        CALLS[feature](service, y, sr, a, b)


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    import soundfile as sf

    folder = tmp_path_factory.mktemp("good")
    t = np.arange(16000 * 14) / 16000
    y = (0.2 * np.sin(2 * np.pi * 150 * t) * (t % 1 < 0.7)).astype(np.float32)
    files = {}
    for fmt, subtype in (("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")):
        path = folder / f"call.{fmt.lower()}"
        sf.write(path, y, 16000, format=fmt, subtype=subtype)
        files[fmt] = path.read_bytes()
    return files


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(["WAV", "FLAC", "OGG"]),
    cut=st.one_of(st.none(), st.floats(0.0, 1.0)),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=6),
)
def test_a_corrupt_file_gives_a_report_or_a_gpuaudio_error_never_half(
    service, good_files, fmt, cut, flips
):
    """Truncated and byte-flipped WAV/FLAC/Ogg files: a whole report or a gpuaudio error, and
    the output folder then holds the whole set (outputs and audio copy) or nothing. Each example
    gets a fresh folder (hypothesis replays examples, e.g. when shrinking)."""
    from gpuaudio.analysis.report import OUTPUT_NAMES, analyze_to_folder, audio_copy_name

    data = bytearray(good_files[fmt])
    for where, value in flips:
        data[min(int(where * len(data)), len(data) - 1)] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    with tempfile.TemporaryDirectory(prefix="corrupt-") as folder:
        path = Path(folder) / f"in.{fmt.lower()}"
        path.write_bytes(bytes(data))
        out = Path(folder) / "out"
        with contextlib.suppress(GpuAudioError):
            analyze_to_folder(service, path, out)
        names = {p.name for p in out.iterdir()} if out.exists() else set()
        assert names in (set(), {*OUTPUT_NAMES, audio_copy_name(path)})
