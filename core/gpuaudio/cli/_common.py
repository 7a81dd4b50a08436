"""What several verbs share: service and parameters from the command line, progress, options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from gpuaudio.progress import Progress


def file_progress(
    bar: Progress, label: str, start_s: float, duration_s: float
) -> Callable[[str, float], None]:
    """The analysis' ``progress(stage, fraction)`` callback for one file of `duration_s`
    seconds that begins `start_s` into `bar`'s total; the label shows the file's own position
    when the bar covers several files."""
    from gpuaudio.analysis.escalation import clock

    several = duration_s < bar.total
    bar.label = label

    def report(stage: str, fraction: float) -> None:
        done = fraction * duration_s
        bar.label = f"{label} {clock(done)}/{clock(duration_s)}" if several else label
        bar.update(start_s + done, stage)

    return report


def service_from_args(args: argparse.Namespace) -> Any:
    """An AudioFeatureService from --config, --device and --backend FEATURE=NAME, for an
    analysis command: this process keeps freed memory for reuse from now on (not for
    ``gpuaudio bench``, whose memory columns measure what each case allocates)."""
    from gpuaudio._allocator import keep_freed_memory
    from gpuaudio.backends import FEATURES
    from gpuaudio.config import load_config
    from gpuaudio.errors import ConfigError
    from gpuaudio.service import AudioFeatureService

    overrides: dict[str, Any] = {}
    if args.device:
        overrides["device"] = args.device
    for choice in args.backend or ():
        feature, _, name = choice.partition("=")
        if feature not in FEATURES or not name:
            raise ConfigError(
                f"--backend wants FEATURE=NAME with FEATURE one of {', '.join(FEATURES)}, "
                f"got {choice!r}"
            )
        overrides.setdefault("backends", {})[feature] = name
    keep_freed_memory()
    return AudioFeatureService(load_config(args.config, **overrides))


def params_from_args(args: argparse.Namespace) -> Any:
    from gpuaudio.analysis.params import EscalationParams

    return EscalationParams(
        window_s=_given(args.window), hop_s=args.hop, threshold=_given(args.threshold),
        min_duration_s=_given(args.min_duration), min_pitch_rise_st=args.min_pitch_rise,
        short_segment_s=_given(args.short_segment), floor_segment_s=_given(args.floor_segment),
        max_gain_correction_db=_given(args.max_gain_correction),
        sustained_context_s=_given(args.sustained_context),
    ).validate()


class _Default:
    """An `EscalationParams` default, read only when used or shown in ``--help``: building the
    parser then imports no numpy, which ``gpuaudio --version`` would otherwise wait for."""

    def __init__(self, field: str) -> None:
        self.field = field

    def value(self) -> float:
        from gpuaudio.analysis.params import EscalationParams

        return float(getattr(EscalationParams(), self.field))

    def __str__(self) -> str:
        return str(self.value())


def _given(value: float | _Default) -> float:
    return value.value() if isinstance(value, _Default) else value


def backends_used(report: Any) -> str:
    """The F0 backend of an escalation report, and why the analysis took it (its provenance)."""
    f0 = report.provenance.get("f0")
    if f0 is None:
        return "no F0 backend ran"
    version = f" {f0['version']}" if f0.get("version") else ""
    return (
        f"F0 by {f0['backend']} ({f0['distribution']}{version}) on {f0['device']}, "
        f"{f0['precision']}, chosen because: {f0['reason']}; level by numpy RMS"
    )


class PageOptions(TypedDict):
    """`analyze_to_folder`'s and `write_report`'s options for report.html."""

    html: bool
    embed_audio: bool


def page_options(args: argparse.Namespace) -> PageOptions:
    """The report page's options from --no-html and --embed-audio."""
    from gpuaudio.errors import InvalidParameterError

    if args.no_html and args.embed_audio:
        raise InvalidParameterError("--embed-audio puts the audio in report.html: drop --no-html")
    return {"html": not args.no_html, "embed_audio": args.embed_audio}


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="gpuaudio TOML config file")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N (overrides the config)")
    parser.add_argument(
        "--backend", action="append", metavar="FEATURE=NAME",
        help="backend for a feature, e.g. f0=crepe (repeatable; overrides the config)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--no-html", action="store_true",
                        help="write no report.html page (nor the copy of the recording for it)")
    parser.add_argument("--embed-audio", action="store_true",
                        help="inline the recording in report.html (Ogg/Vorbis, mono, 16 kHz) "
                             "instead of a copy beside it")
    parser.add_argument("--window", type=float, default=_Default("window_s"), metavar="SECONDS",
                        help="analysis window (default %(default)s s)")
    parser.add_argument("--hop", type=float, default=None, metavar="SECONDS",
                        help="window step (default: the window, i.e. no overlap)")
    parser.add_argument("--threshold", type=float, default=_Default("threshold"),
                        help="arousal score that flags a window (default %(default)s; higher: "
                             "fewer pointers on lively, unscripted talk, e.g. 3.5, and fewer "
                             "planted rises found: docs/escalation.md, operating curve)")
    parser.add_argument("--min-duration", type=float, default=_Default("min_duration_s"),
                        metavar="SECONDS", help="shortest segment kept (default %(default)s s)")
    parser.add_argument("--min-pitch-rise", type=float, default=None, metavar="SEMITONES",
                        help="keep only segments whose pitch rises this far over the baseline "
                             "or that are 6 dB louder (default: off)")
    parser.add_argument("--short-segment", type=float, default=_Default("short_segment_s"),
                        metavar="SECONDS",
                        help="a segment shorter than this with a mean score under threshold + "
                             "1 is kept only when its pitch rises 3 st or its level 6 dB "
                             "(default %(default)s s; 0: off)")
    parser.add_argument("--floor-segment", type=float, default=_Default("floor_segment_s"),
                        metavar="SECONDS",
                        help="a segment shorter than this is kept only when it lifts the "
                             "voice's floor (20th percentile of its pitch) 2 st (2.75 st "
                             "under the short segment's length) or its level 6 dB (default "
                             "%(default)s s; 0: off)")
    parser.add_argument("--sustained-context", type=float,
                        default=_Default("sustained_context_s"), metavar="SECONDS",
                        help="a second, longer time context: a rise that lasts 20 s or more "
                             "and scores high over it is flagged where the short context "
                             "leaves it just under the threshold (default %(default)s s; 0: "
                             "off)")
    parser.add_argument("--max-gain-correction", type=float,
                        default=_Default("max_gain_correction_db"), metavar="DB",
                        help="level a phone line's AGC took away, read back from the noise "
                             "floor, at most this (default %(default)s dB; 0: off, for "
                             "recordings whose background noise stops)")

