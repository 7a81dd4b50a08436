"""`gpuaudio batch`: exit codes and what it prints."""

from __future__ import annotations

import pyarrow.parquet as pq

from gpuaudio.batch.tables import RECORDINGS_PARQUET
from gpuaudio.cli import main


def test_all_succeed_exit_0_with_a_summary_line(archive, tmp_path, capsys):
    code = main(["batch", str(archive), "-o", str(tmp_path / "out"), "--no-progress",
                 "--workers", "1", "--threshold", "3.0"])
    captured = capsys.readouterr()
    assert code == 0
    assert "3 of 3 recording(s) analysed" in captured.out and captured.err == ""
    assert len(pq.read_table(tmp_path / "out" / RECORDINGS_PARQUET)) == 3
    code = main(["batch", str(archive), "-o", str(tmp_path / "out"), "--quiet", "--workers", "1",
                 "--threshold", "3.0"])
    assert code == 0 and capsys.readouterr().out == ""


def test_some_fail_exit_1_with_one_line_on_stderr(archive, corrupt, tmp_path, capsys):
    corrupt(archive / "broken.wav")
    code = main(["batch", str(archive), "-o", str(tmp_path / "out"), "--no-progress",
                 "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("gpuaudio: 1 of 4 recording(s) failed")


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    assert "missing: no such file or folder" in capsys.readouterr().err
    manifest = tmp_path / "m.csv"
    manifest.write_text("file\nx.wav\n")
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out")]) == 2
    assert "needs a 'path' column" in capsys.readouterr().err
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out"), "--backend", "f0"]) == 2
    assert "FEATURE=NAME" in capsys.readouterr().err
