"""Start-up cost of the ``gpuaudio`` command (issue 14 item 3), measured, not asserted.

Times each command N times as a fresh process (the ``gpuaudio`` console script beside this
Python) and prints the median wall and CPU (user + system) seconds; for ``analyze`` of a 10-s
file it also times the same work repeated inside one warm process (`analyze_to_folder`,
outputs included) and reports the difference as the fixed overhead. The file is at 16 kHz, the
analysis rate, unless ``--sr`` says otherwise (another rate adds the resampler, which imports
``scipy.signal``). CPU time moves less than wall time when other work shares the cores; the
load average is printed with the figures.

    .venv/bin/python benchmarks/startup.py --runs 7 [--sr 22050] --json startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IN_PROCESS = "analysis in one warm process"
OVERHEAD = "analyze fixed overhead"
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


def time_command(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of `runs` fresh ``gpuaudio ARGV`` processes, after
    one untimed run (it fills the OS and numba caches)."""
    walls, cpus = [], []
    for index in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([*_command(), *argv], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if index:
            walls.append(wall)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return walls, cpus


def time_in_process(audio: Path, out: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of the same `analyze` work repeated in this process, after one
    untimed run."""
    from gpuaudio.analysis.escalation import EscalationParams
    from gpuaudio.analysis.report import analyze_to_folder
    from gpuaudio.service import AudioFeatureService

    service = AudioFeatureService()
    walls, cpus = [], []
    for index in range(runs + 1):
        started, cpu = time.perf_counter(), time.process_time()
        analyze_to_folder(service, audio, out / "call", EscalationParams(), force=True)
        if index:
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--sr", type=int, default=16000,
                        help="sample rate of the test file (16000: the analysis rate)")
    args = parser.parse_args()

    import soundfile as sf

    from gpuaudio.evaluation.synth import synthesize_speech

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "call.wav"
        signal, _ = synthesize_speech(10.0, sr=args.sr, seed=2)
        sf.write(audio, signal, args.sr)
        runs: dict[str, tuple[list[float], list[float]]] = {}
        for name, template in COMMANDS.items():
            argv = [part.format(audio=audio, out=Path(tmp) / "out") for part in template]
            runs[name] = time_command(argv, args.runs)
        runs[IN_PROCESS] = time_in_process(audio, Path(tmp) / "in", args.runs)
    load_after = os.getloadavg()
    medians = {name: (statistics.median(w), statistics.median(c)) for name, (w, c) in runs.items()}
    cli, warm = medians["analyze (10 s)"], medians[IN_PROCESS]
    medians[OVERHEAD] = (cli[0] - warm[0], cli[1] - warm[1])
    print(f"{_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"median of {args.runs}; a 10-s {args.sr}-Hz WAV")
    print("| command | wall (s) | CPU (s) |\n|---|---:|---:|")
    for name, (wall, cpu) in medians.items():
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average": [load_before[0], load_after[0]], "sample_rate": args.sr,
            "runs": {name: {"wall_s": w, "cpu_s": c} for name, (w, c) in runs.items()},
            "medians": {name: {"wall_s": w, "cpu_s": c} for name, (w, c) in medians.items()},
        }, indent=1))

if __name__ == "__main__":
    main()
