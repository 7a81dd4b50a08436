"""benchmarks/escalation_real/council_check.py: the council clips are read from the wheel in
the cache without pip, each member's clips make one call in meeting and time order at one
RMS, a clip that is not 16-kHz mono is refused, the phone copies are the set's chains, and
the members become a sources folder that build_set reads."""

from __future__ import annotations

import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

HERE = Path(__file__).resolve().parents[2] / "benchmarks" / "escalation_real"
SR = 16000


@pytest.fixture(scope="module")
def council():  # type: ignore[no-untyped-def]
    path = HERE / "council_check.py"
    spec = importlib.util.spec_from_file_location("escalation_real_council", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _clip(seconds: float, level: float, hz: float, sr: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return level * np.sin(2 * np.pi * hz * t)


def _wav(clip: np.ndarray, sr: int = SR) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, clip, sr, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def _wheel(cache: Path, clips: dict[str, bytes]) -> None:
    """A stand-in for the speakerbox wheel in the download cache, holding `clips`."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        for name, data in clips.items():
            archive.writestr(name, data)
    folder = cache / "downloads" / "speakerbox-1.2.0"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "speakerbox-1.2.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("speakerbox/tests/data/diarized.zip", inner.getvalue())


def test_member_calls_in_meeting_and_time_order_at_one_level(council, tmp_path):
    _wheel(tmp_path, {
        "m2/ann/5000-6000.wav": _wav(_clip(1.0, 0.3, 300.0)),
        "m1/ann/9000-9500.wav": _wav(_clip(0.5, 0.01, 200.0)),
        "m1/ann/1000-3000.wav": _wav(_clip(2.0, 0.2, 100.0)),
        "m1/bob/0-1000.wav": _wav(_clip(1.0, 0.1, 150.0)),
    })
    root = council.fetch_clips(tmp_path)
    calls = council.member_calls(root)
    assert sorted(calls) == ["ann", "bob"]
    ann = calls["ann"]
    gap = round(council.GAP_S * SR)
    assert ann.size == round(3.5 * SR) + 3 * gap
    pieces = [(0, 2 * SR), (2 * SR + gap, round(2.5 * SR) + gap),
              (round(2.5 * SR) + 2 * gap, round(3.5 * SR) + 2 * gap)]
    for (start, stop), hz in zip(pieces, (100.0, 200.0, 300.0), strict=True):
        piece = ann[start:stop]
        assert np.sqrt(np.mean(piece**2)) == pytest.approx(council.CLIP_RMS, rel=1e-6)
        peak_hz = np.argmax(np.abs(np.fft.rfft(piece))) * SR / piece.size
        assert peak_hz == pytest.approx(hz, abs=2.0)
        assert not ann[stop : stop + gap].any()
    # unpacked once: a second call reads the folder, not the wheel
    (tmp_path / "downloads" / "speakerbox-1.2.0" / "speakerbox-1.2.0-py3-none-any.whl").unlink()
    assert council.fetch_clips(tmp_path) == root


def test_a_clip_at_another_rate_is_refused(council, tmp_path):
    _wheel(tmp_path, {"m1/ann/0-1000.wav": _wav(_clip(1.0, 0.1, 150.0, 8000), 8000)})
    with pytest.raises(ValueError, match="16-kHz mono"):
        council.member_calls(council.fetch_clips(tmp_path))


def test_the_phone_copies_are_the_set_s_chains(council):
    rng = np.random.default_rng(0)
    clean = rng.standard_normal(4 * SR) * 0.05
    out = council.copies(clean, seed=3)
    assert list(out) == list(council.CONDITIONS)
    assert out["clean"][1] == SR and np.allclose(out["clean"][0], clean, atol=1e-7)
    for condition in council.CONDITIONS[1:]:
        audio, sr = out[condition]
        assert sr == 8000 and audio.size == 2 * SR and audio.dtype == np.float32
    assert not np.allclose(out["telephone"][0], out["gsm"][0])  # another coder
    again = council.copies(clean, seed=3)
    assert np.array_equal(again["agc"][0], out["agc"][0])  # the same noise every time


def test_run_scores_every_copy_along_the_curve(council, monkeypatch, tmp_path):
    """One member (84 s of a committed real voice of the set) through `run`: every copy is
    analysed, the calm false alarms come per condition and per threshold of the curve, the
    curve's point at the default threshold is the summary's, and the curve's lowest
    threshold flags more of this calm speech than its highest."""
    speech = np.concatenate([
        sf.read(HERE / "sources" / f"ast-{language}-allison.flac", dtype="float64")[0]
        for language in ("en", "es")
    ])
    monkeypatch.setattr(council, "fetch_clips", lambda cache: cache)
    monkeypatch.setattr(council, "member_calls", lambda root: {"allison": speech})
    result = council.run(tmp_path)
    assert list(result["summary"]) == list(council.CONDITIONS)
    curve = result["calm_false_alarms_s_per_hour_by_threshold"]
    for condition, scores in result["summary"].items():
        assert scores["calm_hours"] == pytest.approx(speech.size / SR / 3600, rel=0.01)
        points = curve[condition]
        assert list(points) == list(council.evaluate.CURVE)
        assert points[result["threshold"]] == scores["calm_found_s_per_hour"]
        assert points[0.5] > points[4.0]
    for segment in result["segments"]:
        assert segment["member"] == "allison" and segment["end_s"] > segment["start_s"]


def test_further_recordings_become_one_mono_16_khz_call_each(council, tmp_path):
    left, right = _clip(2.0, 0.4, 200.0, 8000), _clip(2.0, 0.2, 200.0, 8000)
    sf.write(tmp_path / "briefing.wav", np.stack([left, right], axis=1), 8000)
    sf.write(tmp_path / "talk.flac", _clip(1.0, 0.1, 300.0), SR)
    calls = council.file_calls([tmp_path / "briefing.wav", tmp_path / "talk.flac"])
    assert sorted(calls) == ["briefing", "talk"]
    briefing = calls["briefing"]
    assert briefing.size == 2 * SR
    assert np.sqrt(np.mean(briefing**2)) == pytest.approx(council.CLIP_RMS, rel=1e-6)
    peak_hz = np.argmax(np.abs(np.fft.rfft(briefing))) * SR / briefing.size
    assert peak_hz == pytest.approx(200.0, abs=1.0)


def test_the_members_become_a_sources_folder_build_set_reads(council, tmp_path):
    """Two members' clips (one cut at a pause, one too short to keep) as a sources folder:
    speakers by split and sex, each phrase at its row's place in the speaker's FLAC."""
    pause = np.zeros(SR // 2)
    first, second = _clip(3.0, 0.2, 120.0), _clip(4.0, 0.2, 180.0)
    _wheel(tmp_path / "cache", {
        "m1/lewis/0-7500.wav": _wav(np.concatenate([first, pause, second])),
        "m1/lewis/9000-9500.wav": _wav(_clip(0.5, 0.2, 150.0)),
        "m2/morales/0-2000.wav": _wav(_clip(2.0, 0.1, 220.0)),
    })
    out = tmp_path / "sources"
    council.write_sources(council.fetch_clips(tmp_path / "cache"), out)
    speakers = {row["speaker"]: row for row in council.build_set.read_csv(out / "speakers.csv")}
    assert sorted(speakers) == ["council-lewis", "council-morales"]
    assert (speakers["council-lewis"]["sex"], speakers["council-lewis"]["split"]) == ("M", "tune")
    assert (speakers["council-morales"]["sex"], speakers["council-morales"]["split"]) == (
        "F", "test")
    assert speakers["council-lewis"]["real"] == "True"
    rows = [r for r in council.build_set.read_csv(out / "utterances.csv")
            if r["speaker"] == "council-lewis"]
    assert len(rows) == 2 and all("m1/lewis/0-7500.wav" in r["origin"] for r in rows)
    audio, sr = sf.read(out / "council-lewis.flac", dtype="float64")
    assert sr == SR
    for row, hz in zip(rows, (120.0, 180.0), strict=True):
        piece = audio[round(float(row["start_s"]) * SR) : round(float(row["end_s"]) * SR)]
        peak_hz = np.argmax(np.abs(np.fft.rfft(piece))) * SR / piece.size
        assert peak_hz == pytest.approx(hz, abs=2.0)
    assert float(speakers["council-lewis"]["seconds"]) == pytest.approx(7.5, abs=0.6)
