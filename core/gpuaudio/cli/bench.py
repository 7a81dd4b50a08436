"""`gpuaudio bench`: every eligible backend timed against librosa in one run."""

from __future__ import annotations

import argparse
from typing import Any


def run(args: argparse.Namespace) -> int:
    """Time every eligible backend against librosa in one run; print a table, write JSON."""
    from gpuaudio.device import probe
    from gpuaudio.evaluation import bench
    from gpuaudio.plugins import make_plugin_manager
    from gpuaudio.progress import Progress

    features = bench.parse_features(args.features)
    if args.json:
        bench.check_output(args.json, force=args.force)  # fail before the run, not after it
    changes: dict[str, Any] = {"features": features, "baseline_windows": args.baseline_windows}
    if args.known_f0 is not None:
        from gpuaudio.evaluation.speechset import load_set

        load_set(args.known_f0)  # a bad set fails before the run, not after it
        changes["known_f0"] = str(args.known_f0)
    for key in ("minutes", "repeats", "sr", "case_budget_s"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    workload = bench.Workload.quick(**changes) if args.quick else bench.Workload(**changes)

    def save(report: bench.BenchReport) -> None:  # after each feature: partial results survive
        if args.json:
            bench.write_json(report, args.json, force=True)

    registry, info = make_plugin_manager(), probe()
    total = bench.count_steps(workload, registry, info)
    with Progress("bench", total, unit="steps", enabled=not args.quiet, interval_s=0) as bar:
        steps = iter(range(total))

        def progress(text: str) -> None:  # at the start of each step
            bar.update(next(steps, total), text)

        report = bench.run_bench(
            workload, registry=registry, device_info=info, progress=progress, checkpoint=save
        )
        bar.update(total, "done")
    print(f"device: {report.machine['device']}; CPU: {report.machine['cpu']}")
    print(report.table())
    if args.json:
        print(f"wrote {args.json}")
    return 0


def add_parser(verbs: Any) -> None:
    """Add the verb to the `gpuaudio` parser's subcommands."""
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
    bench.add_argument("--quiet", action="store_true", help="no progress bar or lines on stderr")
    bench.set_defaults(run=run)
