"""Start-up cost of the ``gpuaudio`` command (issue 14 item 3), measured, not asserted.

Times each command N times as a fresh process (the ``gpuaudio`` console script beside this
Python) and prints the median; for ``analyze`` of a 10-s file it also times the same work
repeated inside one warm process (`analyze_to_folder`, outputs included) and reports the
difference as the fixed overhead. Run it when the machine is quiet: the load average is
printed with the figures.

    .venv/bin/python benchmarks/startup.py --runs 7 --json startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COMMANDS = {
    "--version": ["--version"],
    "--help": ["--help"],
    "plugins": ["plugins"],
    "analyze (10 s)": ["analyze", "{audio}", "-o", "{out}", "--force", "--quiet"],
}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _command() -> list[str]:
    """The installed ``gpuaudio`` console script beside this Python, else ``-m gpuaudio.cli``."""
    script = Path(sys.executable).with_name("gpuaudio")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "gpuaudio.cli"]


def time_command(argv: list[str], runs: int) -> list[float]:
    """Wall seconds of `runs` fresh ``gpuaudio ARGV`` processes (after one untimed)."""
    times = []
    for index in range(runs + 1):
        started = time.perf_counter()
        subprocess.run([*_command(), *argv], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if index:  # the first run fills the OS and numba caches
            times.append(time.perf_counter() - started)
    return times


def time_in_process(audio: Path, out: Path, runs: int) -> list[float]:
    """Seconds of the same `analyze` work repeated in this process, after one warm-up."""
    from gpuaudio.analysis.escalation import EscalationParams
    from gpuaudio.analysis.report import analyze_to_folder
    from gpuaudio.service import AudioFeatureService

    service = AudioFeatureService()
    times = []
    for index in range(runs + 1):
        started = time.perf_counter()
        analyze_to_folder(service, audio, out / "call", EscalationParams(), force=True)
        if index:
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    import soundfile as sf

    from gpuaudio.evaluation.synth import synthesize_speech

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "call.wav"
        signal, _ = synthesize_speech(10.0, sr=22050, seed=2)
        sf.write(audio, signal, 22050)
        results: dict[str, Any] = {}
        for name, template in COMMANDS.items():
            argv = [part.format(audio=audio, out=Path(tmp) / "out") for part in template]
            results[name] = time_command(argv, args.runs)
        results["analysis in one process"] = time_in_process(audio, Path(tmp) / "in", args.runs)
    medians = {name: statistics.median(times) for name, times in results.items()}
    medians["analyze fixed overhead"] = (
        medians["analyze (10 s)"] - medians["analysis in one process"]
    )
    load_after = os.getloadavg()
    print(f"{_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"median of {args.runs}")
    print("| command | median (s) | min (s) |\n|---|---:|---:|")
    for name, median in medians.items():
        low = min(results[name]) if name in results else float("nan")
        print(f"| {name} | {median:.2f} | {low:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average": [load_before[0], load_after[0]], "runs": results,
            "medians": medians,
        }, indent=1))


if __name__ == "__main__":
    main()
