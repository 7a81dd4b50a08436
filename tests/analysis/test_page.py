"""report.html and index.html (issue 17): escaping, numbering, size, offline, the audio copy.

The pages' behaviour in a real browser is tested in tests/browser.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import soundfile as sf

from gpuaudio import InvalidParameterError
from gpuaudio.analysis.escalation import (
    Baseline,
    EscalationParams,
    EscalationReport,
    F0Contour,
    WindowFeatures,
)
from gpuaudio.analysis.page import (
    INDEX_HTML,
    MAX_POINTS,
    REPORT_HTML,
    clock,
    render_index_page,
    render_report_page,
    script_json,
    write_index_page,
)
from gpuaudio.analysis.report import (
    REPORT_JSON,
    analyze_to_folder,
    audio_copy_name,
    report_document,
)
from gpuaudio.analysis.segments import Segment
from gpuaudio.audio_io import AudioInfo
from gpuaudio.cli import main

NAME = """<script>alert('x') & "y".wav"""
"""A hostile recording name (a file name holds no slash, so no closing tag)."""
HOSTILE = '</script><!--<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'


class _Tags(HTMLParser):
    """Start tags with their attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _assert_no_injection(page: str) -> _Tags:
    """Exactly the page's own two scripts (data and code); no event-handler attributes."""
    parsed = _parse(page)
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts in ([{"type": "application/json", "id": "report-data"}, {}], [{}])
    assert not [tag for tag, _ in parsed.tags if tag in ("img", "iframe", "object", "embed")]
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]
    assert "<!--" not in page
    return parsed


def _data(parsed: _Tags) -> dict:
    return json.loads(parsed.scripts[0])


@pytest.fixture(scope="module")
def analysed(make_fake_service, tones, tmp_path_factory):
    """A 40-s call with two escalations under a hostile name, analysed into a folder."""
    folder = tmp_path_factory.mktemp("page")
    audio = folder / NAME
    sf.write(audio, tones(16000, 40, [(8, 16), (24, 32)]), 16000, subtype="PCM_16")
    digest = hashlib.sha256(audio.read_bytes()).hexdigest()
    stat = audio.stat()
    out = folder / "out"
    report, written = analyze_to_folder(make_fake_service(), audio, out)
    return audio, digest, stat, out, report, written


def test_file_names_are_escaped_and_cannot_inject(analysed):
    audio, _, _, out, _, _ = analysed
    page = (out / REPORT_HTML).read_text("utf-8")
    parsed = _assert_no_injection(page)
    assert html.escape(NAME) in page and NAME not in page  # shown, as text
    copy = [attrs["src"] for tag, attrs in parsed.tags if tag == "audio"]
    assert copy == [audio_copy_name(audio)] == ["_script_alert__x______y_.wav"]  # safe, relative


def test_metadata_is_escaped(analysed, make_fake_service):
    """Warnings, input fields, provenance and parameters carrying markup stay text."""
    _, _, _, out, report, _ = analysed
    document = json.loads((out / REPORT_JSON).read_text())
    document["warnings"] = [HOSTILE]
    document["input"].update(name=HOSTILE, path=HOSTILE, sha256=HOSTILE)
    document["summary"]["text"] = HOSTILE
    document["provenance"]["device"] = HOSTILE
    document["provenance"]["features"]["f0"]["reason"] = HOSTILE
    document["analysis"]["params"][HOSTILE] = HOSTILE
    page = render_report_page(report, document, audio_src=None)
    parsed = _assert_no_injection(page)
    assert page.count(HOSTILE.replace("<", "&lt;").replace(">", "&gt;")[:20]) >= 6
    assert _data(parsed)["segments"] == [
        {"start_s": s["start_s"], "end_s": s["end_s"]} for s in document["segments"]
    ]


def test_script_json_cannot_close_its_script():
    value = {"name": HOSTILE, "n": [1.5, None]}
    text = script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == value


