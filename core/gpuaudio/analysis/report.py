"""Writers for an escalation report: report.json, windows.csv, a PNG figure, a Praat TextGrid,
report.html (gpuaudio.analysis.page) with a copy of the recording beside it.

The JSON schema is versioned (``"schema": "gpuaudio.escalation/5"``) and documented in
docs/report-schema.md. Existing outputs are never overwritten unless ``force`` is given.
Outputs are complete or absent: all of them are written into a hidden staging folder beside
their place and moved in only when every one is written, report.json last (it marks a
complete set). A failure or an interrupt (SIGINT, SIGTERM through the CLI) while writing
leaves the folder as it was and removes the staging folder, so a rerun needs no --force.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gpuaudio._text import printable
from gpuaudio.analysis.page import REPORT_HTML
from gpuaudio.errors import OutputExistsError, OutputWriteError

if TYPE_CHECKING:
    from gpuaudio.analysis.escalation import EscalationParams, EscalationReport, Progress
    from gpuaudio.audio_io import AudioInfo
    from gpuaudio.service import AudioFeatureService

SCHEMA = "gpuaudio.escalation/5"
REPORT_JSON = "report.json"
WINDOWS_CSV = "windows.csv"
FIGURE_PNG = "escalation.png"
TEXTGRID = "escalation.TextGrid"
OUTPUT_NAMES = (REPORT_JSON, WINDOWS_CSV, FIGURE_PNG, TEXTGRID, REPORT_HTML)
TEXTGRID_TIER = "escalation"
STDIN = "-"
"""`AudioInfo.path` of audio read from standard input (``gpuaudio monitor -``)."""


_UNSAFE = re.compile(r"[^\w.-]")


def output_folder_name(path: str | Path) -> str:
    """The name of the folder for `path`'s outputs: its file name without extension, made
    safe (`safe_name`)."""
    return safe_name(Path(str(path)).stem)


_MAX_NAME_BYTES = 200
"""Longest safe name in UTF-8 bytes: file systems allow 255, and ids get suffixes."""


def safe_name(text: str) -> str:
    """`text` with anything but letters, digits, ``_``, ``-`` and ``.`` replaced by ``_`` and
    leading dots removed, so it can never leave the output folder (``..`` -> ``recording``);
    a name over `_MAX_NAME_BYTES` is cut and ends in a hash of the whole (still unique)."""
    name = _UNSAFE.sub("_", text).lstrip(".") or "recording"
    encoded = name.encode("utf-8")
    if len(encoded) > _MAX_NAME_BYTES:
        digest = hashlib.sha1(encoded).hexdigest()[:8]
        name = encoded[: _MAX_NAME_BYTES - 9].decode("utf-8", errors="ignore") + "-" + digest
    return name


def audio_copy_name(path: str | Path) -> str:
    """The name of the recording's copy beside its report page: safe stem and extension."""
    suffix = "".join(c for c in Path(str(path)).suffix.lower() if c.isalnum() or c == ".")
    return output_folder_name(path) + suffix


def copied_recording(
    path: str | Path, directory: str | Path, *, html: bool = True, embed_audio: bool = False,
    copy_audio: bool = True,
) -> Path | None:
    """The recording whose copy (`audio_copy_name`) `write_report` puts in `directory` beside
    report.html with these page options; None when the page plays it from elsewhere or has none."""
    if not html or embed_audio or str(path) == STDIN:
        return None
    if not copy_audio and _relative_path(path, Path(directory)) is not None:
        return None
    return Path(path)


