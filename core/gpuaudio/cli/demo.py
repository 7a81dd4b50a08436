"""`gpuaudio demo`: the built-in example call, analysed and checked against its known spans."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from gpuaudio.cli._common import (
    add_analysis_options,
    backends_used,
    file_progress,
    page_options,
    params_from_args,
    service_from_args,
)
from gpuaudio.progress import Progress


def run(args: argparse.Namespace) -> int:
    """Synthesise the built-in example call, analyse it, compare with the known spans."""
    import soundfile as sf

    from gpuaudio.analysis.report import analyze_to_folder, check_outputs
    from gpuaudio.errors import OutputExistsError
    from gpuaudio.evaluation.metrics import interval_scores
    from gpuaudio.evaluation.synth import demo_call

    folder = Path(args.output)
    audio_path = folder / "demo_call.wav"
    if audio_path.exists() and not args.force:
        raise OutputExistsError(f"{audio_path} exists; pass --force to overwrite or use -o")
    check_outputs(folder, force=args.force)
    pages = page_options(args)
    service = service_from_args(args)
    audio, truth = demo_call(sr=16000, seed=0)
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(audio_path, audio, truth.sr, subtype="PCM_16")
    started = time.perf_counter()
    duration_s = audio.shape[-1] / truth.sr
    with Progress("demo", duration_s, enabled=not args.quiet) as bar:
        report, written = analyze_to_folder(
            service, audio_path, folder, params_from_args(args), force=args.force,
            progress=file_progress(bar, "demo", 0.0, duration_s), **pages,
        )
    found = [(s.start_s, s.end_s) for s in report.segments]
    scores = interval_scores(truth.escalations, found, duration_s=report.duration_s)
    if not args.quiet:
        spans = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in truth.escalations)
        print(
            f"Demo: a synthetic {report.duration_s:.0f}-second call with escalations at {spans}. "
            f"{report.summary()}. Against the known spans: time recall {scores.recall:.0%}, "
            f"precision {scores.precision:.0%}, {scores.false_alarms} false alarm(s). "
            f"Took {time.perf_counter() - started:.1f} s; {backends_used(report)}. "
            f"Wrote {audio_path} and its report ({', '.join(v for v in written.values() if v)})."
        )
    return 0


def add_parser(verbs: Any) -> None:
    """Add the verb to the `gpuaudio` parser's subcommands."""
    demo = verbs.add_parser("demo", help="analyse a built-in synthetic call with known escalations")
    demo.add_argument("-o", "--output", default="gpuaudio-demo", metavar="DIR",
                      help="folder for the example audio and its report (default: gpuaudio-demo)")
    add_analysis_options(demo)
    demo.set_defaults(run=run)
