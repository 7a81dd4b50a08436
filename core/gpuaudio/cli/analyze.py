"""`gpuaudio analyze`: escalation analysis of files into report folders."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from gpuaudio._text import printable
from gpuaudio.cli._common import (
    add_analysis_options,
    backends_used,
    file_progress,
    page_options,
    params_from_args,
    service_from_args,
)
from gpuaudio.errors import GpuAudioError
from gpuaudio.progress import Progress


def output_folders(files: list[str]) -> list[str]:
    """Each input's output folder under -o, one per input: its safe file stem; where stems
    clash, the stem and extension (``call_wav``, ``call_flac``), then also the parent folder
    (``site1__call_wav``)."""
    from gpuaudio.analysis.report import output_folder_name, safe_name

    def with_extension(name: str) -> str:
        return safe_name(f"{Path(name).stem}_{Path(name).suffix.lstrip('.')}")

    def with_parent(name: str) -> str:
        return safe_name(f"{Path(name).resolve().parent.name}__{with_extension(name)}")

    def clashing(folders: list[str]) -> set[str]:
        """Folders another input's folder names too, whatever the case (macOS, Windows)."""
        counts = Counter(folder.casefold() for folder in folders)
        return {folder for folder in folders if counts[folder.casefold()] > 1}

    folders = [output_folder_name(name) for name in files]
    for widen in (with_extension, with_parent):
        clashes = clashing(folders)
        folders = [
            widen(name) if folder in clashes else folder
            for name, folder in zip(files, folders, strict=True)
        ]
    clashes = clashing(folders)
    if clashes:
        raise GpuAudioError(
            f"several inputs would share the output folder(s) {', '.join(sorted(clashes))} "
            "under -o (the same file given twice?); analyse them in separate runs"
        )
    return folders


def run(args: argparse.Namespace) -> int:
    """Escalation analysis of each FILE into DIR/<safe file stem>/; one line per failed file."""
    from gpuaudio.analysis.report import analyze_to_folder

    stems = output_folders(args.files)
    service = service_from_args(args)
    params = params_from_args(args)
    pages = page_options(args)
    durations = [_duration(name) for name in args.files]
    several = len(args.files) > 1
    started = time.perf_counter()
    failed, audio_s, lines = 0, 0.0, []
    with Progress("analyze", sum(durations), enabled=not args.quiet) as bar:
        for number, (name, stem, duration) in enumerate(
            zip(args.files, stems, durations, strict=True), start=1
        ):
            label = Path(name).name
            if several:
                label = f"[{number}/{len(args.files)}] {label}"
            progress = file_progress(bar, label, sum(durations[: number - 1]), duration)
            try:
                report, _ = analyze_to_folder(
                    service, name, Path(args.output) / stem, params, channel=args.channel,
                    force=args.force, progress=progress, **pages,
                )
            except GpuAudioError as exc:
                where = "" if str(name) in str(exc) else f"{name}: "
                bar.write(f"gpuaudio: error: {printable(where)}{printable(exc)}")
                failed += 1
                continue
            finally:
                bar.update(sum(durations[:number]))
            audio_s += report.duration_s
            folder = Path(args.output) / stem
            lines.append(printable(f"{name}: {report.summary()}; report in {folder}"))
            if not args.quiet:  # on stderr, apart from the results a script may parse
                for text in report.warnings:
                    bar.write(f"gpuaudio: warning: {printable(name)}: {printable(text)}")
    if not args.quiet and lines:
        done = len(args.files) - failed
        print("\n".join(lines))
        print(
            f"Analysed {done} of {len(args.files)} file(s), {audio_s / 60:.1f} min of audio, in "
            f"{time.perf_counter() - started:.1f} s; {backends_used(report)}; "
            f"device: {service.device_info.describe()}."
        )
    return 2 if failed else 0


def _duration(path: str) -> float:
    """Seconds of audio in `path` for the progress bar; 0 when it cannot be read (its
    analysis then fails with the reason)."""
    from gpuaudio.audio_io import audio_info

    try:
        info = audio_info(path)
    except GpuAudioError:
        return 0.0
    return info.frames / info.sample_rate


def add_parser(verbs: Any) -> None:
    """Add the verb to the `gpuaudio` parser's subcommands."""
    analyze = verbs.add_parser(
        "analyze", help="emotional-escalation analysis: report, CSV, figure, Praat TextGrid"
    )
    analyze.add_argument("files", nargs="+", metavar="FILE", help="wav, flac, ogg or mp3")
    analyze.add_argument("-o", "--output", default="out", metavar="DIR",
                         help="outputs go to DIR/<file name without extension>/ (default: out)")
    analyze.add_argument("--channel", type=int, default=None, metavar="N",
                         help="analyse channel N (0-based) instead of the mean of all channels")
    add_analysis_options(analyze)
    analyze.set_defaults(run=run)
