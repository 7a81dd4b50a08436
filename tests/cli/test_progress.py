"""Progress on long commands (issue 14 item 5): a bar on a terminal, plain lines otherwise,
nothing with --quiet; the analysis' progress callback; notices above the bar."""

from __future__ import annotations

import io
import logging
from dataclasses import asdict

import numpy as np
import pytest
import soundfile as sf

from gpuaudio import progress as progress_module
from gpuaudio.analysis.escalation import detect_escalation, detect_escalation_file
from gpuaudio.cli import main
from gpuaudio.evaluation.synth import synthesize_speech
from gpuaudio.progress import NOTICE_LOGGER, NoticeHandler, Progress
from gpuaudio.service import AudioFeatureService


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


pytestmark = pytest.mark.usefixtures("isolated")  # an empty folder, no GPUAUDIO_* settings


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory):
    audio, _ = synthesize_speech(30.0, sr=16000, seed=3)
    path = tmp_path_factory.mktemp("progress") / "call.wav"
    sf.write(path, audio, 16000)
    return path


# -- the display ---------------------------------------------------------------------------


def test_plain_lines_carry_audio_time_speed_and_eta():
    stream, clock = io.StringIO(), Clock()
    with Progress("call.wav", 600.0, stream=stream, interval_s=0, clock=clock) as bar:
        clock.now += 10
        bar.update(150.0, "F0 and level")
        clock.now += 10
        bar.update(300.0)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines == [
        "gpuaudio: call.wav: F0 and level, 25%, 2:30/10:00 audio, 15x real time, ETA 0:30",
        "gpuaudio: call.wav: F0 and level, 50%, 5:00/10:00 audio, 15x real time, ETA 0:20",
    ]


def test_plain_lines_are_periodic_with_a_last_one_at_close():
    stream, clock = io.StringIO(), Clock()
    bar = Progress("demo", 100.0, stream=stream, interval_s=10, clock=clock)
    for step in range(1, 6):  # updates 3 s apart: a line every 4th update at most
        clock.now += 3
        bar.update(10.0 * step)
    assert len(stream.getvalue().splitlines()) == 1
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "40%" in lines[0] and "50%" in lines[1]


def test_counts_in_items_and_never_goes_back():
    stream, clock = io.StringIO(), Clock()
    with Progress("bench", 4, unit="steps", stream=stream, interval_s=0, clock=clock) as bar:
        clock.now += 3
        bar.update(0, "synthesising")
        clock.now += 2
        bar.update(2, "stft: librosa")
        bar.update(1, note="1 failed")
    assert stream.getvalue().splitlines() == [
        "gpuaudio: bench: synthesising, 0%, 0/4 steps, 0:03 elapsed",
        "gpuaudio: bench: stft: librosa, 50%, 2/4 steps, ETA 0:05",
        "gpuaudio: bench: stft: librosa, 50%, 2/4 steps, ETA 0:05, 1 failed",
    ]


def test_a_terminal_gets_a_bar_redrawn_in_place_and_cleared():
    stream = Terminal()
    with Progress("call.wav", 60.0, stream=stream) as bar:
        bar.update(30.0, "F0 and level")
        bar.write("gpuaudio: a notice")
    text = stream.getvalue()
    assert "\r" in text and "call.wav" in text and "F0 and level" in text
    assert " 50%|" in text and "0:30/1:00 audio" in text
    assert "gpuaudio: a notice\n" in text
    assert text.endswith("\r")  # the bar is cleared, the line is free for what follows


def test_disabled_shows_nothing_but_written_lines():
    stream = Terminal()
    with Progress("call.wav", 60.0, stream=stream, enabled=False) as bar:
        bar.update(30.0, "F0 and level")
        bar.write("gpuaudio: error: x")
    assert stream.getvalue() == "gpuaudio: error: x\n"


def test_notices_go_above_the_open_bar_else_straight_out():
    stream, direct = Terminal(), io.StringIO()
    logger = logging.getLogger(NOTICE_LOGGER)
    handler = NoticeHandler(direct)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with Progress("call.wav", 60.0, stream=stream):
            logger.info("compiling F0 kernels, first run only, ~%d s", 25)
        logger.info("after")
    finally:
        logger.removeHandler(handler)
    assert "gpuaudio: compiling F0 kernels, first run only, ~25 s\n" in stream.getvalue()
    assert direct.getvalue() == "gpuaudio: after\n"


# -- the analysis' callback ----------------------------------------------------------------


