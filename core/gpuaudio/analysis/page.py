"""HTML pages for review in a browser: report.html per recording, index.html per archive.

Each page is one self-contained file that works offline (from a USB stick): its CSS and
JavaScript are inlined from ``page_assets/`` (package data), nothing is fetched from the
network. The report page draws the level, F0 and score tracks as inline SVG with the
threshold and the numbered segments (numbers as in report.json: ``segments[i]`` is number
``i + 1``, as in the TextGrid), lists the segments with what drove them, the baseline, the
warnings and the provenance, and plays the recording: clicking a segment (table or plot)
plays it from `LEAD_IN_S` before its start and a cursor follows playback. The audio is a copy
beside the page, referenced by a relative path, or inlined as Ogg/Vorbis (``--embed-audio``).

Every piece of text from the report or the file system is escaped (`html.escape`); data for
the scripts is JSON in ``<script type="application/json">`` with ``<``, ``>`` and ``&``
escaped, so no file name or metadata can inject markup or script.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import numpy as np

from gpuaudio._atomic import write_atomic
from gpuaudio.analysis.cues import FEATURES
from gpuaudio.analysis.escalation import clock as escalation_clock
from gpuaudio.analysis.segments import cue_contributions
from gpuaudio.errors import InvalidParameterError, OutputWriteError

if TYPE_CHECKING:
    from gpuaudio.analysis.escalation import EscalationReport

REPORT_HTML = "report.html"
INDEX_HTML = "index.html"
LEAD_IN_S = 2.0
"""A segment plays from this long before its start (clamped at 0), to hear it begin."""
MAX_POINTS = 1500
"""Points per track at most; longer recordings are decimated (score and level keep each
bucket's maximum, so no peak is lost; F0 its median)."""
EMBED_SR = 16000
"""Sample rate of an embedded (Ogg/Vorbis, mono) copy: the analysis rate."""
_EMBED_QUALITY = 0.9
"""libsndfile's compression level for the embedded Vorbis: about 26 kbit/s for speech at
16 kHz (8 MB for 42 minutes). Opus is as small but encodes about 10 times slower there."""
_EMBED_BLOCK = 10 * EMBED_SR
"""Samples handed to the Vorbis encoder per write: libsndfile 1.2 crashes (SIGSEGV) when one
write holds more than about 2.5 minutes of audio."""


# SVG geometry in user units; text sizes in the stylesheet are chosen so that the smallest
# drawing width (the CSS min-width) keeps every label at 11 px or more.
_WIDTH, _LEFT, _RIGHT = 880.0, 70.0, 14.0
_TOP, _PANEL, _GAP, _BOTTOM = 26.0, 120.0, 24.0, 38.0
_PLOT_W = _WIDTH - _LEFT - _RIGHT


def _asset(name: str) -> str:
    return (resources.files("gpuaudio.analysis") / "page_assets" / name).read_text("utf-8")


def _e(value: Any) -> str:
    """Text for HTML content or a quoted attribute."""
    return html.escape(str(value), quote=True)


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</script>``, ``<!--``."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def clock(seconds: float | None, decimals: int = 1) -> str:
    """``m:ss.s`` (``h:mm:ss.s`` from an hour); an en dash for None (`escalation.clock`)."""
    return escalation_clock(seconds, decimals)


def _number(value: Any, fmt: str = ".2f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:{fmt}}{unit}"


def _page(title: str, body: str, script: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="gpuaudio">\n<link rel="icon" href="data:,">\n'
        f"<title>{_e(title)}</title>\n<style>\n{_asset('page.css')}</style>\n</head>\n"
        f"<body>\n{body}\n<script>\n{script}</script>\n</body>\n</html>\n"
    )


# -- the report page ---------------------------------------------------------------------


def render_report_page(
    report: EscalationReport,
    document: Mapping[str, Any],
    *,
    audio_src: str | None,
    lead_in_s: float = LEAD_IN_S,
) -> str:
    """The report page of one recording, as HTML text.

    `report` gives the tracks, `document` (the report.json document) everything shown in
    words. `audio_src` is the player's source: a path relative to the page or a ``data:audio``
    URI (`embedded_audio`); None for no player (audio read from standard input).
    """
    name = str(document["input"]["name"])
    segments = list(document["segments"])
    data = {
        "duration_s": report.duration_s,
        "lead_in_s": lead_in_s,
        "segments": [{"start_s": s["start_s"], "end_s": s["end_s"]} for s in segments],
        "plot": {"x0": _LEFT, "width": _PLOT_W},
    }
    body = "\n".join(
        [
            f'<header><h1>Escalation report: <span class="name">{_e(name)}</span></h1>',
            f'<p class="summary">{_e(_summary(document))}</p></header>',
            "<main>",
            _player(audio_src, lead_in_s),
            _tracks_section(report),
            _segments_section(report, segments),
            _baseline_section(document.get("baseline")),
            _warnings_section(list(document.get("warnings") or [])),
            _provenance_section(document),
            "</main>",
            f'<script type="application/json" id="report-data">{script_json(data)}</script>',
        ]
    )
    return _page(f"Escalation report: {name}", body, _asset("report.js"))


def _summary(document: Mapping[str, Any]) -> str:
    """One short line (report.json's summary text lists every segment: the table does here)."""
    summary = document["summary"]
    if not summary.get("n_segments"):
        return str(summary["text"])
    return (
        f"{summary['n_segments']} escalation segment(s) in "
        f"{clock(document['analysis']['duration_s'], 0)} of audio, "
        f"{summary['escalated_s']:.0f} s in all ({summary['escalated_fraction']:.0%})."
    )


def _player(audio_src: str | None, lead_in_s: float) -> str:
    if audio_src is None:
        player = '<p class="note">No audio to play: the input was read from standard input.</p>'
    else:
        player = (
            f'<audio id="player" controls preload="metadata" src="{_e(_audio_url(audio_src))}">'
            "Your browser cannot play this audio.</audio>"
        )
    return (
        '<section aria-labelledby="listen-h"><h2 id="listen-h">Listen</h2>'
        f"{player}"
        f'<p class="note no-print">Click a segment in the table or on the tracks to play it from '
        f"{lead_in_s:g} s before its start; click elsewhere on the tracks to go there. Keys: "
        "<kbd>n</kbd> next segment, <kbd>p</kbd> previous segment.</p></section>"
    )


def _audio_url(src: str) -> str:
    if src.startswith("data:audio/"):
        return src
    parts = urlsplit(src)
    if parts.scheme or parts.netloc or src.startswith("/"):
        raise InvalidParameterError(
            f"the report page's audio must be a relative path or a data:audio URI, got {src!r}"
        )
    return quote(src, safe="/")


@dataclass(frozen=True)
class _Panel:
    label: str
    css: str
    values: np.ndarray
    low: float
    high: float
    reference: float | None
    reference_label: str


def _decimate(start: np.ndarray, end: np.ndarray, values: np.ndarray, keep: str) -> tuple[
    np.ndarray, np.ndarray
]:
    """(times, values) with at most `MAX_POINTS` points: bucket centres and maxima/medians."""
    middle = (start + end) / 2
    n = values.shape[0]
    if n <= MAX_POINTS:
        return middle, values.astype(np.float64)
    size = math.ceil(n / MAX_POINTS)
    pad = -n % size
    buckets = np.pad(values.astype(np.float64), (0, pad), constant_values=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN bucket stays NaN
        reduced = (np.nanmax if keep == "max" else np.nanmedian)(buckets.reshape(-1, size), axis=1)
    times = np.pad(middle, (0, pad), mode="edge").reshape(-1, size).mean(axis=1)
    return times, reduced


def _range(values: np.ndarray, *extra: float | None, span: float | None = None) -> tuple[
    float, float
]:
    finite = values[np.isfinite(values)]
    points = [float(v) for v in extra if v is not None and math.isfinite(v)]
    if finite.size:
        high = max([float(finite.max()), *points])
        low = float(finite.min()) if span is None else max(float(finite.min()), high - span)
        low = min([low, *points])
    elif points:
        low, high = min(points), max(points)
    else:
        low, high = 0.0, 1.0
    if high - low < 1e-9:
        low, high = low - 1.0, high + 1.0
    pad = 0.06 * (high - low)
    return low - pad, high + pad


def _panels(report: EscalationReport) -> tuple[np.ndarray, list[_Panel]]:
    windows, baseline = report.windows, report.baseline
    threshold = report.params.threshold
    times, level = _decimate(windows.start_s, windows.end_s, windows.level_dbfs, "max")
    _, f0 = _decimate(windows.start_s, windows.end_s, windows.f0_median_hz, "median")
    _, score = _decimate(windows.start_s, windows.end_s, windows.score, "max")
    base_level = baseline.level_dbfs if baseline else None
    base_f0 = baseline.f0_median_hz if baseline else None
    panels = [
        _Panel("level (dBFS)", "track-level", level, *_range(level, base_level, span=60.0),
               base_level, "baseline"),
        _Panel("F0 (Hz)", "track-f0", f0, *_range(f0, base_f0), base_f0, "baseline"),
        _Panel("score", "track-score", score, *_range(score, threshold, 0.0), threshold,
               f"threshold {threshold:g}"),
    ]  # fmt: skip
    return times, panels


def _ticks(duration: float) -> list[float]:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if duration / step <= 10:
            return [step * i for i in range(int(duration // step) + 1)]
    step = 3600 * math.ceil(duration / 36000)
    return [step * i for i in range(int(duration // step) + 1)]


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """An SVG path through the finite points, broken where a value is undefined."""
    parts: list[str] = []
    drawing = False
    for x, y in zip(xs, ys, strict=True):
        if not math.isfinite(y):
            drawing = False
            continue
        parts.append(f"{'L' if drawing else 'M'}{x:.1f} {y:.1f}")
        drawing = True
    return "".join(parts)


def tracks_svg(report: EscalationReport) -> str:
    """The tracks as inline SVG: one panel each for level, F0 and score, segments hatched and
    numbered, the baseline and threshold dashed, and a playback cursor (hidden)."""
    duration = max(report.duration_s, 1e-9)
    times, panels = _panels(report)
    height = _TOP + len(panels) * _PANEL + (len(panels) - 1) * _GAP + _BOTTOM
    bottom = height - _BOTTOM

    def x_of(t: float | np.ndarray) -> Any:
        return _LEFT + np.clip(np.asarray(t) / duration, 0.0, 1.0) * _PLOT_W

    out = [
        f'<svg id="tracks" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH:g} {height:g}" '
        'role="img" aria-labelledby="tracks-title">',
        '<title id="tracks-title">Level, F0 and arousal score over time; escalation segments '
        "hatched and numbered</title>",
        '<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="8" height="8" class="hatch-bg"/>'
        '<line x1="0" y1="0" x2="0" y2="8" class="hatch-line"/></pattern></defs>',
        f'<rect class="hit" x="{_LEFT:g}" y="{_TOP:g}" width="{_PLOT_W:g}" '
        f'height="{bottom - _TOP:g}"/>',
    ]
    for tick in _ticks(report.duration_s):
        x = float(x_of(tick))
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP:g}" y2="{bottom:g}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 20:g}" text-anchor="middle">'
                   f"{_e(clock(tick, 0))}</text>")  # fmt: skip
    unit = "h:mm:ss" if report.duration_s >= 3600 else "m:ss"
    out.append(f'<text class="tick" x="{_LEFT + _PLOT_W:g}" y="{bottom + 36:g}" '
               f'text-anchor="end">time ({unit})</text>')  # fmt: skip
    labelled_to = -math.inf  # right edge of the last number drawn: numbers never overlap
    for number, segment in enumerate(report.segments, start=1):
        x0, x1 = float(x_of(segment.start_s)), float(x_of(segment.end_s))
        middle, half = (x0 + x1) / 2, 5.0 * len(str(number))
        label = ""
        if middle - half > labelled_to + 3:
            labelled_to = middle + half
            label = (f'<text class="seg-number" x="{middle:.1f}" y="{_TOP - 8:g}" '
                     f'text-anchor="middle">{number}</text>')  # fmt: skip
        out.append(
            f'<g class="seg" data-segment="{number - 1}"><title>Segment {number}: '
            f"{_e(clock(segment.start_s))} to {_e(clock(segment.end_s))} (click to play)</title>"
            f'<rect x="{x0:.1f}" y="{_TOP:g}" width="{max(x1 - x0, 2.0):.1f}" '
            f'height="{bottom - _TOP:g}"/>{label}</g>'
        )
    for index, panel in enumerate(panels):
        out.append(_panel_svg(panel, _TOP + index * (_PANEL + _GAP), x_of(times)))
    out.append(f'<line id="cursor" class="cursor" x1="{_LEFT:g}" x2="{_LEFT:g}" y1="{_TOP:g}" '
               f'y2="{bottom:g}" visibility="hidden"/>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def _panel_svg(panel: _Panel, top: float, xs: np.ndarray) -> str:
    """One track's frame, label, y range, reference line and path, `top` user units down."""
    scale = _PANEL / (panel.high - panel.low)

    def y_of(value: float | np.ndarray) -> Any:
        return top + (panel.high - np.clip(value, panel.low, panel.high)) * scale

    out = [
        f'<rect class="frame" x="{_LEFT:g}" y="{top:g}" width="{_PLOT_W:g}" height="{_PANEL:g}"/>',
        f'<text class="axis-label" x="{_LEFT + 6:g}" y="{top + 16:g}">{_e(panel.label)}</text>',
    ]
    for value, shift in ((panel.low, -3.0), (panel.high, 14.0)):  # labels inside the frame
        out.append(f'<text class="tick" x="{_LEFT - 6:g}" y="{float(y_of(value)) + shift:.1f}" '
                   f'text-anchor="end">{value:.0f}</text>')  # fmt: skip
    if panel.reference is not None:
        y = float(y_of(panel.reference))
        out.append(f'<line class="reference" x1="{_LEFT:g}" x2="{_LEFT + _PLOT_W:g}" '
                   f'y1="{y:.1f}" y2="{y:.1f}"/><text class="reference-label" '
                   f'x="{_LEFT + _PLOT_W - 6:g}" y="{y - 5:.1f}" text-anchor="end">'
                   f"{_e(panel.reference_label)}</text>")  # fmt: skip
    out.append(f'<path class="track {panel.css}" d="{_path(xs, y_of(panel.values))}"/>')
    return "".join(out)


def _tracks_section(report: EscalationReport) -> str:
    return (
        '<section aria-labelledby="tracks-h"><h2 id="tracks-h">Tracks</h2>'
        f'<div class="tracks">{tracks_svg(report)}</div>'
        '<p class="note">Per analysis window: RMS level, median F0 of the voiced frames and the '
        "arousal score (robust z); hatched: escalation segments, numbered as in report.json; "
        "dashed: the speaker's baseline and the score threshold.</p></section>"
    )


def _drivers(report: EscalationReport, index: int) -> str:
    """What raised segment `index`'s score: each driver's mean share of it, largest first."""
    windows = report.windows
    members = np.flatnonzero(windows.flagged.astype(bool) & (windows.segment == index))
    if members.size == 0:
        return "–"
    shares = dict(zip(FEATURES, cue_contributions(windows, members, report.params.weights),
                      strict=True))  # fmt: skip
    drivers = report.segments[index].drivers
    return ", ".join(f"{_e(name)} {shares[name]:+.1f}" for name in drivers) or "–"


def _changes(segment: Mapping[str, Any]) -> str:
    parts = [
        (segment.get("pitch_change_st"), "+.1f", " st"),
        (segment.get("floor_change_st"), "+.1f", " st floor"),
        (segment.get("level_change_db"), "+.1f", " dB"),
        (segment.get("balance_change_db"), "+.1f", " dB balance"),
        (segment.get("syllable_rate_change_hz"), "+.2f", " syllables/s"),
    ]
    return ", ".join(_number(value, fmt, unit) for value, fmt, unit in parts)


def _voice_changes(report: EscalationReport, index: int, segment: Mapping[str, Any]) -> str:
    """The changes, after whose voice they are when two voices share the channel."""
    voice = report.voice_label(report.segments[index])
    return f"{voice}: {_changes(segment)}" if voice else _changes(segment)


def _segments_section(report: EscalationReport, segments: list[Mapping[str, Any]]) -> str:
    head = (
        '<section aria-labelledby="segments-h"><h2 id="segments-h">Segments</h2>'
    )
    if not segments:
        return head + '<p class="note">No escalation segment was found.</p></section>'
    rows = []
    for index, segment in enumerate(segments):
        number = index + 1
        rows.append(
            f'<tr data-segment="{index}"><td><button type="button" class="play-segment" '
            f'data-segment="{index}" aria-label="Play segment {number} from '
            f'{_e(clock(segment["start_s"]))}">&#9654; {number}</button></td>'
            f'<td>{_e(clock(segment["start_s"]))}</td><td>{_e(clock(segment["end_s"]))}</td>'
            f'<td class="num">{_number(segment["duration_s"], ".1f")}</td>'
            f'<td class="num">{_number(segment["peak_score"], ".2f")} '
            f'<span class="at">at {_e(clock(segment["peak_time_s"]))}</span></td>'
            f"<td>{_drivers(report, index)}</td><td>{_e(_voice_changes(report, index, segment))}"
            "</td></tr>"
        )
    return (
        head + '<table class="segments"><caption>Escalation segments; the drivers\' numbers are '
        "each cue's mean share of the score over the segment's flagged windows</caption>"
        '<thead><tr><th scope="col">#</th><th scope="col">start</th><th scope="col">end</th>'
        '<th scope="col">duration (s)</th><th scope="col">peak score</th>'
        '<th scope="col">what drove it</th><th scope="col">change vs baseline (pitch, level, '
        "balance, rate)</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


_BASELINE_ROWS = (
    ("n_windows", "speech windows used", "d", ""),
    ("f0_median_hz", "median F0", ".1f", " Hz"),
    ("pitch_scale_st", "pitch scale", ".2f", " st"),
    ("level_dbfs", "level", ".1f", " dBFS"),
    ("level_scale_db", "level scale", ".2f", " dB"),
    ("variability_st", "F0 variability", ".2f", " st"),
    ("balance_db", "spectral balance", ".1f", " dB"),
    ("syllable_rate_hz", "syllable rate", ".2f", " /s"),
    ("iterations", "fits", "d", ""),
    ("excluded_windows", "flagged windows left out", "d", ""),
)


def _definitions(rows: Sequence[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows) + "</dl>"


def _baseline_section(baseline: Mapping[str, Any] | None) -> str:
    head = '<section aria-labelledby="baseline-h"><h2 id="baseline-h">Baseline</h2>'
    if not baseline:
        return head + '<p class="note">No baseline: too little speech.</p></section>'
    rows = [
        (label, _number(baseline.get(key), fmt, unit))
        for key, label, fmt, unit in _BASELINE_ROWS
        if key in baseline
    ]
    return head + _definitions(rows) + "</section>"


def _warnings_section(warnings: list[Any]) -> str:
    head = '<section aria-labelledby="warnings-h"><h2 id="warnings-h">Warnings</h2>'
    if not warnings:
        return head + '<p class="note">None.</p></section>'
    items = "".join(f"<li>{_e(text)}</li>" for text in warnings)
    return head + f'<ul class="warnings">{items}</ul></section>'


def _backend(feature: Mapping[str, Any] | None) -> str:
    """One line for a feature's provenance: backend (distribution version) on device, ..."""
    if not feature:
        return "–"
    get = feature.get
    text = str(get("backend", "?"))
    if get("distribution"):
        text += f" ({get('distribution')}{' ' + str(get('version')) if get('version') else ''})"
    text += "".join(
        f"{sep}{get(key)}"
        for key, sep in (("device", " on "), ("precision", ", "), ("reason", "; chosen because: "),
                         ("method", ": "))
        if get(key)
    )  # fmt: skip
    fallbacks = get("fallbacks") or []
    return text + (f"; {len(fallbacks)} fallback(s) first" if fallbacks else "")


def _provenance_section(document: Mapping[str, Any]) -> str:
    source = document["input"]
    provenance = document["provenance"]
    analysis = document["analysis"]
    features = provenance.get("features") or {}
    rows = [
        ("file", source.get("path")),
        ("SHA-256", source.get("sha256")),
        ("audio", f"{_number(source.get('duration_s'), '.1f', ' s')}, "
                  f"{source.get('sample_rate')} Hz, {source.get('channels')} channel(s), "
                  f"{source.get('format')} {source.get('subtype')}; "
                  f"{source.get('channel_policy')}"),
        ("analysed", f"{_number(analysis.get('duration_s'), '.1f', ' s')} in "
                     f"{analysis.get('n_windows')} windows at {analysis.get('sample_rate')} Hz"
                     + (" (partial: the input was stopped)" if analysis.get("partial") else "")),
        ("report written", document.get("created_utc")),
        ("gpuaudio", provenance.get("gpuaudio")),
        ("Python, platform", f"{provenance.get('python')}, {provenance.get('platform')}"),
        ("device", provenance.get("device")),
        *((f"{name} backend", _backend(value)) for name, value in features.items()),
    ]  # fmt: skip
    params = analysis.get("params") or {}
    param_rows = "".join(
        f'<tr><th scope="row">{_e(key)}</th><td>{_e(value)}</td></tr>'
        for key, value in params.items()
    )
    full = json.dumps(provenance, indent=2, allow_nan=False)
    return (
        '<section aria-labelledby="provenance-h"><h2 id="provenance-h">Provenance</h2>'
        + _definitions([(k, str(v)) for k, v in rows])
        + '<table class="params"><caption>Parameters</caption><tbody>'
        + param_rows
        + "</tbody></table><details><summary>Full provenance (as in report.json)</summary>"
        + f"<pre>{_e(full)}</pre></details>"
        + f'<p class="note">Method: {_e(analysis.get("method", ""))}</p></section>'
    )


# -- the audio beside the page -----------------------------------------------------------


def embedded_audio(path: str | Path, channel: int | None = None) -> str:
    """A ``data:audio/ogg`` URI of the recording: mono (the analysis' channel policy) at
    `EMBED_SR`, Ogg/Vorbis (about 26 kbit/s: 8 MB for 42 minutes)."""
    import soundfile as sf

    from gpuaudio.audio_io import read_audio

    audio = read_audio(path, EMBED_SR, channel=channel)
    buffer = io.BytesIO()
    try:
        with sf.SoundFile(buffer, "w", EMBED_SR, 1, format="OGG", subtype="VORBIS",
                          compression_level=_EMBED_QUALITY) as ogg:  # fmt: skip
            for start in range(0, audio.shape[0], _EMBED_BLOCK):
                ogg.write(audio[start : start + _EMBED_BLOCK])
    except (sf.LibsndfileError, ValueError) as exc:  # a libsndfile built without Vorbis
        raise OutputWriteError(
            f"cannot embed {path}'s audio in the report page as Ogg/Vorbis ({exc}); run without "
            "--embed-audio to reference a copy instead"
        ) from exc
    return "data:audio/ogg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# -- the archive index -------------------------------------------------------------------

INDEX_COLUMNS = (
    ("id", "recording", "text"),
    ("duration_s", "duration", "number"),
    ("escalated_s", "escalated (s)", "number"),
    ("n_segments", "segments", "number"),
    ("peak_score", "peak score", "number"),
    ("status", "status", "text"),
    ("error", "error", "text"),
)
"""(row key, header, kind): the columns of index.html, in order. A row may also hold
``report``, the relative link to its report page (None: no page)."""


def _cell(key: str, value: Any) -> tuple[str, str]:
    """(sort key, shown text) of one index cell."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "", "–"
    if key == "duration_s":
        return f"{float(value):.6f}", clock(float(value), 0)
    if key == "escalated_s":
        return f"{float(value):.6f}", f"{float(value):.0f}"
    if key == "peak_score":
        return f"{float(value):.6f}", f"{float(value):.2f}"
    if key == "n_segments":
        return str(int(value)), str(int(value))
    return str(value), str(value)


def _link(target: Any) -> str | None:
    """The href of a report page given by its path relative to the index: percent-encoded
    (``:`` included, so ``javascript:x`` or ``case:12/report.html`` is a path, never a scheme)."""
    if target is None:
        return None
    text = str(target).replace(os.sep, "/")
    if text.startswith("/") or PureWindowsPath(text).is_absolute():
        raise InvalidParameterError(
            f"an index row's report link must be a path relative to the index, got {text!r}"
        )
    return quote(text, safe="/")


def render_index_page(rows: Sequence[Mapping[str, Any]], *, title: str = "gpuaudio archive") -> str:
    """The archive index as HTML text: one row per recording (keys as in `INDEX_COLUMNS`, plus
    ``report``), sortable by any column and filterable by text and status."""
    header = "".join(
        f'<th scope="col" aria-sort="none" data-kind="{kind}"><button type="button" '
        f'class="sort" data-column="{i}">{_e(label)}</button></th>'
        for i, (_, label, kind) in enumerate(INDEX_COLUMNS)
    )
    body = []
    statuses = sorted({str(row.get("status")) for row in rows if row.get("status") is not None})
    for row in rows:
        cells = []
        for key, _, _ in INDEX_COLUMNS:
            sort_key, shown = _cell(key, row.get(key))
            content = _e(shown)
            link = _link(row.get("report")) if key == "id" else None
            if link:
                content = f'<a href="{_e(link)}">{content}</a>'
            cells.append(f'<td data-sort="{_e(sort_key)}">{content}</td>')
        status = _e(row.get("status") or "")
        body.append(f'<tr data-status="{status}">' + "".join(cells) + "</tr>")
    options = "".join(f'<option value="{_e(s)}">{_e(s)}</option>' for s in statuses)
    failed = sum(1 for row in rows if row.get("status") == "failed")
    hours = sum(float(row.get("duration_s") or 0.0) for row in rows) / 3600
    escalated = sum(float(row.get("escalated_s") or 0.0) for row in rows)
    content = (
        f"<header><h1>{_e(title)}</h1><p class=\"summary\">{len(rows)} recording(s), "
        f"{hours:.2f} h of audio, {escalated:.0f} s escalated in all, {failed} failed.</p>"
        '</header><main><div class="filters no-print"><label>Filter <input type="search" '
        'id="filter" placeholder="id, status or error"></label> <label>Status <select '
        f'id="status-filter"><option value="">all</option>{options}</select></label> '
        '<span id="shown" aria-live="polite"></span></div>'
        '<table id="recordings"><caption>Recordings; click a column heading to sort, a '
        "recording to open its report</caption>"
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table></main>"
    )
    return _page(title, content, _asset("index.js"))


def write_index_page(out_dir: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``out_dir/index.html`` (see `render_index_page`; replaced atomically) and return
    its path. Raises `OutputWriteError` when the folder cannot be written."""
    out_dir = Path(out_dir)
    text = render_index_page(rows, title=f"gpuaudio archive: {out_dir.resolve().name}")
    target = out_dir / INDEX_HTML
    try:
        write_atomic(target, text.encode("utf-8"))
    except OSError as exc:
        raise OutputWriteError(
            f"cannot write the archive index {target}: {exc.strerror or exc}"
        ) from exc
    return target
