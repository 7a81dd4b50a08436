"""`gpuaudio analyze` and `gpuaudio demo` with the real backends this machine resolves."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from gpuaudio.analysis.report import OUTPUT_NAMES, REPORT_JSON
from gpuaudio.cli import main
from gpuaudio.evaluation.synth import synthesize_speech

pytestmark = pytest.mark.usefixtures("isolated")  # an empty folder, no GPUAUDIO_* settings


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory):
    audio, _ = synthesize_speech(12.0, sr=22050, seed=4)
    path = tmp_path_factory.mktemp("cli") / "speech.flac"
    sf.write(path, np.stack([audio, audio], axis=1), 22050)
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gpuaudio: error: ")
    assert "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.wav", None, "no such file"),
        ("empty.wav", b"", "empty"),
        ("corrupt.flac", b"fLaC" + bytes(range(256)) * 4, "cannot decode"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["analyze", str(path), "-o", str(tmp_path / "out"), "--quiet"]) == 2
    assert expected in _one_error_line(capsys)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json"))


def test_analyze_writes_outputs_and_summary(speech_file, tmp_path, capsys):
    missing = tmp_path / "gone.wav"
    code = main(["analyze", str(speech_file), str(missing), "-o", str(tmp_path / "out")])
    assert code == 2  # one of two inputs failed
    captured = capsys.readouterr()
    assert "gone.wav: no such file" in captured.err
    assert "Analysed 1 of 2 file(s)" in captured.out
    assert "F0 by acpitch (gpuaudio-librosa" in captured.out  # the report's, with its reason:
    assert "chosen because: the analysis' F0; " in captured.out  # not the service's wording
    folder = tmp_path / "out" / "speech"
    for name in OUTPUT_NAMES:
        assert (folder / name).is_file(), name
    document = json.loads((folder / REPORT_JSON).read_text())
    assert document["input"]["channels"] == 2
    assert document["input"]["channel_policy"] == "mean of all channels"
    assert document["analysis"]["n_windows"] == 12


def test_existing_output_needs_force(speech_file, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["analyze", str(speech_file), "-o", out, "--quiet"]) == 0
    assert capsys.readouterr().out == ""  # --quiet
    assert main(["analyze", str(speech_file), "-o", out, "--quiet"]) == 2
    assert "--force" in _one_error_line(capsys)
    assert main(["analyze", str(speech_file), "-o", out, "--quiet", "--force"]) == 0


@pytest.mark.parametrize("verb", ["analyze", "monitor"])
def test_a_foreign_file_where_the_recording_copy_goes_needs_force(
    verb, speech_file, tmp_path, capsys
):
    folder = tmp_path / "out" / speech_file.stem
    folder.mkdir(parents=True)
    (folder / speech_file.name).write_bytes(b"not the recording")
    args = [verb, str(speech_file), "-o", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 2
    assert f"{speech_file.name}; pass --force" in _one_error_line(capsys)
    assert (folder / speech_file.name).read_bytes() == b"not the recording"
    assert not (folder / "report.json").exists()
    assert main([*args, "--force"]) == 0
    assert (folder / speech_file.name).read_bytes() == speech_file.read_bytes()


def test_backend_and_channel_options(speech_file, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["analyze", str(speech_file), "-o", str(out), "--quiet", "--channel", "1"]
    assert main([*args, "--backend", "f0=librosa", "--device", "cpu"]) == 0
    document = json.loads((out / "speech" / REPORT_JSON).read_text())
    assert document["provenance"]["features"]["f0"]["backend"] == "librosa"
    assert document["provenance"]["config"]["device"] == "cpu"
    assert document["input"]["channel_policy"] == "channel 1"
    assert main([*args, "--force", "--backend", "pitch=librosa"]) == 2
    assert "FEATURE=NAME" in _one_error_line(capsys)
    assert main([*args, "--force", "--backend", "f0=nosuchbackend"]) == 2
    assert "nosuchbackend" in _one_error_line(capsys)


def test_the_same_file_twice_is_refused(speech_file, tmp_path, capsys):
    assert main(["analyze", str(speech_file), str(speech_file), "-o", str(tmp_path / "o")]) == 2
    assert "separate runs" in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()  # refused before anything was analysed


def test_demo_finds_the_known_escalations(tmp_path, capsys):
    folder = tmp_path / "demo"
    assert main(["demo", "-o", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "time recall" in out
    document = json.loads((folder / REPORT_JSON).read_text())
    from gpuaudio.evaluation.metrics import interval_scores
    from gpuaudio.evaluation.synth import demo_call

    _, truth = demo_call(sr=16000, seed=0)
    found = [(s["start_s"], s["end_s"]) for s in document["segments"]]
    scores = interval_scores(truth.escalations, found, duration_s=75.0)
    assert scores.detected == 2 and scores.false_alarms == 0
    assert scores.recall >= 0.9 and scores.precision >= 0.8
    assert (folder / "demo_call.wav").is_file()
    assert main(["demo", "-o", str(folder), "--quiet"]) == 2  # no overwrite without --force


def test_a_too_short_file_names_itself_and_the_cli_flag(tmp_path, capsys):
    short = tmp_path / "tiny.wav"
    sf.write(short, np.zeros(4000, dtype=np.float32), 16000)
    assert main(["analyze", str(short), "-o", str(tmp_path / "o"), "--window", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(short) in err[0] and "--window" in err[0]


def test_inputs_with_one_stem_get_a_folder_each(tmp_path):
    """call.wav and call.flac: call_wav/ and call_flac/; a/call.wav and b/call.wav: their parent
    folders added; the same file twice is refused before anything is analysed."""
    from gpuaudio.cli.analyze import output_folders
    from gpuaudio.errors import GpuAudioError

    assert output_folders(["x/call.wav", "x/call.flac", "x/other.wav"]) == [
        "call_wav", "call_flac", "other"
    ]
    assert output_folders(["a/call.wav", "b/call.wav"]) == ["a__call_wav", "b__call_wav"]
    # Folders that differ only in case are one folder on macOS and Windows.
    assert output_folders(["a/Call.wav", "b/call.wav"]) == ["a__Call_wav", "b__call_wav"]
    with pytest.raises(GpuAudioError, match="share the output folder"):
        output_folders(["a/call.wav", "a/call.wav"])


def test_analyze_writes_call_wav_and_call_flac_into_their_own_folders(tmp_path):
    audio, _ = synthesize_speech(12.0, sr=16000, seed=5)
    for name in ("call.wav", "call.flac"):
        sf.write(tmp_path / name, audio, 16000)
    files = [str(tmp_path / "call.wav"), str(tmp_path / "call.flac")]
    assert main(["analyze", *files, "-o", str(tmp_path / "out"), "--quiet", "--no-html"]) == 0
    for folder in ("call_wav", "call_flac"):
        report = json.loads((tmp_path / "out" / folder / REPORT_JSON).read_text())
        assert report["input"]["name"] == f"call.{folder.split('_')[1]}"


def test_a_file_name_cannot_forge_an_output_line_or_send_terminal_escapes(
    speech_file, tmp_path, capsys
):
    evil = tmp_path / "evil\nFAKE.wav: 9 escalation segment(s)\x1b[31mRED.wav"
    evil.write_bytes(speech_file.read_bytes())
    assert main(["analyze", str(evil), "-o", str(tmp_path / "out"), "--no-html"]) == 0
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err
    assert not [line for line in captured.out.splitlines() if line.startswith("FAKE.wav")]
    assert "evil\\nFAKE.wav: 9 escalation segment(s)\\x1b[31mRED.wav: " in captured.out
    assert main(["analyze", str(tmp_path / "gone\x1b[2J.wav"), "-o", str(tmp_path / "o")]) == 2
    assert "gone\\x1b[2J.wav" in capsys.readouterr().err


def test_names_too_long_for_a_file_system_are_cut_and_stay_unique(tmp_path):
    from gpuaudio.analysis.report import safe_name
    from gpuaudio.cli.analyze import output_folders

    stem = "é" * 130  # 260 bytes in UTF-8, over the 255 a file name may have
    folders = output_folders([f"d1/{stem}.wav", f"d2/{stem}.wav"])
    assert len(set(folders)) == 2
    assert all(len(folder.encode()) <= 200 for folder in folders)
    assert safe_name("short") == "short" and safe_name(stem).startswith("é" * 95)
    (tmp_path / "out").mkdir()  # the folder can be made
    for folder in folders:
        (tmp_path / "out" / folder).mkdir()