@pytest.mark.parametrize("src", ["https://example.org/a.wav", "//host/a.wav", "/abs/a.wav",
                                 "javascript:alert(1)"])  # fmt: skip
def test_the_audio_source_must_be_relative(analysed, src):
    _, _, _, out, report, _ = analysed
    document = json.loads((out / REPORT_JSON).read_text())
    with pytest.raises(InvalidParameterError, match="relative path"):
        render_report_page(report, document, audio_src=src)


def test_segment_numbers_equal_report_json(analysed):
    _, _, _, out, _, _ = analysed
    document = json.loads((out / REPORT_JSON).read_text())
    page = (out / REPORT_HTML).read_text("utf-8")
    segments = document["segments"]
    assert len(segments) == 2
    rows = re.findall(r'<tr data-segment="(\d+)"><td><button[^>]*>&#9654; (\d+)</button></td>'
                      r"<td>([^<]*)</td><td>([^<]*)</td>", page)  # fmt: skip
    expected = [(str(i), str(i + 1), clock(s["start_s"]), clock(s["end_s"]))
                for i, s in enumerate(segments)]  # fmt: skip
    assert rows == expected
    labels = re.findall(r'<g class="seg" data-segment="(\d+)">.*?class="seg-number"[^>]*>(\d+)<',
                        page)  # fmt: skip
    assert labels == [(str(i), str(i + 1)) for i in range(len(segments))]
    # what drove it: the report's drivers, in its order, with their shares of the score
    for segment, row in zip(segments, page.split('<tr data-segment="')[1:], strict=True):
        shown = re.findall(r"<td>((?:[a-z]+ [+-]\d+\.\d, )*[a-z]+ [+-]\d+\.\d)</td>", row)[0]
        assert [part.split()[0] for part in shown.split(", ")] == segment["drivers"]


def test_the_audio_copy_is_beside_the_page_and_the_original_untouched(analysed):
    audio, digest, stat, out, _, written = analysed
    copy = out / audio_copy_name(audio)
    assert written["audio"] == str(copy) and written["html"] == str(out / REPORT_HTML)
    assert copy.read_bytes() == audio.read_bytes()
    assert hashlib.sha256(audio.read_bytes()).hexdigest() == digest
    assert audio.stat().st_mtime_ns == stat.st_mtime_ns
    outputs = json.loads((out / REPORT_JSON).read_text())["outputs"]
    assert outputs["html"] == REPORT_HTML and outputs["audio"] == copy.name
    assert outputs["audio_embedded"] is False


