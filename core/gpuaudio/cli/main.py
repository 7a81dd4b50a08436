"""The ``gpuaudio`` command line: one module per verb (`run(args)` and `add_parser(verbs)`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from gpuaudio import __version__
from gpuaudio.cli import analyze, bench, demo, monitor, plugins
from gpuaudio.errors import GpuAudioError

VERBS = (plugins, analyze, demo, monitor, bench)
"""The verb modules, in the order `gpuaudio --help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every verb."""
    parser = argparse.ArgumentParser(
        prog="gpuaudio", description="GPU-accelerated, librosa-compatible audio features."
    )
    parser.add_argument("--version", action="version", version=f"gpuaudio {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        verb.add_parser(verbs)
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

