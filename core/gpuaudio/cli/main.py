"""The ``gpuaudio`` command line: one module per verb (`run(args)` and `add_parser(verbs)`)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from gpuaudio import __version__
from gpuaudio._text import printable
from gpuaudio.cli import analyze, batch, bench, demo, monitor, plugins
from gpuaudio.errors import GpuAudioError, Terminated, raise_terminated
from gpuaudio.progress import NOTICE_LOGGER, NoticeHandler

VERBS = (plugins, analyze, batch, demo, monitor, bench)
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


def _show_notices(quiet: bool) -> logging.Handler | None:
    """Print the library's notices (`gpuaudio.progress.NOTICE_LOGGER`, INFO) on stderr as
    ``gpuaudio: MESSAGE``, above a progress bar when one is open (not when `quiet`)."""
    if quiet:
        return None
    handler = NoticeHandler()
    notice = logging.getLogger(NOTICE_LOGGER)
    notice.addHandler(handler)
    notice.setLevel(logging.INFO)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gpuaudio`` command."""
    args = build_parser().parse_args(argv)
    notices = _show_notices(getattr(args, "quiet", False))
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        code: int = args.run(args)
    except GpuAudioError as exc:
        print(f"gpuaudio: error: {printable(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gpuaudio: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("gpuaudio: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # e.g. `gpuaudio plugins | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep interpreter exit quiet
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if notices is not None:
            logging.getLogger(NOTICE_LOGGER).removeHandler(notices)
    return code

