"""`gpuaudio batch`: an archive of recordings into report folders and archive-wide tables."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gpuaudio.cli._common import (
    add_analysis_options,
    page_options,
    params_from_args,
    service_from_args,
)


def run(args: argparse.Namespace) -> int:
    """Analyse every recording of the inputs into OUT; 0 when all succeed, 1 when some failed."""
    from gpuaudio.batch import run_batch

    summary = run_batch(
        args.inputs,
        args.output,
        engine=args.engine,
        config=service_from_args(args).config,  # --config, --device, --backend
        workers=args.workers,
        address=args.address,
        params=params_from_args(args),
        retry_failed=args.retry_failed,
        force=args.force,
        windows=args.windows,
        **page_options(args),
        copy_audio=_copy_audio(args),
        progress=not (args.no_progress or args.quiet),
    )
    if summary.failed:
        print(f"gpuaudio: {summary.line()}", file=sys.stderr)
    elif not args.quiet:
        print(summary.line())
    return summary.exit_code


def _copy_audio(args: argparse.Namespace) -> bool | None:
    """--copy-audio (None: the config decides); refused where the page has no copy."""
    from gpuaudio.errors import InvalidParameterError

    if args.copy_audio and (args.no_html or args.embed_audio):
        raise InvalidParameterError(
            "--copy-audio puts a copy of each recording beside report.html: drop "
            + ("--no-html" if args.no_html else "--embed-audio")
        )
    return True if args.copy_audio else None


def add_parser(verbs: Any) -> None:
    """Add the verb to the `gpuaudio` parser's subcommands."""
    batch = verbs.add_parser(
        "batch",
        help="analyse an archive: folders, files or a manifest CSV; resumable; Parquet tables",
        description=(
            "Analyse every recording into OUT/<id>/ (the outputs of `analyze` and status.json) "
            "and write OUT/recordings.parquet, recordings.csv and segments.parquet. A rerun "
            "skips what is finished. Exit code 0 when every recording succeeded, 1 when some "
            "failed (the rest is done), 2 on a usage error."
        ),
    )
    batch.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="audio file, folder (searched recursively) or manifest .csv with a "
                            "path column (optional id, channel; other columns are carried)")
    batch.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    batch.add_argument("--engine", choices=("local", "dask"), default=None,
                       help="where tasks run (default: config [batch] engine, else local)")
    batch.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes (default: one per GPU, else one)")
    batch.add_argument("--address", default=None, metavar="ADDR",
                       help="Dask scheduler to use, e.g. tcp://host:8786 (--engine dask)")
    batch.add_argument("--retry-failed", action="store_true",
                       help="also rerun the recordings that failed in an earlier run")
    batch.add_argument("--windows", action="store_true", help="also write windows.parquet")
    batch.add_argument("--copy-audio", action="store_true",
                       help="copy each recording beside its report.html, for folders that "
                            "stand alone (default: the page plays the original file by a "
                            "relative path; config [batch] copy_audio)")
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_analysis_options(batch)
    batch.set_defaults(run=run)
