"""The ``gpuaudio`` command line. Each verb is a ``_cmd_<verb>(args) -> exit code`` function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
            rows.append((feature, rej.spec.name, rej.spec.plugin, f"no: {rej.reason}",
                         rej.spec.install_hint))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    if registry.failures:
        print("\nplugins that failed to load:")
        for failure in registry.failures:
            print(f"  {failure.plugin} ({failure.distribution}): {failure.error}")
    return 0


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
    return code


if __name__ == "__main__":
    sys.exit(main())
