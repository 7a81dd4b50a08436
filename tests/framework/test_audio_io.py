"""Reading files: formats, channel policy, resampling, streaming, and one-line errors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuaudio import AudioFileError
from gpuaudio.audio_io import audio_info, read_audio, resample, sha256_file, stream_audio


def _noise(n: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.2 * rng.standard_normal((n, channels))).astype(np.float32)


@settings(max_examples=12, deadline=None)
@given(
    sr_in=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
    seconds=st.floats(0.3, 4.0),
    block_s=st.floats(0.05, 1.5),
)
def test_streamed_blocks_equal_whole_file_resampled(tmp_path_factory, sr_in, seconds, block_s):
    data = _noise(int(seconds * sr_in), 2)
    path = tmp_path_factory.mktemp("io") / "x.wav"
    sf.write(path, data, sr_in, subtype="FLOAT")
    whole = resample(data.mean(axis=1), sr_in, 16000)
    streamed = np.concatenate(list(stream_audio(path, 16000, block_s=block_s)))
    assert streamed.shape == whole.shape == (-(-data.shape[0] * 16000 // sr_in),)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_resampling_keeps_a_tone(tmp_path):
    t = np.arange(44100 * 2) / 44100
    path = tmp_path / "tone.flac"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), 44100)
    y = read_audio(path, 16000)
    assert y.dtype == np.float32 and y.shape == (32000,)
    spectrum = np.abs(np.fft.rfft(y[4000:-4000]))
    peak_hz = np.argmax(spectrum) * 16000 / (y.size - 8000)
    assert peak_hz == pytest.approx(440, abs=1)
    assert np.sqrt(np.mean(y[4000:-4000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_channel_policy(tmp_path):
    data = _noise(16000, 3)
    path = tmp_path / "three.wav"
    sf.write(path, data, 16000, subtype="FLOAT")
    np.testing.assert_allclose(read_audio(path, 16000), data.mean(axis=1), atol=1e-7)
    np.testing.assert_array_equal(read_audio(path, 16000, channel=2), data[:, 2])
    with pytest.raises(AudioFileError, match="3 channels"):
        read_audio(path, 16000, channel=3)


@pytest.mark.parametrize(("fmt", "suffix"), [("OGG", ".ogg"), ("MP3", ".mp3"), ("FLAC", ".flac")])
def test_compressed_formats(tmp_path, fmt, suffix):
    t = np.arange(16000) / 16000
    path = tmp_path / f"tone{suffix}"
    sf.write(path, 0.3 * np.sin(2 * np.pi * 200 * t), 16000, format=fmt)
    info = audio_info(path)
    assert info.format == fmt and info.channels == 1
    y = read_audio(path, 16000)
    assert abs(y.shape[0] - 16000) < 2000  # mp3 adds encoder padding
    assert np.sqrt(np.mean(y**2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.1)


def test_sha256(tmp_path):
    path = tmp_path / "bytes.bin"
    path.write_bytes(bytes(range(256)) * 9000)
    assert sha256_file(path, block_bytes=4096) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_errors_are_one_line_with_advice(tmp_path):
    cases = {}
    cases["missing"] = tmp_path / "nope.wav"
    cases["empty"] = tmp_path / "empty.wav"
    cases["empty"].write_bytes(b"")
    cases["corrupt"] = tmp_path / "corrupt.wav"
    cases["corrupt"].write_bytes(b"RIFF\x00\x01garbage" * 100)
    cases["m4a"] = tmp_path / "call.m4a"
    cases["m4a"].write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(500))
    cases["no samples"] = tmp_path / "header.wav"
    sf.write(cases["no samples"], np.zeros((0, 1)), 16000)
    cases["folder"] = tmp_path
    cases["bad mp3"] = tmp_path / "call.mp3"
    cases["bad mp3"].write_bytes(b"ID3" + bytes(range(256)) * 20)
    cases["link loop"] = tmp_path / "loop.wav"
    cases["link loop"].symlink_to("loop.wav")
    cases["dangling link"] = tmp_path / "dangling.wav"
    cases["dangling link"].symlink_to("gone.wav")
    cases["under a file"] = cases["empty"] / "call.wav"
    messages = {}
    for label, path in cases.items():
        with pytest.raises(AudioFileError) as caught:
            list(stream_audio(path, 16000))
        messages[label] = str(caught.value)
    assert "no such file" in messages["missing"] and "no such file" in messages["dangling link"]
    assert "no such file" in messages["under a file"]
    assert "symbolic-link loop" in messages["link loop"]
    assert "empty" in messages["empty"]
    assert "ffmpeg" in messages["m4a"] and "ffmpeg" in messages["corrupt"]
    assert "no audio samples" in messages["no samples"]
    assert "not a regular file" in messages["folder"]
    # libsndfile's "does not exist ... (possibly a pipe?)" for a file that is there, replaced
    assert "possibly a pipe" not in messages["bad mp3"] and "damaged" in messages["bad mp3"]
    assert all("\n" not in text and str(tmp_path) in text for text in messages.values())


def test_truncated_wav_is_read_up_to_where_it_ends(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, _noise(32000, 1), 16000, subtype="PCM_16")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # the header still claims 32000 frames
    y = read_audio(path, 16000)  # libsndfile takes the frame count from the file size
    assert y.shape[0] == audio_info(path).frames == (len(raw) // 2 - 44) // 2


@pytest.mark.parametrize("block_s", [0.5, 600.0])
def test_non_finite_samples_are_counted_and_placed_in_the_file_before_any_processing(
    tmp_path, block_s
):
    from gpuaudio import InvalidAudioError

    data = _noise(48000, 2)
    data[40000, 0], data[40005, 1], data[47000, 0] = np.nan, np.inf, -np.inf  # 2.5 s on
    path = tmp_path / "bad.wav"
    sf.write(path, data, 16000, subtype="FLOAT")
    with pytest.raises(InvalidAudioError) as caught:
        list(stream_audio(path, 22050, block_s=block_s))  # resampled: NaN would spread
    assert str(path) in str(caught.value)
    assert "3 non-finite sample(s)" in str(caught.value)
    assert "the first at 2.500 s (frame 40000)" in str(caught.value)
    # One channel: only its own bad samples count.
    with pytest.raises(InvalidAudioError, match=r"2 non-finite .* at 2\.500 s"):
        list(stream_audio(path, 16000, channel=0, block_s=block_s))


def test_samples_far_beyond_full_scale_are_refused_with_their_place(tmp_path):
    from gpuaudio import InvalidAudioError

    data = _noise(32000, 1)
    data[24000] = 2.0  # over full scale after some gain: still audio
    path = tmp_path / "hot.wav"
    sf.write(path, data, 16000, subtype="FLOAT")
    assert read_audio(path, 16000).max() == pytest.approx(2.0)
    data[24000] = 32767.0  # integer PCM values stored as float
    sf.write(path, data, 16000, subtype="FLOAT")
    with pytest.raises(InvalidAudioError, match=r"magnitude 3\.28e\+04 at 1\.500 s.*full scale"):
        read_audio(path, 16000)


def test_a_gsm610_wav_which_cannot_seek_is_read_on_and_analysed(tmp_path):
    """libsndfile cannot seek in GSM 6.10 WAV ("Seek attempted on unseekable file type" even
    at frame 0): it is read on, block after block, the resampler's overlap kept from the block
    before, and gives what the same decoded samples give from a seekable file."""
    from gpuaudio import AudioFeatureService
    from gpuaudio.analysis.escalation import detect_escalation, detect_escalation_file
    from gpuaudio.evaluation.synth import synthesize_speech

    speech, _ = synthesize_speech(5.0, sr=8000, seed=2)
    gsm = tmp_path / "call.wav"
    sf.write(gsm, speech, 8000, subtype="GSM610")
    with sf.SoundFile(gsm) as handle:
        assert not handle.seekable()
    decoded, _ = sf.read(gsm, dtype="float32")
    np.testing.assert_array_equal(read_audio(gsm, 8000), decoded)  # the same decoder
    seekable = tmp_path / "decoded.wav"
    sf.write(seekable, decoded, 8000, subtype="FLOAT")
    for block_s in (0.7, 600.0):  # 8 kHz -> 16 kHz: blocks overlap by the filter's context
        np.testing.assert_array_equal(
            np.concatenate(list(stream_audio(gsm, 16000, block_s=block_s))),
            np.concatenate(list(stream_audio(seekable, 16000, block_s=block_s))),
        )
    service = AudioFeatureService({"backends": {"f0": "librosa", "stft": "librosa"}})
    report, info = detect_escalation_file(service, gsm, chunk_s=2.0)
    whole = detect_escalation(service, decoded, 8000)
    assert info.subtype == "GSM610" and report.duration_s == whole.duration_s
    assert np.isfinite(report.windows.f0_median_hz).any()  # the voice is heard
    np.testing.assert_allclose(report.windows.f0_median_hz, whole.windows.f0_median_hz, rtol=1e-5)
    np.testing.assert_allclose(report.windows.level_dbfs, whole.windows.level_dbfs, atol=1e-4)


def test_a_channel_the_file_lacks_is_named_with_those_it_has(tmp_path):
    mono, stereo = tmp_path / "mono.wav", tmp_path / "stereo.wav"
    sf.write(mono, _noise(1600, 1), 16000)
    sf.write(stereo, _noise(1600, 2), 16000)
    with pytest.raises(AudioFileError, match=r"channel 1 requested but the audio is mono "
                                             r"\(channel 0\)$"):  # fmt: skip
        read_audio(mono, 16000, channel=1)
    with pytest.raises(AudioFileError, match=r"channel 2 .* has 2 channels \(0\.\.1\)$"):
        read_audio(stereo, 16000, channel=2)
    assert read_audio(stereo, 16000, channel=1).shape == (1600,)
