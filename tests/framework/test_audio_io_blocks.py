"""Multichannel files are decoded and mixed down block by block: the same mono mix as the
whole-file mean, at about one mono copy of memory instead of the (frames, channels) array."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from gpuaudio.audio_io import read_audio, stream_audio

SR = 16000


@pytest.fixture(scope="module")
def eight_channels(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray]:
    data = (0.2 * np.random.default_rng(3).standard_normal((10 * SR + 123, 8))).astype(np.float32)
    path = tmp_path_factory.mktemp("blocks") / "eight.wav"
    sf.write(path, data, SR, subtype="FLOAT")
    return str(path), data


@pytest.mark.parametrize("read_frames", [1, 1000, 4096, 10**9])
def test_blockwise_mix_equals_the_whole_file_mean(eight_channels, read_frames):
    path, data = eight_channels
    whole_mean = data.mean(axis=1, dtype=np.float64).astype(np.float32)
    if read_frames == 1:
        data, whole_mean = data[:3000], whole_mean[:3000]  # one frame at a time: keep it short
        sf.write(path + ".short.wav", data, SR, subtype="FLOAT")
        path += ".short.wav"
    np.testing.assert_array_equal(read_audio(path, SR, read_frames=read_frames), whole_mean)
    np.testing.assert_array_equal(read_audio(path, SR, channel=5, read_frames=read_frames),
                                  data[:, 5])  # fmt: skip
    streamed = np.concatenate(list(stream_audio(path, SR, block_s=0.7, read_frames=read_frames)))
    np.testing.assert_array_equal(streamed, whole_mean)


def test_resampled_blockwise_read_equals_the_one_block_read(eight_channels):
    path, _ = eight_channels
    np.testing.assert_array_equal(
        read_audio(path, 22050, read_frames=777), read_audio(path, 22050, read_frames=10**9)
    )


def test_peak_memory_is_about_one_mono_copy(eight_channels):
    """Reading all 8 channels at once (the old way) held 5.1 MB of frames plus a float64 mean;
    block by block the peak is the 0.64 MB mono result plus one small block (no final copy)."""
    path, data = eight_channels
    tracemalloc.start()
    try:
        mono = read_audio(path, SR, read_frames=4096)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.2 * mono.nbytes + 4096 * 8 * 4 * 4, (peak, mono.nbytes, data.nbytes)
    assert peak < data.nbytes / 3
