"""`gpuaudio batch`: exit codes and what it prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq

from gpuaudio.batch.tables import RECORDINGS_PARQUET
from gpuaudio.cli import main


def test_all_succeed_exit_0_with_a_summary_line(archive, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["batch", str(archive), "-o", str(out), "--no-progress", "--workers", "1",
                 "--threshold", "3.0", "--no-html"])
    captured = capsys.readouterr()
    assert code == 0
    assert "3 of 3 recording(s) analysed, 0.01 h of audio in " in captured.out
    assert captured.err == ""
    assert len(pq.read_table(out / RECORDINGS_PARQUET)) == 3
    assert sorted(p.name for p in (out / "talk").iterdir() if p.suffix in (".html", ".flac")) == []
    assert "talk" in (out / "index.html").read_text()
    # the page wanted now: other outputs, so redone rather than taken from the earlier run
    code = main(["batch", str(archive), "-o", str(out), "--quiet", "--workers", "1",
                 "--threshold", "3.0"])
    assert code == 0 and capsys.readouterr().out == ""
    assert 'href="talk/report.html"' in (out / "index.html").read_text()
    # the page plays the archive's own file: an archive is not copied into its results
    assert not (out / "talk" / "talk.flac").exists()
    assert _audio_src(out / "talk") == "../../archive/talk.flac"
    assert (out / "talk" / _audio_src(out / "talk")).resolve() == archive / "talk.flac"
    assert "audio" not in json.loads((out / "talk" / "report.json").read_text())["outputs"]
    # --copy-audio: folders that stand alone, as `analyze` writes them (other outputs: redone)
    assert main(["batch", str(archive), "-o", str(out), "--quiet", "--workers", "1",
                 "--threshold", "3.0", "--copy-audio"]) == 0
    assert (out / "talk" / "talk.flac").read_bytes() == (archive / "talk.flac").read_bytes()
    assert _audio_src(out / "talk") == "talk.flac"


def _audio_src(folder: Path) -> str:
    """The src of the audio player in the folder's report.html."""
    found = re.search(r'<audio id="player"[^>]*src="([^"]+)"', (folder / "report.html").read_text())
    assert found is not None
    return found.group(1)


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
    (tmp_path / "x.wav").write_bytes(b"")
    assert main(["batch", str(tmp_path / "x.wav"), "-o", str(tmp_path / "out"),
                 "--workers", "0"]) == 2
    assert "at least one worker, got 0" in capsys.readouterr().err  # as [batch] workers = 0
    for page in ("--no-html", "--embed-audio"):
        assert main(["batch", str(manifest), "-o", str(tmp_path / "out"), "--copy-audio",
                     page]) == 2
        assert f"--copy-audio puts a copy of each recording beside report.html: drop {page}" in (
            capsys.readouterr().err
        )
