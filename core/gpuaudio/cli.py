"""The ``gpuaudio`` command line. Each verb is a ``_cmd_<verb>(args) -> exit code`` function."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gpuaudio import __version__
from gpuaudio.errors import GpuAudioError


def _cmd_plugins(args: argparse.Namespace) -> int:
    """Table of every backend: feature, plugin, eligible here or why not, install hint."""
    from gpuaudio import device
    from gpuaudio.config import load_config
    from gpuaudio.plugins import make_plugin_manager
    from gpuaudio.resolver import resolve

    config = load_config(args.config)
    registry = make_plugin_manager()
    info = device.probe()
    print(f"device: {info.describe()}")
    rows = [("feature", "backend", "plugin", "status", "install")]
    for feature in ("f0", "stft", "mel", "cqt"):
        specs = registry.specs(feature)
        res = resolve(feature, specs, info, device_setting=config.device)
        chosen = res.ranked[0].spec.name if res.ranked else None
        for cand in res.ranked:
            mark = "SELECTED" if cand.spec.name == chosen else "eligible"
            rows.append((feature, cand.spec.name, cand.spec.plugin, f"{mark} on {cand.device}", ""))
        for rej in res.rejected:
            hint = rej.spec.install_hint if rej.needs_install else ""
            reason = rej.reason.split("; install with:")[0]
            rows.append((feature, rej.spec.name, rej.spec.plugin, f"no: {reason}", hint))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        print(("  ".join(cells) + "  " + row[4]).rstrip())
    if not any("cuda" in spec.devices for spec in registry.all_specs()):
        print("\nno GPU backend is installed: pip install 'gpuaudio[crepe,nnaudio]'")
    if registry.failures:
        print("\nplugins that failed to load:")
        for failure in registry.failures:
            print(f"  {failure.plugin} ({failure.distribution}): {failure.error}")
    return 0



def _cmd_bench(args: argparse.Namespace) -> int:
    """Time every eligible backend against librosa in one run; print a table, write JSON."""
    from gpuaudio import bench

    features = bench.parse_features(args.features)
    if args.json:
        bench.check_output(args.json, force=args.force)  # fail before the run, not after it
    changes: dict[str, Any] = {"features": features, "baseline_windows": args.baseline_windows}
    if args.known_f0 is not None:
        from gpuaudio.speechset import load_set

        load_set(args.known_f0)  # a bad set fails before the run, not after it
        changes["known_f0"] = str(args.known_f0)
    for key in ("minutes", "repeats", "sr", "case_budget_s"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    workload = bench.Workload.quick(**changes) if args.quick else bench.Workload(**changes)

    def progress(text: str) -> None:
        if not args.quiet:
            print(f"bench: {text}", file=sys.stderr, flush=True)

    def save(report: bench.BenchReport) -> None:  # after each feature: partial results survive
        if args.json:
            bench.write_json(report, args.json, force=True)

    report = bench.run_bench(workload, progress=progress, checkpoint=save)
    print(f"device: {report.machine['device']}; CPU: {report.machine['cpu']}")
    print(report.table())
    if args.json:
        print(f"wrote {args.json}")
    return 0


class _ProgressLine:
    """A one-line progress display on stderr, redrawn in place (only on a terminal)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.started = time.perf_counter()

    def __call__(self, stage: str, fraction: float) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.started
            line = f"{self.label}: {stage} {100 * fraction:3.0f}%  {elapsed:6.1f} s"
            print(f"\r{line:<78}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print("\r" + " " * 78 + "\r", end="", file=sys.stderr, flush=True)


def _service(args: argparse.Namespace) -> Any:
    """An AudioFeatureService from --config, --device and --backend FEATURE=NAME."""
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
    return AudioFeatureService(load_config(args.config, **overrides))


def _params(args: argparse.Namespace) -> Any:
    from gpuaudio.escalation import EscalationParams

    return EscalationParams(
        window_s=args.window, hop_s=args.hop, threshold=args.threshold,
        min_duration_s=args.min_duration,
    ).validate()


def _backends_used(service: Any) -> str:
    f0 = service.provenance.get("f0")
    if f0 is None:
        return "no F0 backend ran"
    version = f" {f0.version}" if f0.version else ""
    return (
        f"F0 by {f0.backend} ({f0.distribution}{version}) on {f0.device}, {f0.precision}, "
        f"chosen because: {f0.reason}; level by numpy RMS"
    )


def _cmd_analyze(args: argparse.Namespace) -> int:
    """Escalation analysis of each FILE into DIR/<file stem>/; one line per failed file."""
    from gpuaudio.report import analyze_to_folder

    stems = [Path(name).stem for name in args.files]
    clashes = sorted({stem for stem in stems if stems.count(stem) > 1})
    if clashes:
        raise GpuAudioError(
            f"several inputs are named {', '.join(clashes)}: their outputs would share a folder "
            "under -o; analyse them in separate runs with different -o folders"
        )
    service = _service(args)
    params = _params(args)
    show = not args.quiet and sys.stderr.isatty()
    started = time.perf_counter()
    failed, audio_s, lines = 0, 0.0, []
    for name, stem in zip(args.files, stems, strict=True):
        progress = _ProgressLine(Path(name).name, show)
        try:
            report, _ = analyze_to_folder(
                service, name, Path(args.output) / stem, params, channel=args.channel,
                force=args.force, progress=progress,
            )
        except GpuAudioError as exc:
            progress.close()
            print(f"gpuaudio: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        progress.close()
        audio_s += report.duration_s
        lines.append(f"{name}: {report.summary()}; report in {Path(args.output) / stem}")
        if report.warnings and not args.quiet:
            lines.extend(f"  warning: {text}" for text in report.warnings)
    if not args.quiet and lines:
        done = len(args.files) - failed
        print("\n".join(lines))
        print(
            f"Analysed {done} of {len(args.files)} file(s), {audio_s / 60:.1f} min of audio, in "
            f"{time.perf_counter() - started:.1f} s; {_backends_used(service)}; "
            f"device: {service.device_info.describe()}."
        )
    return 2 if failed else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """Synthesise the built-in example call, analyse it, compare with the known spans."""
    import soundfile as sf

    from gpuaudio.errors import OutputExistsError
    from gpuaudio.metrics import interval_scores
    from gpuaudio.report import analyze_to_folder, check_outputs
    from gpuaudio.synth import demo_call

    folder = Path(args.output)
    audio_path = folder / "demo_call.wav"
    if audio_path.exists() and not args.force:
        raise OutputExistsError(f"{audio_path} exists; pass --force to overwrite or use -o")
    check_outputs(folder, force=args.force)
    service = _service(args)
    audio, truth = demo_call(sr=16000, seed=0)
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(audio_path, audio, truth.sr, subtype="PCM_16")
    started = time.perf_counter()
    progress = _ProgressLine("demo", not args.quiet and sys.stderr.isatty())
    report, written = analyze_to_folder(
        service, audio_path, folder, _params(args), force=args.force, progress=progress
    )
    progress.close()
    found = [(s.start_s, s.end_s) for s in report.segments]
    scores = interval_scores(truth.escalations, found, duration_s=report.duration_s)
    if not args.quiet:
        spans = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in truth.escalations)
        print(
            f"Demo: a synthetic {report.duration_s:.0f}-second call with escalations at {spans}. "
            f"{report.summary()}. Against the known spans: time recall {scores.recall:.0%}, "
            f"precision {scores.precision:.0%}, {scores.false_alarms} false alarm(s). "
            f"Took {time.perf_counter() - started:.1f} s; {_backends_used(service)}. "
            f"Wrote {audio_path} and its report ({', '.join(v for v in written.values() if v)})."
        )
    return 0


class _StopOnInterrupt:
    """Within it, the first Ctrl-C (SIGINT) sets `requested` instead of raising, so a monitored
    stream can end cleanly and its report still be written; a second Ctrl-C interrupts."""

    def __init__(self) -> None:
        self.requested = False
        self._installed = False
        self._previous: Any = None

    def __enter__(self) -> _StopOnInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():  # else signals can't be set
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _restore(self) -> None:
        import signal

        if self._installed:  # None: the previous handler was not set from Python
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            self._installed = False

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        self._restore()

    def __exit__(self, *exc: object) -> None:
        self._restore()


def _cmd_monitor(args: argparse.Namespace) -> int:
    """Live escalation analysis of a stream: a file played as one, or raw PCM on stdin.

    One line per window (and per segment event) as the audio arrives; at the end, the offline
    report of the whole stream, written like `analyze`'s with -o.
    """
    from gpuaudio.audio_io import AudioInfo, PcmReader, audio_info, sha256_file, stream_audio
    from gpuaudio.errors import InvalidParameterError
    from gpuaudio.report import STDIN, check_outputs, write_report
    from gpuaudio.streaming import EscalationMonitor

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
    if not args.block > 0:
        raise InvalidParameterError(f"--block must be above 0 s, got {args.block}")
    folder = Path(args.output or ".") / ("stdin" if from_stdin else Path(args.input).stem)
    if args.output:
        check_outputs(folder, force=args.force)  # fail before the stream, not after it
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
    params = _params(args)
    monitor = EscalationMonitor(_service(args), params, sr=sr)
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
    with _StopOnInterrupt() as stop:
        for block in blocks:
            if args.realtime:  # a block is there once its last sample has been "played"
                time.sleep(max(0.0, started + monitor.fed_s + len(block) / sr - time.monotonic()))
            show(monitor.feed(block))
            if stop.requested:
                break
    show(monitor.flush())
    for event in monitor.events[shown:]:  # a segment still open when the stream ended
        if not args.quiet:
            print(event.line() + " (end of stream)", flush=True)
    report = monitor.finish()
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
            print(f"  warning: {text}")
    if args.output:
        write_report(
            folder, report, monitor.service, info=info, sha256=digest, channel=args.channel,
            force=args.force,
        )
        if not args.quiet:
            print(f"Wrote the report to {folder}; {_backends_used(monitor.service)}.")
    return 0


def _add_analysis_options(parser: argparse.ArgumentParser) -> None:
    from gpuaudio.escalation import EscalationParams

    defaults = EscalationParams()
    parser.add_argument("--config", help="gpuaudio TOML config file")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N (overrides the config)")
    parser.add_argument(
        "--backend", action="append", metavar="FEATURE=NAME",
        help="backend for a feature, e.g. f0=crepe (repeatable; overrides the config)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--window", type=float, default=defaults.window_s, metavar="SECONDS",
                        help="analysis window (default %(default)s s)")
    parser.add_argument("--hop", type=float, default=None, metavar="SECONDS",
                        help="window step (default: the window, i.e. no overlap)")
    parser.add_argument("--threshold", type=float, default=defaults.threshold,
                        help="arousal score that flags a window (default %(default)s)")
    parser.add_argument("--min-duration", type=float, default=defaults.min_duration_s,
                        metavar="SECONDS", help="shortest segment kept (default %(default)s s)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every verb."""
    parser = argparse.ArgumentParser(
        prog="gpuaudio", description="GPU-accelerated, librosa-compatible audio features."
    )
    parser.add_argument("--version", action="version", version=f"gpuaudio {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    plugins = verbs.add_parser("plugins", help="list backends: eligible here, or why not")
    plugins.add_argument("--config", help="gpuaudio TOML config file")
    plugins.set_defaults(run=_cmd_plugins)

    analyze = verbs.add_parser(
        "analyze", help="emotional-escalation analysis: report, CSV, figure, Praat TextGrid"
    )
    analyze.add_argument("files", nargs="+", metavar="FILE", help="wav, flac, ogg or mp3")
    analyze.add_argument("-o", "--output", default="out", metavar="DIR",
                         help="outputs go to DIR/<file name without extension>/ (default: out)")
    analyze.add_argument("--channel", type=int, default=None, metavar="N",
                         help="analyse channel N (0-based) instead of the mean of all channels")
    _add_analysis_options(analyze)
    analyze.set_defaults(run=_cmd_analyze)

    demo = verbs.add_parser("demo", help="analyse a built-in synthetic call with known escalations")
    demo.add_argument("-o", "--output", default="gpuaudio-demo", metavar="DIR",
                      help="folder for the example audio and its report (default: gpuaudio-demo)")
    _add_analysis_options(demo)
    demo.set_defaults(run=_cmd_demo)

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
    _add_analysis_options(monitor)
    monitor.set_defaults(run=_cmd_monitor)

    bench = verbs.add_parser(
        "bench", help="time and score every eligible backend against librosa, in one run"
    )
    bench.add_argument("--quick", action="store_true",
                       help="about one minute of audio, 3 repeats (about a minute on a small CPU)")
    bench.add_argument("--features", default="f0,stft,mel,cqt", help="default: %(default)s")
    bench.add_argument("--minutes", type=float, help="recording length (default 42, quick 1)")
    bench.add_argument("--repeats", type=int, help="timed calls per case (default 5, quick 3)")
    bench.add_argument("--sr", type=int, help="sample rate of the audio (default 22050)")
    bench.add_argument("--case-budget", type=float, dest="case_budget_s", metavar="SECONDS",
                       help="stop repeating a case after this long (default 120, quick 20)")
    bench.add_argument("--baseline-windows", type=int, metavar="K",
                       help="time librosa's pyin on K windows and scale linearly")
    bench.add_argument("--known-f0", metavar="DIR",
                       help="also score F0 on a known-F0 speech set (manifest.json + FLAC + truth"
                            " CSVs, e.g. benchmarks/known_f0/data/speech of a checkout)")
    bench.add_argument("--json", metavar="FILE", help="write the results and the machine here")
    bench.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    bench.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    bench.set_defaults(run=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gpuaudio`` command."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except GpuAudioError as exc:
        print(f"gpuaudio: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gpuaudio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `gpuaudio plugins | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep interpreter exit quiet
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
