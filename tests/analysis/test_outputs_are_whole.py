"""Outputs are complete or absent, and never leave the output folder (issue 15 items 1-2)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gpuaudio import OutputWriteError
from gpuaudio.analysis import report as report_module
from gpuaudio.analysis.report import (
    OUTPUT_NAMES,
    REPORT_JSON,
    analyze_to_folder,
    output_folder_name,
)
from gpuaudio.cli import main

ROOT = Path(__file__).resolve().parents[2]
WHOLE = {*OUTPUT_NAMES, "call.wav"}
"""A complete set: the outputs and the copy of the recording beside report.html."""


@pytest.fixture
def call(tones, tmp_path):
    path = tmp_path / "call.wav"
    sf.write(path, tones(16000, 20, [(8, 14)]), 16000, subtype="PCM_16")
    return path


def _outputs(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


@pytest.mark.parametrize(
    ("name", "folder"),
    [("...wav", "recording"), ("..wav", "recording"), (".hidden.wav", "hidden"),
     ("a b;c$.wav", "a_b_c_"), ("x\\y.wav", "x_y"), ("call.v2.flac", "call.v2"),
     ("/abs/path/ok.wav", "ok")],
)
def test_output_folder_names_stay_inside(name, folder):
    assert output_folder_name(name) == folder
    assert Path("out", folder).resolve().parent == Path("out").resolve()


def test_hostile_file_names_write_inside_the_output_folder(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hostile = tmp_path / "in" / "...wav"
    hostile.parent.mkdir()
    hostile.write_bytes(call.read_bytes())
    out = tmp_path / "in" / "out"
    argv = ["analyze", str(hostile), "-o", str(out), "--quiet", "--backend", "f0=librosa"]
    assert main(argv) == 0
    assert (out / "recording" / REPORT_JSON).exists()
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["...wav", "out"]
    assert main(["monitor", str(hostile), "-o", str(out / "m"), "--quiet",
                 "--backend", "f0=librosa"]) == 0  # fmt: skip
    assert (out / "m" / "recording" / REPORT_JSON).exists()


def _fail_on(monkeypatch, nth: int, error: BaseException) -> None:
    """The `nth` output file written fails with `error` (disk full, Ctrl-C...)."""
    real_fsync = os.fsync
    count = {"n": 0}

    def fsync(fd: int) -> None:
        count["n"] += 1
        if count["n"] == nth:
            raise error
        real_fsync(fd)

    monkeypatch.setattr(report_module.os, "fsync", fsync)


@pytest.mark.parametrize("nth", [1, 2, 3, 4])
def test_disk_full_while_writing_leaves_nothing_and_a_rerun_works(
    fake_service, call, tmp_path, monkeypatch, nth
):
    out = tmp_path / "out"
    _fail_on(monkeypatch, nth, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OutputWriteError, match="No space left on device; no report was written"):
        analyze_to_folder(fake_service, call, out)
    assert _outputs(out) == set()  # no file, no staging folder
    monkeypatch.undo()
    analyze_to_folder(fake_service, call, out)  # no --force needed
    assert set(OUTPUT_NAMES) <= _outputs(out)


def test_an_interrupt_while_writing_leaves_nothing(fake_service, call, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _fail_on(monkeypatch, 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        analyze_to_folder(fake_service, call, out)
    assert _outputs(out) == set()


def test_a_failed_overwrite_keeps_the_earlier_report(fake_service, call, tmp_path, monkeypatch):
    out = tmp_path / "out"
    analyze_to_folder(fake_service, call, out)
    before = {name: (out / name).read_bytes() for name in OUTPUT_NAMES}
    _fail_on(monkeypatch, 3, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OutputWriteError):
        analyze_to_folder(fake_service, call, out, force=True)
    assert {name: (out / name).read_bytes() for name in OUTPUT_NAMES} == before
    assert _outputs(out) == WHOLE


def test_an_unwritable_output_is_refused_before_the_analysis(fake_service, call, tmp_path,
                                                              monkeypatch, capsys):  # fmt: skip
    def never(*args, **kwargs):
        raise AssertionError("the analysis ran before the output folder was checked")

    monkeypatch.setattr("gpuaudio.analysis.escalation.detect_escalation_file", never)
    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    with pytest.raises(OutputWriteError, match="is a file"):
        analyze_to_folder(fake_service, call, a_file / "call")
    assert main(["analyze", str(call), "-o", str(a_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file" in err[0]


def test_sigterm_at_any_moment_leaves_all_or_nothing(call, tmp_path):
    """`gpuaudio analyze` killed by SIGTERM at spread-out moments: each time the folder holds
    the whole set or nothing (no staging folder), and a rerun without --force succeeds."""
    argv = [sys.executable, "-m", "gpuaudio.cli", "analyze", str(call), "-o", "OUT",
            "--quiet", "--backend", "f0=librosa", "--device", "cpu"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT / "core"))
    started = time.perf_counter()
    subprocess.run([a.replace("OUT", str(tmp_path / "t")) for a in argv], env=env, check=True)
    whole = time.perf_counter() - started
    outcomes = set()
    for k, fraction in enumerate(np.linspace(0.3, 1.0, 6)):
        out = tmp_path / f"run{k}"
        process = subprocess.Popen([a.replace("OUT", str(out)) for a in argv], env=env,
                                   stderr=subprocess.PIPE)  # fmt: skip
        time.sleep(whole * fraction)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
        folder = out / "call"
        names = _outputs(folder)
        assert names in (set(), WHOLE), (process.returncode, names, err)
        outcomes.add(process.returncode)  # -15: killed before or after main() held SIGTERM
        if not names:
            rerun = subprocess.run([a.replace("OUT", str(out)) for a in argv], env=env)
            assert rerun.returncode == 0 and _outputs(folder) == WHOLE
    assert 143 in outcomes  # at least one run was really stopped by the signal
