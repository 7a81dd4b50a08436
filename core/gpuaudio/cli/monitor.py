"""`gpuaudio monitor`: live escalation analysis of a stream."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from gpuaudio._text import printable
from gpuaudio.cli._common import (
    add_analysis_options,
    backends_used,
    page_options,
    params_from_args,
    service_from_args,
)


class StreamStopped(BaseException):
    """Raised out of a blocking read when a stop signal arrives (see `StopOnInterrupt`)."""


class StopOnInterrupt:
    """Within it, the first Ctrl-C (SIGINT) or SIGTERM sets `requested` (and `signal_name`)
    instead of ending the program, so a monitored stream ends cleanly and its report is still
    written; if the program is waiting for input at that moment, `StreamStopped` is raised out
    of the read (`reading` says when). A second signal of the same kind acts as usual."""

    _SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self.reading = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():  # else signals can't be set
            for name in self._SIGNALS:
                number = getattr(signal, name)
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def _restore(self, number: int | None = None) -> None:
        import signal

        for each in [number] if number is not None else list(self._previous):
            if each in self._previous:  # None: the previous handler was not set from Python
                previous = self._previous.pop(each)
                fallback = signal.default_int_handler if each == signal.SIGINT else signal.SIG_DFL
                signal.signal(each, previous or fallback)

    def _handle(self, signum: int, frame: Any) -> None:
        import signal

        self.requested = True
        self.signal_name = signal.Signals(signum).name
        self._restore(signum)
        if self.reading:
            raise StreamStopped

    def __exit__(self, *exc: object) -> None:
        self._restore()


def run(args: argparse.Namespace) -> int:
    """Live escalation analysis of a stream: a file played as one, or raw PCM on stdin.

    One line per window (and per segment event) as the audio arrives; at the end, the offline
    report of the whole stream, written like `analyze`'s with -o.
    """
    from gpuaudio.analysis.report import (
        STDIN,
        check_outputs,
        copied_recording,
        output_folder_name,
        write_report,
    )
    from gpuaudio.analysis.streaming import BAD_SAMPLES, EscalationMonitor
    from gpuaudio.audio_io import AudioInfo, PcmReader, audio_info, sha256_file, stream_audio
    from gpuaudio.errors import GpuAudioError, InvalidParameterError

    from_stdin = args.input == STDIN
    raw_options = [
        f"--{name}" for name in ("sr", "format", "channels") if getattr(args, name) is not None
    ]
    if from_stdin and args.sr is None:
        raise InvalidParameterError("raw PCM on stdin (-) needs its sample rate: pass --sr N")
    if not from_stdin and raw_options:
        raise InvalidParameterError(
            f"{', '.join(raw_options)} describe raw PCM on stdin (-); a file says its own"
        )
    if not 0 < args.block < 3600:
        raise InvalidParameterError(f"--block must be above 0 and under 3600 s, got {args.block}")
    folder = Path(args.output or ".") / ("stdin" if from_stdin else output_folder_name(args.input))
    pages = page_options(args)
    if args.output:
        recording = None if from_stdin else copied_recording(args.input, folder, **pages)
        # fail before the stream, not after it
        check_outputs(folder, force=args.force, recording=recording)
    reader: PcmReader | None = None
    if from_stdin:
        sr, digest = args.sr, ""
        reader = PcmReader(
            sys.stdin.buffer, args.format or "s16le",
            channels=1 if args.channels is None else args.channels,
            channel=args.channel, block_frames=round(args.block * args.sr),
        )
        blocks: Any = iter(reader)
    else:
        info = audio_info(args.input)
        sr = info.sample_rate
        digest = sha256_file(args.input) if args.output else ""
        blocks = stream_audio(args.input, sr, channel=args.channel, block_s=args.block)
    params = params_from_args(args)
    monitor = EscalationMonitor(service_from_args(args), params, sr=sr, bad_samples="silence")
    shown = 0  # segment events printed

    def show(windows: list[Any]) -> None:
        nonlocal shown
        for window in windows:
            if not (args.quiet or args.events_only):
                print(window.line(params.min_baseline_windows), flush=True)
            for event in window.events:
                if not args.quiet:
                    print(event.line(), flush=True)
                shown += 1

    started = time.monotonic()
    failure: GpuAudioError | None = None  # what made the input unreadable from some point on
    with StopOnInterrupt() as stop:
        iterator = iter(blocks)
        while not stop.requested:
            stop.reading = True
            try:
                block = next(iterator, None)
            except StreamStopped:
                break
            except GpuAudioError as exc:  # e.g. a file's bad samples: keep what came before
                failure = exc
                break
            finally:
                stop.reading = False
            if block is None:
                break
            if args.realtime:  # a block is there once its last sample has been "played"
                time.sleep(max(0.0, started + monitor.fed_s + len(block) / sr - time.monotonic()))
            silenced = len(monitor.silenced)
            show(monitor.feed(block))
            for at_s, count in monitor.silenced[silenced:]:
                print(f"gpuaudio: warning: {count} bad sample(s) ({BAD_SAMPLES}) at {at_s:.2f} s "
                      "replaced by silence; the stream goes on", file=sys.stderr)  # fmt: skip
    show(monitor.flush())
    if failure is not None and not monitor.windows:
        raise failure  # not one window heard: no report to write
    for event in monitor.events[shown:]:  # a segment still open when the stream ended
        if not args.quiet:
            print(event.line() + " (end of stream)", flush=True)
    report = monitor.finish()
    stopped_by = stop.signal_name or (f"an error ({failure})" if failure else None)
    if stopped_by:
        report.partial = True
        whole = "" if from_stdin else f" of the {info.duration_s:.1f}-s file"
        report.warnings.append(
            f"the stream was stopped by {stopped_by} after {monitor.fed_s:.1f} s{whole}: "
            "this report covers that part only"
        )
    if reader is not None:
        if reader.stray_bytes:
            print(f"gpuaudio: warning: the stream ended inside a sample frame; "
                  f"{reader.stray_bytes} stray byte(s) ignored", file=sys.stderr)
        subtype = {"s16le": "PCM_16", "f32le": "FLOAT"}[reader.fmt]
        info = AudioInfo(STDIN, sr, reader.channels, reader.frames, "RAW", subtype)
        digest = reader.sha256
    if not args.quiet:
        print(f"Final report (offline, whole stream): {report.summary()}")
        for text in report.warnings:
            print(f"  warning: {printable(text)}")
    if args.output:
        write_report(
            folder, report, monitor.service, info=info, sha256=digest, channel=args.channel,
            force=args.force, **pages,
        )
        if not args.quiet:
            print(printable(f"Wrote the report to {folder}; {backends_used(report)}."))
    if failure is not None:
        raise failure  # the session so far is reported; the error still ends it
    return 0


def add_parser(verbs: Any) -> None:
    """Add the verb to the `gpuaudio` parser's subcommands."""
    monitor = verbs.add_parser(
        "monitor", help="live escalation analysis of a stream (a file played as one, or stdin)"
    )
    monitor.add_argument("input", metavar="FILE|-",
                         help="an audio file played as a stream, or - for raw PCM on stdin")
    monitor.add_argument("--sr", type=int, metavar="HZ", help="sample rate of the raw PCM on stdin")
    monitor.add_argument("--format", choices=("s16le", "f32le"),
                         help="sample format of the raw PCM on stdin (default s16le)")
    monitor.add_argument("--channels", type=int, metavar="N",
                         help="interleaved channels of the raw PCM on stdin (default 1)")
    monitor.add_argument("--channel", type=int, default=None, metavar="N",
                         help="analyse channel N (0-based) instead of the mean of all channels")
    monitor.add_argument("--realtime", action="store_true",
                         help="pace the input at real time, as if a file were a live call "
                              "(default: as fast as it is read)")
    monitor.add_argument("--block", type=float, default=0.1, metavar="SECONDS",
                         help="audio per read (default %(default)s s)")
    monitor.add_argument("--events-only", action="store_true",
                         help="print segment events only, not one line per window")
    monitor.add_argument("-o", "--output", default=None, metavar="DIR",
                         help="at the end, write analyze's outputs to DIR/<file name without "
                              "extension>/ (DIR/stdin/ for -)")
    add_analysis_options(monitor)
    monitor.set_defaults(run=run)