def check_outputs(
    directory: str | Path, *, force: bool, recording: str | Path | None = None
) -> None:
    """Before any work: raise `OutputExistsError` if any report file exists in `directory`, or
    a file other than `recording` lies where its copy would go (`copied_recording`), and not
    `force`; `OutputWriteError` if it cannot be written (a file, no permission)."""
    directory = Path(directory)
    try:
        existing_outputs = [name for name in OUTPUT_NAMES if (directory / name).exists()]
        if recording is not None:
            copy = directory / audio_copy_name(recording)
            if copy.exists() and not _same_file(Path(recording), copy):
                existing_outputs.append(copy.name)
    except OSError as exc:  # a name too long for the file system...
        raise OutputWriteError(f"cannot write the report to {directory}: {exc.strerror}") from exc
    if existing_outputs and not force:
        raise OutputExistsError(
            f"{directory} already holds {', '.join(existing_outputs)}; pass --force to "
            "overwrite or choose another output folder with -o"
        )
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputWriteError(f"cannot write the report to {directory}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputWriteError(f"cannot write the report to {directory}: {existing} is read-only")


def write_report(
    directory: str | Path,
    report: EscalationReport,
    service: AudioFeatureService,
    *,
    info: AudioInfo,
    sha256: str,
    channel: int | None,
    force: bool = False,
    html: bool = True,
    embed_audio: bool = False,
    copy_audio: bool = True,
) -> dict[str, str | None]:
    """Write all outputs into `directory`, all or none (see the module docstring); returns
    output name -> path (None if skipped). `html`: also report.html, with a copy of the
    recording beside it, or (`embed_audio`) inlined, or (not `copy_audio`) played from where it
    lies, by a path relative to the page. Raises `OutputWriteError` when the disk is full or
    the folder cannot be written."""
    directory = Path(directory)
    recording = copied_recording(
        info.path, directory, html=html, embed_audio=embed_audio, copy_audio=copy_audio
    )
    check_outputs(directory, force=force, recording=recording)
    name = _input_name(info)
    shown = printable(name)  # no control characters in the figure's text
    figure, skipped = render_figure(
        report, title=shown, footer=figure_footer(report, name=shown, sha256=sha256)
    )
    contents: dict[str, bytes] = {
        WINDOWS_CSV: windows_csv(report).encode("utf-8"),
        TEXTGRID: textgrid(report).encode("utf-8"),
    }
    if figure is not None:
        contents[FIGURE_PNG] = figure
    written: dict[str, str | None] = {
        "windows_csv": WINDOWS_CSV,
        "textgrid": TEXTGRID,
        "figure": FIGURE_PNG if figure is not None else None,
        "html": REPORT_HTML if html else None,
    }
    copies: dict[str, Path] = {}
    embed = html and embed_audio and info.path != STDIN
    source = None
    if recording is not None:
        source = audio_copy_name(recording)
        written["audio"], copies[source] = source, recording
    elif html and not embed and info.path != STDIN:
        source = _relative_path(info.path, directory)
    document = report_document(
        report, service, info=info, sha256=sha256, channel=channel,
        outputs=dict(written, figure_skipped=skipped, audio_embedded=embed),
    )
    if html:
        from gpuaudio.analysis.page import embedded_audio, render_report_page

        audio_src = embedded_audio(info.path, channel) if embed else source
        page = render_report_page(report, document, audio_src=audio_src)
        contents[REPORT_HTML] = page.encode("utf-8")
    contents[REPORT_JSON] = (_dumps(document) + "\n").encode("utf-8")
    written["report_json"] = REPORT_JSON
    _commit(directory, contents, copies)
    return {key: str(directory / value) if value else None for key, value in written.items()}


def _commit(directory: Path, contents: dict[str, bytes], copies: dict[str, Path]) -> None:
    """Write `contents` (name -> bytes; REPORT_JSON among them) and `copies` (name -> a file to
    copy, e.g. the recording beside its page) into `directory`, all or none."""
    staging: Path | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".gpuaudio-partial-", dir=directory))
        for name, data in contents.items():
            with open(staging / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        copies = {n: f for n, f in copies.items() if not _same_file(f, directory / n)}
        for name, source in copies.items():
            shutil.copyfile(source, staging / name)
            with open(staging / name, "rb+") as handle:
                os.fsync(handle.fileno())
        # The old marker goes first and the new one comes last: report.json is there only
        # when the set next to it is this run's, complete.
        (directory / REPORT_JSON).unlink(missing_ok=True)
        for name in OUTPUT_NAMES:
            if name == REPORT_JSON:
                continue
            if name in contents:
                os.replace(staging / name, directory / name)
            else:  # e.g. no figure this time: an older one would not belong to this report
                (directory / name).unlink(missing_ok=True)
        for name in copies:
            os.replace(staging / name, directory / name)
        os.replace(staging / REPORT_JSON, directory / REPORT_JSON)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputWriteError(
            f"cannot write the report to {directory}: {reason}; no report was written"
        ) from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _relative_path(path: str | Path, directory: Path) -> str | None:
    """`path` relative to `directory` (URL slashes); None where there is none (another drive)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), directory.resolve())).as_posix()
    except ValueError:
        return None


def _same_file(a: Path, b: Path) -> bool:
    return b.exists() and os.path.samefile(a, b)


def _dumps(document: dict[str, Any]) -> str:
    import json

    return json.dumps(document, indent=2, allow_nan=False)


def report_document(
    report: EscalationReport,
    service: AudioFeatureService,
    *,
    info: AudioInfo,
    sha256: str,
    channel: int | None,
    outputs: dict[str, Any],
) -> dict[str, Any]:
    """The report.json document (see docs/report-schema.md)."""
    from gpuaudio import __version__

    body = report.to_dict()
    return {
        "schema": SCHEMA,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "input": {
            "path": info.path if info.path == STDIN else str(Path(info.path).resolve()),
            "name": _input_name(info),
            "sha256": sha256,
            "duration_s": info.duration_s,
            "sample_rate": info.sample_rate,
            "channels": info.channels,
            "format": info.format,
            "subtype": info.subtype,
            "channel_policy": "mean of all channels" if channel is None else f"channel {channel}",
        },
        "analysis": {
            "sample_rate": report.params.analysis_sr,
            "duration_s": body["duration_s"],
            "partial": body["partial"],
            "n_windows": body["n_windows"],
            "params": body["params"],
            "method": (
                "per speech window (voicing, spectral flatness, level above the noise floor): "
                "median F0 (st), RMS level (dB, with the gain a phone line's AGC took read "
                "back where the noise floor over the 10 s before and after the window lies "
                "lower: gain_change_db, at most max_gain_correction_db; a segment's "
                "level_change_db is the recorded level), spectral balance (dB), syllable "
                "rate and "
                "F0 variability, each a running median over context_s (the rate, a count, "
                "a running mean), as robust z-scores "
                "(median, 1.4826*MAD) against a baseline refitted without flagged windows "
                "and without the voice's sustained rises (below); "
                "with two voices on the channel (voices), each voice over its own nearest "
                "windows and against its own baseline (one told apart by timbre with a "
                "pitch scale of at least 1 st); score = sum(w*z) / |w|, also over "
                "sustained_context_s (score_sustained); a window is flagged when its score "
                "reaches threshold, or when it lies in a run of sustained_min_s or more whose "
                "score_sustained reaches sustained_threshold and its score is within "
                "sustained_score_margin of threshold (a run not kept as a whole is judged "
                "again without those windows); segments: "
                "flagged windows merged over gaps and pauses, at least min_duration_s long, "
                "and one shorter than short_segment_s with a mean score under threshold + "
                "short_score_margin only when its pitch rises short_min_pitch_rise_st or its "
                "level min_level_rise_db over its voice's baseline, and one shorter than "
                "floor_segment_s only when it lifts its voice's floor (20th percentile of "
                "the voiced frames' pitch) min_floor_rise_st (and short_min_floor_rise_st when "
                "shorter than short_segment_s) over the voice's calm speech with its pitch "
                "floor_min_pitch_rise_st up, or "
                "its level min_level_rise_db with the floor loud_min_floor_rise_st and the "
                "pitch loud_min_pitch_rise_st up (with two voices, a level rise counts over "
                "both voices' usual level)"
            ),
        },
        "baseline": body["baseline"],
        "voices": body["voices"],
        "segments": body["segments"],
        "summary": {
            "n_segments": len(report.segments),
            "escalated_s": body["escalated_s"],
            "escalated_fraction": body["escalated_s"] / body["duration_s"],
            "text": report.summary(),
        },
        "provenance": {
            "gpuaudio": __version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "libraries": _library_versions(),
            "device": service.device_info.describe(),
            "features": body["provenance"],
            "config": service.config.model_dump(mode="json"),
            "timing_s": body["timing_s"],
        },
        "outputs": outputs,
        "warnings": body["warnings"],
    }


def _input_name(info: AudioInfo) -> str:
    return "stdin" if info.path == STDIN else Path(info.path).name


def _library_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in ("numpy", "scipy", "soundfile", "librosa", "torch", "matplotlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


WINDOW_COLUMNS = (
    "start_s",
    "end_s",
    "f0_median_hz",
    "f0_variability_st",
    "f0_steadiness",
    "voiced_fraction",
    "level_dbfs",
    "gain_change_db",
    "balance_db",
    "syllable_rate_hz",
    "flatness",
    "speech",
    "voice",
    "z_pitch",
    "z_level",
    "z_balance",
    "z_rate",
    "z_variability",
    "score",
    "score_sustained",
    "flagged",
    "segment",
)


def windows_csv(report: EscalationReport) -> str:
    """One row per window; empty cells where a value is undefined (NaN); segment -1 = none."""
    columns = report.windows.columns()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(WINDOW_COLUMNS)
    formatters: dict[str, Callable[[Any], str]] = {
        "flagged": lambda v: str(int(v)),
        "speech": lambda v: str(int(v)),
        "segment": lambda v: str(int(v)),
    }
    for row in zip(*(columns[name] for name in WINDOW_COLUMNS), strict=True):
        writer.writerow(
            formatters.get(name, _number)(value)
            for name, value in zip(WINDOW_COLUMNS, row, strict=True)
        )
    return buffer.getvalue()


def _number(value: Any) -> str:
    number = float(value)
    return f"{number:.6g}" if np.isfinite(number) else ""


def textgrid(report: EscalationReport) -> str:
    """A Praat TextGrid (long text format) with one interval tier of the segments."""
    total = report.duration_s
    bounds: list[tuple[float, float, str]] = []
    cursor = 0.0
    for index, segment in enumerate(report.segments):
        start, end = max(segment.start_s, cursor), min(segment.end_s, total)
        if start > cursor:
            bounds.append((cursor, start, ""))
        voice = report.voice_label(segment)
        label = (
            f"escalation {index + 1} (peak {segment.peak_score:.1f}; {', '.join(segment.drivers)}"
            f"{'; ' + voice if voice else ''})"
        )
        bounds.append((start, end, label))
        cursor = end
    if cursor < total or not bounds:
        bounds.append((cursor, total, ""))
    lines = [
        'File type = "ooTextFile"',
        'Object class = "TextGrid"',
        "",
        "xmin = 0",
        f"xmax = {total!r}",
        "tiers? <exists>",
        "size = 1",
        "item []:",
        "    item [1]:",
        '        class = "IntervalTier"',
        f'        name = "{TEXTGRID_TIER}"',
        "        xmin = 0",
        f"        xmax = {total!r}",
        f"        intervals: size = {len(bounds)}",
    ]
    for number, (start, end, text) in enumerate(bounds, start=1):
        escaped = text.replace('"', '""')
        lines += [
            f"        intervals [{number}]:",
            f"            xmin = {start!r}",
            f"            xmax = {end!r}",
            f'            text = "{escaped}"',
        ]
    return "\n".join(lines) + "\n"


FIGURE_LEVEL_SPAN_DB = 30.0
"""The level axis spans at least this much: dithered silence must not zoom into fake activity."""


def figure_footer(report: EscalationReport, *, name: str, sha256: str) -> str:
    """The line that ties a figure to its recording and to what made it."""
    from gpuaudio import __version__

    f0 = report.provenance.get("f0", {})
    return (
        f"{name} · SHA-256 {sha256[:16]}… · gpuaudio {__version__} · F0 {f0.get('backend', '?')}"
        f" on {f0.get('device', '?')} · threshold {report.params.threshold:g} · "
        f"{len(report.segments)} segment(s), numbered as in report.json (1 = first)"
    )


def robust_limits(values: np.ndarray, *, min_span: float, log: bool = False) -> tuple[float, float]:
    """Axis limits from the 1st-99th percentiles of the finite values (octave spikes and
    outliers outside), padded, at least `min_span` wide (a ratio when `log`)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (50.0, 500.0) if log else (-60.0, 0.0)
    lo, hi = (float(v) for v in np.percentile(finite, [1, 99]))
    if log:
        lo, hi = lo / 1.15, hi * 1.15
        if hi / lo < min_span:
            centre = math.sqrt(lo * hi)
            lo, hi = centre / math.sqrt(min_span), centre * math.sqrt(min_span)
        return lo, hi
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    if hi - lo < min_span:
        centre = (lo + hi) / 2
        lo, hi = centre - min_span / 2, centre + min_span / 2
    return lo, hi


_FIGURE_LINE = 0.0175
"""Height of a line of 7-9 pt text as a share of the 7.4-inch figure."""


def render_figure(
    report: EscalationReport, *, title: str, footer: str = ""
) -> tuple[bytes | None, str | None]:
    """PNG bytes of level, F0 contour and score over time with the segments shaded and
    numbered (as in report.json, from 1), a clock axis (m:ss, h:mm:ss from an hour), robust
    axis limits (F0 values outside marked at the edge) and `footer` under the plots.

    Returns ``(None, reason)`` when matplotlib is not installed (``pip install gpuaudio[report]``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
        from matplotlib.ticker import FuncFormatter
    except ImportError as exc:
        return None, f"matplotlib is not installed ({exc}); pip install 'gpuaudio[report]'"
    from gpuaudio.analysis.escalation import clock

    windows = report.windows
    middle = (windows.start_s + windows.end_s) / 2
    figure = Figure(figsize=(12, 7.4), dpi=110)
    level_ax, f0_ax, score_ax = figure.subplots(3, 1, sharex=True)
    level_ax.plot(middle, windows.level_dbfs, color="tab:blue", lw=0.9)
    level_ax.set_ylim(*robust_limits(windows.level_dbfs, min_span=FIGURE_LEVEL_SPAN_DB))
    level_ax.set_ylabel("level (dBFS)")
    contour = report.contour
    low, high = robust_limits(
        np.concatenate([contour.f0_hz, windows.f0_median_hz]), min_span=2.0, log=True
    )
    f0_ax.set_yscale("log")
    f0_ax.plot(contour.times_s, np.clip(contour.f0_hz, low, high), ".", ms=1.2, color="0.55",
               label="frames")
    outside = np.isfinite(contour.f0_hz) & ((contour.f0_hz > high) | (contour.f0_hz < low))
    if outside.any():
        f0_ax.plot(contour.times_s[outside], np.clip(contour.f0_hz[outside], low, high), "|",
                   ms=5, color="k", label=f"outside the axis ({int(outside.sum())} frames)")
    f0_ax.plot(middle, windows.f0_median_hz, color="tab:green", lw=1.0, label="window median")
    f0_ax.set_ylim(low, high)
    hertz = FuncFormatter(lambda value, _: f"{value:.0f}")
    f0_ax.yaxis.set_major_formatter(hertz)
    f0_ax.yaxis.set_minor_formatter(hertz)
    f0_ax.tick_params(axis="y", which="minor", labelsize=7)
    f0_ax.set_ylabel("F0 (Hz, log)")
    score_ax.plot(middle, windows.score, color="tab:red", lw=0.9)
    score_ax.axhline(report.params.threshold, color="k", ls="--", lw=0.8, label="threshold")
    score_ax.set_ylabel("arousal score (robust z)")
    score_ax.set_xlabel("time (h:mm:ss)" if report.duration_s >= 3600 else "time (m:ss)")
    for axis in (level_ax, f0_ax, score_ax):
        for segment in report.segments:
            axis.axvspan(segment.start_s, segment.end_s, facecolor="tab:orange", alpha=0.25,
                         hatch="//", edgecolor="tab:orange", lw=0)
        axis.grid(alpha=0.3)
    for number, segment in enumerate(report.segments, start=1):
        score_ax.annotate(str(number), ((segment.start_s + segment.end_s) / 2, 1.0),
                          xycoords=("data", "axes fraction"), ha="center", va="bottom",
                          fontsize=8, fontweight="bold", annotation_clip=False)
    shading = Patch(facecolor="tab:orange", alpha=0.25, hatch="//", edgecolor="tab:orange",
                    label="escalation segment (numbered)")
    score_ax.legend(handles=[*score_ax.get_legend_handles_labels()[0], shading],
                    loc="upper right", fontsize=8)
    f0_ax.legend(loc="upper right", fontsize=8)
    score_ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: clock(max(value, 0.0))))
    score_ax.set_xlim(0, report.duration_s)
    heading = textwrap.fill(f"{title}: {report.summary()}", 160)
    figure.suptitle(heading, fontsize=9, y=0.995, va="top")
    below = textwrap.fill(footer, 190) if footer else ""
    if below:
        figure.supxlabel(below, fontsize=7, color="0.3", y=0.005, va="bottom")
    # Fixed margins sized by the lines of text above and below (a constrained layout measures
    # every label again: ~30 % of the figure's time, which batch pays per recording).
    figure.subplots_adjust(
        left=0.052, right=0.992, hspace=0.09,
        top=0.99 - _FIGURE_LINE * 1.25 * (heading.count("\n") + 1),
        bottom=0.068 + (_FIGURE_LINE * (below.count("\n") + 1) if below else 0.0),
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue(), None


def analyze_to_folder(
    service: AudioFeatureService,
    path: str | Path,
    directory: str | Path,
    params: EscalationParams | None = None,
    *,
    channel: int | None = None,
    force: bool = False,
    chunk_s: float | None = None,
    progress: Progress | None = None,
    html: bool = True,
    embed_audio: bool = False,
    copy_audio: bool = True,
    sha256: str | None = None,
    blocks: Iterable[np.ndarray] | None = None,
) -> tuple[EscalationReport, dict[str, str | None]]:
    """Analyse one file (streamed) and write its outputs (see `write_report`); the CLI's unit
    of work.

    Outputs are checked before the analysis starts, so a refusal to overwrite costs nothing.
    `sha256` (the file's, when already known) and `blocks` (its decoded audio, see
    `detect_escalation_file`) save a batch worker reading the file twice.
    """
    from gpuaudio.analysis.escalation import detect_escalation_file
    from gpuaudio.audio_io import audio_info, sha256_file

    recording = copied_recording(
        path, directory, html=html, embed_audio=embed_audio, copy_audio=copy_audio
    )
    check_outputs(directory, force=force, recording=recording)
    audio_info(path)  # fail on a missing or corrupt file before hashing it
    digest = sha256 or sha256_file(path)
    report, info = detect_escalation_file(
        service, path, params, channel=channel, chunk_s=chunk_s, progress=progress, blocks=blocks
    )
    if progress:
        progress("writing outputs", 1.0)
    written = write_report(
        directory, report, service, info=info, sha256=digest, channel=channel, force=force,
        html=html, embed_audio=embed_audio, copy_audio=copy_audio,
    )
    return report, written
