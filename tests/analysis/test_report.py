"""The outputs: report.json schema and provenance, windows.csv, Praat TextGrid, PNG figure."""

from __future__ import annotations

import csv
import hashlib
import json
import sys

import numpy as np
import pytest
import soundfile as sf

from gpuaudio import OutputExistsError
from gpuaudio.analysis.report import (
    FIGURE_PNG,
    REPORT_JSON,
    SCHEMA,
    TEXTGRID,
    WINDOW_COLUMNS,
    WINDOWS_CSV,
    analyze_to_folder,
    render_figure,
)


@pytest.fixture(scope="module")
def analysed(make_fake_service, tones, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    audio = folder / "call.wav"
    sf.write(audio, tones(22050, 50, [(10, 18), (30, 38)]), 22050, subtype="PCM_16")
    out = folder / "out"
    report, written = analyze_to_folder(make_fake_service(), audio, out)
    return audio, out, report, written


def test_report_json(analysed):
    audio, out, _, written = analysed
    document = json.loads((out / REPORT_JSON).read_text())
    assert document["schema"] == SCHEMA
    assert document["input"]["sha256"] == hashlib.sha256(audio.read_bytes()).hexdigest()
    assert document["input"]["duration_s"] == pytest.approx(50.0)
    assert document["input"]["sample_rate"] == 22050
    assert document["analysis"]["n_windows"] == 50
    assert [(s["start_s"], s["end_s"]) for s in document["segments"]] == [(10, 18), (30, 38)]
    provenance = document["provenance"]
    assert provenance["features"]["f0"]["backend"] == "peak"
    assert provenance["features"]["f0"]["reason"].startswith("named in config")
    assert provenance["features"]["f0"]["choice"] == "peak"
    assert provenance["config"]["backends"]["f0"] == "peak"  # the config as given
    assert provenance["config"]["backends"]["stft"] == "auto"
    assert provenance["device"].startswith("CPU only")
    assert provenance["gpuaudio"] and provenance["libraries"]["numpy"] == np.__version__
    assert document["summary"]["n_segments"] == 2
    assert written["report_json"] == str(out / REPORT_JSON)
    assert not list(out.glob(".*partial"))


def test_windows_csv(analysed):
    _, out, report, _ = analysed
    with open(out / WINDOWS_CSV, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == WINDOW_COLUMNS
    assert len(rows) == len(report.windows) == 50
    assert [int(r["flagged"]) for r in rows] == report.windows.flagged.astype(int).tolist()
    levels = np.array([float(r["level_dbfs"]) for r in rows])
    np.testing.assert_allclose(levels, report.windows.level_dbfs, rtol=1e-5)
    # Paused windows of silence have no F0: an empty cell, not "nan".
    assert all(r["f0_median_hz"] != "nan" for r in rows)


def test_textgrid_opens_in_praat(analysed):
    parselmouth = pytest.importorskip("parselmouth")
    _, out, report, _ = analysed
    grid = parselmouth.read(str(out / TEXTGRID))
    tier = parselmouth.praat.call(grid, "Get number of intervals", 1)
    labelled = []
    for index in range(1, tier + 1):
        text = parselmouth.praat.call(grid, "Get label of interval", 1, index)
        start = parselmouth.praat.call(grid, "Get start time of interval", 1, index)
        end = parselmouth.praat.call(grid, "Get end time of interval", 1, index)
        if text:
            labelled.append((start, end))
    assert labelled == [(s.start_s, s.end_s) for s in report.segments]
    assert parselmouth.praat.call(grid, "Get end time") == pytest.approx(report.duration_s)


def test_figure_is_a_png(analysed):
    pytest.importorskip("matplotlib")
    _, out, _, written = analysed
    assert (out / FIGURE_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written["figure"] == str(out / FIGURE_PNG)


def test_figure_skipped_without_matplotlib(analysed, monkeypatch):
    _, _, report, _ = analysed
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    png, reason = render_figure(report, title="x")
    assert png is None and "gpuaudio[report]" in reason


def test_never_overwrites_without_force(fake_service, tones, tmp_path):
    audio = tmp_path / "short.wav"
    sf.write(audio, tones(16000, 12, []), 16000)
    out = tmp_path / "out"
    out.mkdir()
    (out / WINDOWS_CSV).write_text("an analyst's earlier result")
    with pytest.raises(OutputExistsError, match="--force"):
        analyze_to_folder(fake_service, audio, out)
    assert (out / WINDOWS_CSV).read_text() == "an analyst's earlier result"
    assert not (out / REPORT_JSON).exists()
    analyze_to_folder(fake_service, audio, out, force=True)
    assert (out / WINDOWS_CSV).read_text().startswith("start_s,")


def test_never_overwrites_another_file_where_the_recording_copy_goes(
    fake_service, tones, tmp_path
):
    audio = tmp_path / "call.wav"
    sf.write(audio, tones(16000, 12, []), 16000)
    out = tmp_path / "out"
    out.mkdir()
    (out / "call.wav").write_bytes(b"an analyst's own recording")
    with pytest.raises(OutputExistsError, match=r"call\.wav"):
        analyze_to_folder(fake_service, audio, out)
    assert (out / "call.wav").read_bytes() == b"an analyst's own recording"
    analyze_to_folder(fake_service, audio, out, html=False)  # no page: no copy, nothing at risk
    assert (out / "call.wav").read_bytes() == b"an analyst's own recording"
    # The recording itself in its output folder is no conflict: nothing to copy.
    inside = tmp_path / "call"
    inside.mkdir()
    sf.write(inside / "call.wav", tones(16000, 12, []), 16000)
    analyze_to_folder(fake_service, inside / "call.wav", inside)
    assert (inside / REPORT_JSON).exists()


def test_figure_footer_ties_the_figure_to_its_recording(analysed):
    from gpuaudio import __version__
    from gpuaudio.analysis.report import figure_footer

    _, _, report, _ = analysed
    footer = figure_footer(report, name="call.wav", sha256="ab" * 32)
    assert footer.startswith("call.wav · SHA-256 abababababababab…")
    assert f"gpuaudio {__version__}" in footer
    f0 = report.provenance["f0"]
    assert f"F0 {f0['backend']} on {f0['device']}" in footer
    assert f"{len(report.segments)} segment(s)" in footer


def test_figure_axes_ignore_octave_spikes_and_never_zoom_into_silence():
    from gpuaudio.analysis.report import FIGURE_LEVEL_SPAN_DB, robust_limits

    f0 = np.full(1000, 150.0)
    f0[::100] = 600.0  # 1% octave-and-more spikes
    low, high = robust_limits(f0, min_span=2.0, log=True)
    assert high < 600.0 and low <= 150.0 <= high and high / low >= 2.0
    dither = -96.0 + np.random.default_rng(0).normal(0, 0.5, 500)  # dithered silence
    low, high = robust_limits(dither, min_span=FIGURE_LEVEL_SPAN_DB)
    assert high - low == pytest.approx(FIGURE_LEVEL_SPAN_DB)


def test_figure_time_axis_is_a_clock():
    from gpuaudio.analysis.escalation import clock

    assert (clock(75.4), clock(3725.0)) == ("1:15", "1:02:05")
