"""run_batch in this process (one local worker): outputs, tables, resume and faults."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

import gpuaudio.analysis.report as report_module
from gpuaudio.analysis.escalation import EscalationParams
from gpuaudio.analysis.report import OUTPUT_NAMES, REPORT_JSON
from gpuaudio.batch import run_batch
from gpuaudio.batch.run import make_engine
from gpuaudio.batch.status import STATUS_JSON
from gpuaudio.batch.tables import (
    RECORDINGS_CSV,
    RECORDINGS_PARQUET,
    SEGMENTS_PARQUET,
    WINDOWS_PARQUET,
    recordings_schema,
    segments_schema,
    windows_schema,
)
from gpuaudio.config import load_config
from gpuaudio.device import DeviceInfo, GpuInfo
from gpuaudio.errors import ConfigError, OutputWriteError


def _run(inputs, out, **options):
    return run_batch(inputs, out, workers=1, progress=False, **options)


def _visible(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_archive_with_a_corrupt_file_gives_outputs_tables_and_a_failure(
    archive, corrupt, tmp_path
):
    corrupt(archive / "broken.wav")
    out = tmp_path / "out"
    summary = _run([archive], out, windows=True)
    assert (summary.total, summary.ok, summary.failed, summary.reused) == (4, 3, 1, 0)
    assert summary.exit_code == 1
    assert summary.failures[0][0] == "broken" and "cannot decode" in summary.failures[0][1]
    assert "1 of 4 recording(s) failed" in summary.line()
    for name in ("site1__call", "site2__call", "talk"):
        assert set(OUTPUT_NAMES) | {STATUS_JSON} <= set(_visible(out / name))
        status = json.loads((out / name / STATUS_JSON).read_text())
        assert status["status"] == "ok" and len(status["sha256"]) == 64
    assert _visible(out / "broken") == [STATUS_JSON]  # no report, nothing half-written

    recordings = pq.read_table(out / RECORDINGS_PARQUET)
    assert recordings.schema.equals(recordings_schema())
    rows = recordings.to_pylist()
    assert [row["id"] for row in rows] == ["broken", "site1__call", "site2__call", "talk"]
    by_id = {row["id"]: row for row in rows}
    assert by_id["broken"]["status"] == "failed" and by_id["broken"]["duration_s"] is None
    for name in ("site1__call", "site2__call", "talk"):
        row = by_id[name]
        assert row["status"] == "ok" and row["error"] is None
        assert row["duration_s"] == pytest.approx(12.0)
        assert row["backend"] and row["device"] and row["baseline_f0_median_hz"] > 50
    # the three speakers' baselines differ (110, 140 and 200 Hz)
    f0s = sorted(by_id[n]["baseline_f0_median_hz"] for n in ("site1__call", "site2__call", "talk"))
    assert f0s[0] < 125 < f0s[1] < 160 < f0s[2]

    with open(out / RECORDINGS_CSV, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["id"] for row in table] == [row["id"] for row in rows]
    assert table[0]["error"].startswith(str(archive / "broken.wav"))

    assert pq.read_table(out / SEGMENTS_PARQUET).schema.equals(segments_schema())
    windows = pq.read_table(out / WINDOWS_PARQUET)
    assert windows.schema.equals(windows_schema())
    assert windows.num_rows == 3 * 12
    assert sorted(set(windows.column("id").to_pylist())) == ["site1__call", "site2__call", "talk"]


def test_segments_table_holds_each_reports_segments(tmp_path):
    from gpuaudio.evaluation.synth import demo_call

    audio, _ = demo_call(sr=16000)
    sf.write(tmp_path / "demo.wav", audio, 16000)
    summary = _run([tmp_path / "demo.wav"], tmp_path / "out")
    assert summary.exit_code == 0
    segments = pq.read_table(tmp_path / "out" / SEGMENTS_PARQUET).to_pylist()
    report = json.loads((tmp_path / "out" / "demo" / REPORT_JSON).read_text())
    assert len(segments) == len(report["segments"]) >= 1
    for index, (row, segment) in enumerate(zip(segments, report["segments"], strict=True)):
        assert row["id"] == "demo" and row["segment"] == index
        assert row["start_s"] == segment["start_s"] and row["drivers"] == segment["drivers"]
    recordings = pq.read_table(tmp_path / "out" / RECORDINGS_PARQUET).to_pylist()
    assert recordings[0]["n_segments"] == len(segments)
    assert recordings[0]["escalated_s"] == pytest.approx(sum(s["duration_s"] for s in segments))


def test_rerun_resumes_retry_failed_reruns_failures_force_reruns_all(archive, corrupt, tmp_path):
    corrupt(archive / "broken.wav")
    out = tmp_path / "out"
    _run([archive], out)
    first = pq.read_table(out / RECORDINGS_PARQUET).to_pylist()

    resumed = _run([archive], out)
    assert (resumed.reused, resumed.ok, resumed.failed, resumed.audio_s) == (4, 3, 1, 0.0)
    assert resumed.line().startswith(
        "1 of 4 recording(s) failed; 3 of 4 recording(s) analysed (4 result(s) taken from an "
        "earlier run), no audio to analyse ("
    )
    assert pq.read_table(out / RECORDINGS_PARQUET).to_pylist() == first

    retried = _run([archive], out, retry_failed=True)
    assert (retried.reused, retried.failed) == (3, 1)

    forced = _run([archive], out, force=True)
    assert forced.reused == 0 and forced.audio_s == pytest.approx(36.0)

    sf.write(archive / "broken.wav", sf.read(archive / "talk.flac")[0], 16000)  # repaired
    shutil.copy(archive / "site1" / "call.wav", archive / "site2" / "call.wav")  # changed
    changed = _run([archive], out)
    assert (changed.reused, changed.ok, changed.failed) == (2, 4, 0)
    assert changed.exit_code == 0

    other = _run([archive], out, params=EscalationParams(threshold=3.5))
    assert other.reused == 0  # other settings: another config hash


def test_an_output_folder_inside_the_archive_is_not_read_back_as_input(archive):
    (archive / "site2" / "call.wav").unlink()
    out = archive / "results"
    first = _run([archive], out, copy_audio=True)  # a copy of each recording in results/
    again = _run([archive], out, copy_audio=True)
    assert (first.total, again.total, again.reused) == (2, 2, 2)
    assert _visible(out).count("site1__call") == 1 and "results__talk" not in _visible(out)


def test_the_config_asks_for_a_copy_of_each_recording_beside_its_page(archive, tmp_path):
    plain = _run([archive / "talk.flac"], tmp_path / "plain")
    assert plain.ok == 1 and not (tmp_path / "plain" / "talk" / "talk.flac").exists()
    copied = _run([archive / "talk.flac"], tmp_path / "copied",
                  config={"batch": {"copy_audio": True}})
    assert copied.ok == 1
    folder = tmp_path / "copied" / "talk"
    assert (folder / "talk.flac").read_bytes() == (archive / "talk.flac").read_bytes()
    assert json.loads((folder / REPORT_JSON).read_text())["outputs"]["audio"] == "talk.flac"


def test_manifest_columns_and_channels_reach_the_tables(stereo, tmp_path):
    manifest = tmp_path / "calls.csv"
    manifest.write_text(
        "path,id,channel,case\n"
        f"{stereo.name},caller,0,A-17\n"
        f"{stereo.name},callee,1,A-17\n"
    )
    _run([manifest], tmp_path / "out")
    rows = pq.read_table(tmp_path / "out" / RECORDINGS_PARQUET).to_pylist()
    assert [(r["id"], r["channel"], r["case"]) for r in rows] == [
        ("caller", 0, "A-17"), ("callee", 1, "A-17")
    ]
    assert rows[0]["config_hash"] != rows[1]["config_hash"]
    assert rows[0]["baseline_f0_median_hz"] < 125 < 160 < rows[1]["baseline_f0_median_hz"]
    assert pq.read_table(tmp_path / "out" / RECORDINGS_PARQUET).schema.field("case").type == (
        pa.string()
    )


def test_disk_full_fails_that_recording_only_and_writes_nothing_half(
    archive, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    victim = out / "site2__call"
    real_fsync = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(victim)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    summary = _run([archive], out)
    assert (summary.ok, summary.failed) == (2, 1)
    assert summary.failures[0][0] == "site2__call"
    assert "No space left on device" in summary.failures[0][1]
    assert not victim.exists() or _visible(victim) == []  # no report, no staging, no status
    monkeypatch.setattr(os, "fsync", real_fsync)
    again = _run([archive], out)
    assert (again.reused, again.ok, again.failed) == (2, 3, 0)


def test_a_recording_that_fails_on_a_rerun_keeps_no_report_of_its_earlier_file(
    archive, corrupt, tmp_path
):
    out, talk = tmp_path / "out", archive / "talk.flac"
    assert _run([talk], out, copy_audio=True).ok == 1
    assert "talk.flac" in _visible(out / "talk")
    corrupt(talk)  # replaced by a file that cannot be decoded
    again = _run([talk], out, copy_audio=True)
    assert (again.reused, again.failed) == (0, 1)
    assert _visible(out / "talk") == [STATUS_JSON]  # no report, figure, page nor copy of before
    assert 'href="talk/report.html"' not in (out / "index.html").read_text()


def test_a_failed_row_links_no_report_page(archive, tmp_path, monkeypatch):
    """A report written whose status.json could not be: the row is failed, its page is not
    linked (the next run redoes it)."""
    import gpuaudio.batch.task as task_module

    real = task_module.write_atomic

    def no_status(path, data):
        if path.name == STATUS_JSON:
            raise OSError(errno.EACCES, "Permission denied")
        real(path, data)

    monkeypatch.setattr(task_module, "write_atomic", no_status)
    out = tmp_path / "out"
    summary = _run([archive / "talk.flac"], out)
    assert summary.failed == 1 and "cannot write status.json" in summary.failures[0][1]
    assert (out / "talk" / "report.html").is_file()  # this run's, but not a finished result
    assert 'href="talk/report.html"' not in (out / "index.html").read_text()


def test_entries_that_are_not_readable_files_are_failed_rows_not_a_hang(tmp_path):
    archive = tmp_path / "arch"
    archive.mkdir()
    os.mkfifo(archive / "fifo.wav")
    (archive / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    with _opened_for_readers(archive / "fifo.wav"):  # else a reader waits for a writer forever
        summary = _run([archive], tmp_path / "out")
    failures = dict(summary.failures)
    assert (summary.total, summary.failed) == (2, 2)
    assert "fifo.wav: not a regular file (a FIFO" in failures["fifo"]
    assert "dangling.wav: cannot read the file (a link to a missing file" in failures["dangling"]


@contextlib.contextmanager
def _opened_for_readers(fifo: Path) -> Iterator[None]:
    """Opens and closes `fifo` for writing whenever a reader waits on it (it then reads an
    empty file), until the block ends."""
    done = threading.Event()

    def serve() -> None:
        while not done.wait(0.05):
            with contextlib.suppress(OSError):  # ENXIO: no reader
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def test_an_output_folder_that_cannot_be_written_is_refused_before_analysing(
    archive, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    out.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != out and real(path, mode))
    monkeypatch.setattr(report_module, "analyze_to_folder", pytest.fail)
    with pytest.raises(OutputWriteError, match=f"{out} is read-only"):
        _run([archive], out)
    assert _visible(out) == []


def test_tables_that_cannot_be_written_are_an_output_write_error(archive, tmp_path, monkeypatch):
    def refused(table, where):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(pq, "write_table", refused)
    with pytest.raises(OutputWriteError, match=r"recordings\.parquet: Operation not permitted"):
        _run([archive / "talk.flac"], tmp_path / "out")


def test_ctrl_c_keeps_finished_results_and_the_next_run_resumes(archive, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = report_module.analyze_to_folder
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(report_module, "analyze_to_folder", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run([archive], out)
    rows = pq.read_table(out / RECORDINGS_PARQUET).to_pylist()
    assert [row["id"] for row in rows] == ["site1__call"]
    assert not (out / "site2__call" / REPORT_JSON).exists()
    assert not (out / "site2__call" / STATUS_JSON).exists()

    # what a worker killed while writing leaves: a hidden staging folder, removed by the rerun
    stale = out / "site2__call" / ".gpuaudio-partial-killed"
    stale.mkdir(parents=True)
    (stale / REPORT_JSON).write_text("{")
    monkeypatch.setattr(report_module, "analyze_to_folder", real)
    resumed = _run([archive], out)
    assert (resumed.reused, resumed.ok) == (1, 3)
    assert len(pq.read_table(out / RECORDINGS_PARQUET)) == 3
    assert not stale.exists() and (out / "site2__call" / REPORT_JSON).is_file()


def test_engine_choice_and_a_missing_dask(monkeypatch, archive, tmp_path):
    config = load_config({"batch": {"engine": "local", "workers": 3, "retries": 1}})
    engine = make_engine("local", config)
    assert (engine.name, engine.workers, engine.retries) == ("local", 3, 1)
    assert make_engine("local", config, workers=1).workers == 1
    with pytest.raises(ConfigError, match="at least one worker, got 0"):  # not the default
        make_engine("local", config, workers=0)
    import gpuaudio.device

    gpus = tuple(GpuInfo(i, "Fake GPU", (9, 0), 80 << 30, 70 << 30) for i in range(2))
    monkeypatch.setattr(gpuaudio.device, "probe", lambda: DeviceInfo(True, "2.x", True, "12", gpus))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert make_engine("local", load_config({"batch": {"workers": 2}})).pins == ["0", "1"]
    named = load_config({"device": "cuda:1", "batch": {"workers": 2}})
    assert make_engine("local", named).pins == [None, None]  # every worker on the named GPU
    with pytest.raises(ConfigError, match="choose one of local, dask"):
        make_engine("ray", config)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name)
    )
    with pytest.raises(ConfigError, match=r"pip install gpuaudio\[dask\]"):
        make_engine("dask", config)
    with pytest.raises(ConfigError, match=r"pip install gpuaudio\[dask\]"):  # from [batch]
        run_batch([archive], tmp_path / "out", config={"batch": {"engine": "dask"}})


def test_the_engine_gets_the_largest_files_first_and_the_tables_keep_the_input_order(tmp_path):
    from gpuaudio.batch.inputs import WorkItem
    from gpuaudio.batch.run import longest_first

    for name, size in (("a.wav", 10), ("b.wav", 30), ("c.wav", 20)):
        (tmp_path / name).write_bytes(bytes(size))
    items = [WorkItem(str(tmp_path / n), n[0]) for n in ("a.wav", "missing.wav", "b.wav", "c.wav")]
    assert [item.id for item in longest_first(items)] == ["b", "c", "a", "m"]


def test_progress_on_a_plain_stderr_is_lines_with_audio_speed_and_failures(
    archive, corrupt, tmp_path, capsys, monkeypatch
):
    """stderr not a terminal: the shared display's plain lines (here at every recording), no
    carriage returns; the last one counts every recording and the failure."""
    import gpuaudio.progress

    monkeypatch.setattr(gpuaudio.progress, "LINE_INTERVAL_S", 0.0)
    corrupt(archive / "broken.wav")
    summary = run_batch([archive], tmp_path / "out", workers=1, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("gpuaudio: batch")]
    assert summary.total == 4 and summary.failed == 1
    assert lines and "4/4 rec" in lines[-1]
    assert "h audio" in lines[-1] and "x real time" in lines[-1] and "1 failed" in lines[-1]


def test_batch_resources_are_for_the_dask_engine_and_positive():
    config = load_config({"batch": {"resources": {"GPU": 1}}})
    assert config.batch.resources == {"GPU": 1.0}
    with pytest.raises(ConfigError, match='need engine = "dask"'):
        make_engine("local", config)
    with pytest.raises(ConfigError, match="resources"):
        load_config({"batch": {"resources": {"GPU": 0}}})
