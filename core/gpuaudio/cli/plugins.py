"""`gpuaudio plugins`: every backend, eligible here or why not."""

from __future__ import annotations

import argparse
from typing import Any

from gpuaudio._text import printable


def run(args: argparse.Namespace) -> int:
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
        res = resolve(
            feature, specs, info, device_setting=config.device, priorities=config.priorities
        )
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
    analysis = _analysis_f0(config, registry, info)
    print(f"\nescalation analysis (analyze, monitor, batch): {analysis}")
    if not any("cuda" in spec.devices for spec in registry.all_specs()):
        print("\nno GPU backend is installed: pip install 'gpuaudio[crepe,nnaudio]'")
    if registry.failures:
        print("\nplugins that failed to load:")
        for failure in registry.failures:
            print(printable(f"  {failure.plugin} ({failure.distribution}): {failure.error}"))
    if args.options:
        _print_options(registry.all_specs())
    return 0


def _analysis_f0(config: Any, registry: Any, info: Any) -> str:
    """Which F0 backend the escalation analysis takes here, and why (it is not always the
    table's: left on auto, the analysis asks for acpitch on every machine)."""
    from gpuaudio import AudioFeatureService, GpuAudioError
    from gpuaudio.analysis.escalation import analysis_f0

    service = AudioFeatureService(config, registry=registry, device_info=info)
    choice = analysis_f0(service)
    try:
        chosen = service.resolution("f0", choice).chosen
    except GpuAudioError as exc:
        return f"its F0 cannot run here: {exc}"
    why = (
        "named in config"
        if choice == config.backends.f0
        else "its own choice on every machine: the F0 it was tuned and validated with"
    )
    return f"F0 by {chosen.spec.name} on {chosen.device} ({why})"


def _print_options(specs: list[Any]) -> None:
    """Each backend's options (the ``[name]`` table): type, default and meaning."""
    from gpuaudio.backends import describe_options

    print("\nbackend options ([name] table in gpuaudio.toml, or GPUAUDIO_<NAME>__<OPTION>):")
    seen: dict[str, list[str]] = {}
    for spec in specs:
        seen.setdefault(spec.name, []).append(spec.feature)
    for name, features in seen.items():
        spec = next(s for s in specs if s.name == name)
        print(f"  [{name}]  ({', '.join(features)}; plugin {spec.plugin})")
        if spec.options is None:
            print("    takes no options")
            continue
        for option in describe_options(spec.options):
            print(f"    {option.name}: {option.type} = {option.default}")
            if option.description:
                print(f"        {option.description}")


def add_parser(verbs: Any) -> None:
    """Add the verb to the `gpuaudio` parser's subcommands."""
    plugins = verbs.add_parser("plugins", help="list backends: eligible here, or why not")
    plugins.add_argument("--config", help="gpuaudio TOML config file")
    plugins.add_argument(
        "--options", action="store_true", help="also list each backend's options and defaults"
    )
    plugins.set_defaults(run=run)