def test_callback_advances_in_audio_time_to_the_total_without_changing_results(speech_file):
    service = AudioFeatureService()
    calls: list[tuple[str, float]] = []
    report, info = detect_escalation_file(
        service, speech_file, chunk_s=8.0, progress=lambda s, f: calls.append((s, f))
    )
    plain, _ = detect_escalation_file(service, speech_file, chunk_s=8.0)
    audio_s = [fraction * report.duration_s for _, fraction in calls]
    assert len(calls) >= 4  # one per 8-s chunk, then scoring
    assert audio_s == sorted(audio_s) and audio_s[0] == 0.0
    assert audio_s[-1] == report.duration_s == info.frames / info.sample_rate
    assert calls[-1][0] == "scoring"
    assert asdict(report.windows).keys() == asdict(plain.windows).keys()
    for name, values in asdict(report.windows).items():
        np.testing.assert_array_equal(values, asdict(plain.windows)[name], err_msg=name)
    assert report.segments == plain.segments and report.baseline == plain.baseline


def test_the_service_method_passes_progress_through_without_changing_results():
    audio, _ = synthesize_speech(20.0, sr=16000, seed=1)
    service = AudioFeatureService(config={"memory": {"chunk_seconds": 5.0}})
    calls: list[float] = []
    report = service.detect_emotional_escalation(
        audio, 16000, progress=lambda _stage, fraction: calls.append(fraction), threshold=2.0
    )
    assert len(calls) >= 4 and calls == sorted(calls) and calls[0] == 0.0 and calls[-1] == 1.0
    plain = detect_escalation(service, audio, 16000, report.params)
    np.testing.assert_array_equal(report.windows.score, plain.windows.score)
    assert report.params.threshold == 2.0 and report.segments == plain.segments


# -- the commands --------------------------------------------------------------------------


def _analyze(speech_file, tmp_path, *extra):
    return main(["analyze", str(speech_file), "-o", str(tmp_path / "out"), "--force", *extra])


def test_analyze_prints_plain_lines_when_stderr_is_not_a_terminal(
    speech_file, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(progress_module, "LINE_INTERVAL_S", 0.0)
    assert _analyze(speech_file, tmp_path) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("gpuaudio: call.wav:")]
    assert "\r" not in err
    assert lines and all("/0:30 audio" in line for line in lines)
    assert lines[-1].startswith("gpuaudio: call.wav: writing outputs, 100%, 0:30/0:30 audio")


def test_analyze_draws_a_bar_on_a_terminal_and_nothing_when_quiet(
    speech_file, tmp_path, capsys, monkeypatch
):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert _analyze(speech_file, tmp_path) == 0
    assert "\r" in terminal.getvalue() and "0:30/0:30 audio" in terminal.getvalue()
    capsys.readouterr()
    quiet = Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    assert _analyze(speech_file, tmp_path, "--quiet") == 0
    assert quiet.getvalue() == ""
    assert capsys.readouterr().out == ""


def test_several_files_count_across_files(speech_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "LINE_INTERVAL_S", 0.0)
    second = tmp_path / "second.wav"
    second.write_bytes(speech_file.read_bytes())
    assert main(["analyze", str(speech_file), str(second), "-o", str(tmp_path / "o")]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "audio" in line]
    assert any(line.startswith("gpuaudio: [1/2] call.wav 0:30/0:30:") for line in lines)
    assert lines[-1].startswith("gpuaudio: [2/2] second.wav 0:30/0:30: writing outputs, 100%, "
                                "1:00/1:00 audio")


def test_first_run_notice_once_above_the_bar_and_not_when_quiet(
    speech_file, tmp_path, monkeypatch
):
    """The compile condition injected: every kernel reads as uncached, and the analysis
    declares two kernels as an F0 plugin's import would."""
    jit = pytest.importorskip("gpuaudio_librosa._jit")
    from gpuaudio.analysis import escalation

    monkeypatch.setattr(jit, "is_cached", lambda _dispatcher: False)
    measure = escalation._measure

    def measure_after_declaring_kernels(*args, **kwargs):
        for _ in range(2):
            jit.cached_njit(nogil=True)(lambda x: x + 1)
        return measure(*args, **kwargs)

    monkeypatch.setattr(escalation, "_measure", measure_after_declaring_kernels)
    notice = "gpuaudio: compiling F0 kernels, first run only"
    for extra, expected in (((), 1), (("--quiet",), 0)):
        monkeypatch.setattr(jit, "_state", {"announced": False})
        terminal = Terminal()
        monkeypatch.setattr("sys.stderr", terminal)
        assert main(["analyze", str(speech_file), "-o", str(tmp_path / "o"), "--force",
                     *extra]) == 0
        assert terminal.getvalue().count(notice) == expected


def test_bench_steps_to_the_last_one(tmp_path, capsys):
    args = ["bench", "--features", "stft", "--minutes", "0.05", "--repeats", "1"]
    assert main(args) == 0
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith("gpuaudio: bench:")]
    assert "synthesising" in lines[0] and "0%" in lines[0]
    assert any("stft: librosa default on cpu" in line for line in lines)
    total = lines[-1].split(" steps")[0].rsplit("/", 1)[1]
    assert lines[-1].startswith("gpuaudio: bench: done, 100%, ")
    assert f"{total}/{total} steps" in lines[-1]
