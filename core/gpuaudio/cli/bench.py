"""`gpuaudio bench`: every eligible backend timed against librosa in one run."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def run(args: argparse.Namespace) -> int:
    """Time every eligible backend against librosa in one run; print a table, write JSON."""
    from gpuaudio.evaluation import bench

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
    bench.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    bench.set_defaults(run=run)