def test_a_recording_already_in_the_output_folder_is_not_copied(fake_service, tones, tmp_path):
    audio = tmp_path / "call.wav"  # as `gpuaudio demo` writes it
    sf.write(audio, tones(16000, 20, [(8, 14)]), 16000, subtype="PCM_16")
    before = audio.read_bytes()
    analyze_to_folder(fake_service, audio, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == ["call.wav"]
    assert audio.read_bytes() == before
    assert 'src="call.wav"' in (tmp_path / REPORT_HTML).read_text()


def test_no_html_writes_neither_page_nor_copy(tones, tmp_path):
    audio = tmp_path / "in" / "call.wav"
    audio.parent.mkdir()
    sf.write(audio, tones(16000, 20, [(8, 14)]), 16000, subtype="PCM_16")
    out = tmp_path / "out"
    args = ["analyze", str(audio), "-o", str(out), "--quiet", "--backend", "f0=fastpyin"]
    assert main([*args, "--no-html"]) == 0
    assert sorted(p.name for p in (out / "call").iterdir()) == [
        "escalation.TextGrid", "escalation.png", REPORT_JSON, "windows.csv"]  # fmt: skip
    outputs = json.loads((out / "call" / REPORT_JSON).read_text())["outputs"]
    assert outputs["html"] is None and "audio" not in outputs
    assert main([*args, "--force"]) == 0  # the page and the copy come with the default
    assert {REPORT_HTML, "call.wav"} <= {p.name for p in (out / "call").iterdir()}
    assert main([*args, "--force", "--no-html"]) == 0  # a stale page is removed
    assert not (out / "call" / REPORT_HTML).exists()
    assert main([*args, "--force", "--no-html", "--embed-audio"]) == 2


def test_embed_audio_inlines_ogg_vorbis_and_copies_nothing(fake_service, tones, tmp_path):
    audio = tmp_path / "call.flac"
    sf.write(audio, tones(22050, 20, [(8, 14)]), 22050)
    out = tmp_path / "out"
    _, written = analyze_to_folder(fake_service, audio, out, embed_audio=True)
    assert written["html"] and "audio" not in written
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".flac", ".wav", ".ogg")) == []
    page = (out / REPORT_HTML).read_text()
    src = next(a["src"] for t, a in _parse(page).tags if t == "audio")
    assert src.startswith("data:audio/ogg;base64,")
    decoded, sr = sf.read(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert sr == 16000 and abs(len(decoded) / sr - 20.0) < 0.1
    assert json.loads((out / REPORT_JSON).read_text())["outputs"]["audio_embedded"] is True


def test_embed_audio_of_a_long_recording(tmp_path):
    """A recording longer than the 2.5 minutes libsndfile's Vorbis encoder takes in one write
    (it crashed the process) is embedded whole, block by block."""
    from gpuaudio.analysis.page import embedded_audio

    audio = tmp_path / "long.wav"
    seconds = 200
    t = np.arange(seconds * 8000) / 8000
    sf.write(audio, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 8000)
    uri = embedded_audio(audio)
    decoded, sr = sf.read(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert sr == 16000 and abs(len(decoded) / sr - seconds) < 0.1
    middle = decoded[100 * sr : 100 * sr + sr]
    assert 0.05 < np.sqrt(np.mean(middle**2)) < 0.09  # the tone's RMS, 0.071, not silence


def _long_report(minutes: float, hop_s: float, n_segments: int) -> EscalationReport:
    """A synthetic report of a long call: windows every `hop_s`, segments spread evenly."""
    params = EscalationParams(hop_s=hop_s)
    rng = np.random.default_rng(0)
    start = np.arange(0.0, minutes * 60 - params.window_s + 1e-9, hop_s)
    n = start.size
    score = rng.normal(0.0, 0.8, n)
    score[rng.random(n) < 0.1] = np.nan  # windows without speech
    segment = np.full(n, -1)
    segments = []
    for k, at in enumerate(np.linspace(60, minutes * 60 - 120, n_segments)):
        members = (start >= at) & (start < at + 20)
        score[members], segment[members] = 4.0, k
        segments.append(Segment(at, at + 20, 4.0, at + 10, 4.0, int(members.sum()),
                                ("pitch", "level"), 0, 180.0, 4.0, 3.5, 6.0, 0.1, 1.0,
                                0.2))  # fmt: skip
    score[n // 3] = 9.5  # one isolated peak: decimation must keep it
    z = np.where(np.isfinite(score), score / 2, np.nan)
    windows = WindowFeatures(
        start_s=start, end_s=start + params.window_s, f0_median_hz=rng.normal(150, 10, n),
        f0_variability_st=np.ones(n), f0_steadiness=np.full(n, 0.1), voiced_fraction=np.ones(n),
        level_dbfs=rng.normal(-26, 2, n), gain_change_db=np.zeros(n), balance_db=np.zeros(n),
        syllable_rate_hz=np.ones(n), flatness=np.full(n, 0.1), speech=np.isfinite(score),
        voice=np.where(np.isfinite(score), 0, -1), z_pitch=z, z_level=z,
        z_balance=z * 0, z_rate=z * 0, z_variability=z * 0, score=score,
        score_sustained=score, flagged=np.nan_to_num(score) >= params.threshold, segment=segment,
    )  # fmt: skip
    baseline = Baseline(n, 150.0, 0.8, -26.0, 2.0, 1.0, 0.3, -10.0, 2.0, 2.0, 0.5, 2, 10)
    frames = np.arange(0.0, minutes * 60, 0.01)
    return EscalationReport(
        params, minutes * 60, windows, baseline, segments,
        F0Contour(frames, np.full(frames.size, 150.0)), {}, {}, ["a warning"],
    )  # fmt: skip


def test_a_42_minute_call_stays_under_1_mb(fake_service):
    report = _long_report(42, hop_s=0.25, n_segments=60)
    assert len(report.windows) > 3 * MAX_POINTS  # decimation is needed
    info = AudioInfo("/calls/long.wav", 8000, 1, 42 * 60 * 8000, "WAV", "PCM_16")
    document = report_document(report, fake_service, info=info, sha256="0" * 64, channel=None,
                               outputs={})  # fmt: skip
    page = render_report_page(report, document, audio_src="long.wav")
    assert len(page.encode("utf-8")) < 1_000_000
    paths = re.findall(r'<path class="track ([a-z0-9-]+)" d="([^"]*)"', page)
    assert [name for name, _ in paths] == ["track-level", "track-f0", "track-score"]
    for _, d in paths:
        assert 100 < len(re.findall(r"[ML]", d)) <= MAX_POINTS
    score_path = paths[2][1]
    ys = [float(y) for y in re.findall(r"[ML][\d.]+ ([\d.]+)", score_path)]
    assert min(ys) == pytest.approx(_svg_y_of_top_value(page), abs=0.5)  # the 9.5 peak is drawn
    assert len(re.findall(r'<g class="seg" data-segment=', page)) == 60
    numbers = [int(n) for n in re.findall(r'class="seg-number" x="[\d.]+"[^>]*>(\d+)<', page)]
    xs = [float(x) for x in re.findall(r'class="seg-number" x="([\d.]+)"', page)]
    assert numbers[0] == 1 and numbers == sorted(numbers) and len(numbers) >= 30
    assert np.diff(xs).min() >= 20  # crowded numbers are left out


def _svg_y_of_top_value(page: str) -> float:
    """The y of the score panel's upper limit (its padded maximum), from its tick label."""
    frames = [float(y) for y in re.findall(r'<rect class="frame" x="[\d.]+" y="([\d.]+)"', page)]
    top = frames[2]  # the score panel
    return top + 120.0 * 0.06 / 1.12  # _range pads by 6 % of the span on each side


def test_no_external_urls(analysed):
    _, _, _, out, _, _ = analysed
    page = (out / REPORT_HTML).read_text()
    index = render_index_page([{"id": "a", "report": "a/report.html"}])
    for text in (page, index):
        links = [value for tag, attrs in _parse(text).tags for name, value in attrs.items()
                 if name in ("src", "href") and value is not None]  # fmt: skip
        assert links and not [v for v in links if re.match(r"(https?:)?//", v)]
        assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import", text)
        assert "@media print" in text


def test_no_text_below_11_px_in_the_stylesheet(analysed):
    _, _, _, out, _, _ = analysed
    page = (out / REPORT_HTML).read_text()
    sizes = [float(px) for px in re.findall(r"font-size:\s*([\d.]+)px", page)]
    assert sizes and min(sizes) >= 11
    svg_text = float(re.search(r"#tracks text \{ font-size: ([\d.]+)px", page).group(1))
    min_width = float(re.search(r"#tracks \{[^}]*min-width: ([\d.]+)px", page).group(1))
    view_width = float(re.search(r'viewBox="0 0 ([\d.]+) ', page).group(1))
    assert svg_text * min_width / view_width >= 11  # the SVG is never drawn narrower


ROWS = [
    {"id": "b<i>", "duration_s": 3600.0, "escalated_s": 12.0, "n_segments": 2,
     "peak_score": 4.5, "status": "ok", "error": None, "report": "b_i_/report.html"},
    {"id": "a", "duration_s": 60.0, "escalated_s": 0.0, "n_segments": 0, "peak_score": None,
     "status": "ok", "error": None, "report": "a/report.html"},
    {"id": "c", "duration_s": None, "escalated_s": None, "n_segments": None, "peak_score": None,
     "status": "failed", "error": HOSTILE, "report": None},
]  # fmt: skip


def test_the_index_lists_every_row_escaped(tmp_path):
    path = write_index_page(tmp_path / "archive", ROWS)
    assert path == tmp_path / "archive" / INDEX_HTML
    page = path.read_text()
    parsed = _parse(page)
    assert [a for t, a in parsed.tags if t == "script"] == [{}]
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]
    rows = [a for t, a in parsed.tags if t == "tr" and "data-status" in a]
    assert [r["data-status"] for r in rows] == ["ok", "ok", "failed"]
    assert [a["href"] for t, a in parsed.tags if t == "a"] == ["b_i_/report.html",
                                                               "a/report.html"]  # fmt: skip
    assert "b&lt;i&gt;" in page and "<i>" not in page
    assert "3 recording(s), 1.02 h of audio, 12 s escalated in all, 1 failed" in page
    assert 'data-sort="3600.000000">1:00:00<' in page  # numbers sort by value, shown as clock
    assert list(tmp_path.joinpath("archive").iterdir()) == [path]  # no temporary left
    plain = tmp_path / "plain.txt"
    plain.write_text("")  # the mode the user's umask gives a new file (0644 at 022)
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # not mkstemp's 0600


@pytest.mark.parametrize(("link", "href"), [
    ("javascript:alert(1)", "javascript%3Aalert%281%29"),
    ("https://x.org/r.html", "https%3A//x.org/r.html"),
    ("case:12/report.html", "case%3A12/report.html"),
    ('a b/"r".html', "a%20b/%22r%22.html"),
])  # fmt: skip
def test_index_links_are_paths_never_urls(link, href):
    parsed = _parse(render_index_page([{"id": "x", "status": "ok", "report": link}]))
    assert [a["href"] for t, a in parsed.tags if t == "a"] == [href]


@pytest.mark.parametrize("link", ["/abs/r.html", "C:\\r.html", "//host/r.html"])
def test_index_links_must_be_relative(tmp_path, link):
    with pytest.raises(InvalidParameterError, match="relative"):
        write_index_page(tmp_path, [{"id": "x", "status": "ok", "report": link}])
    assert not (tmp_path / INDEX_HTML).exists()


def test_an_unwritable_index_is_an_output_error(tmp_path):
    from gpuaudio import OutputWriteError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputWriteError, match="archive index"):
        write_index_page(blocker / "sub", ROWS)


def test_clock():
    assert [clock(0.0), clock(75.3), clock(3725.0, 0), clock(-2.0), clock(None)] == [
        "0:00.0", "1:15.3", "1:02:05", "-0:02.0", "–"]  # fmt: skip


class _Stdin:
    """A stand-in for sys.stdin whose binary buffer holds `data`."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_monitor_writes_the_page_with_a_copy_or_without_audio_for_stdin(
    tones, tmp_path, monkeypatch
):
    audio = tmp_path / "call.wav"
    signal = tones(16000, 20, [(8, 14)])
    sf.write(audio, signal, 16000, subtype="PCM_16")
    out = tmp_path / "out"
    common = ["-o", str(out), "--quiet", "--backend", "f0=fastpyin", "--block", "5"]
    assert main(["monitor", str(audio), *common]) == 0
    assert (out / "call" / "call.wav").read_bytes() == audio.read_bytes()
    assert 'src="call.wav"' in (out / "call" / REPORT_HTML).read_text()
    monkeypatch.setattr("sys.stdin", _Stdin((signal * 32767).astype("<i2").tobytes()))
    assert main(["monitor", "-", "--sr", "16000", *common]) == 0
    page = (out / "stdin" / REPORT_HTML).read_text()
    assert "<audio" not in page and "No audio to play" in page
    names = sorted(p.name for p in (out / "stdin").iterdir())
    assert names == ["escalation.TextGrid", "escalation.png", REPORT_HTML, REPORT_JSON,
                     "windows.csv"]  # fmt: skip
