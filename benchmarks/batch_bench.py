"""`gpuaudio batch` throughput: one local worker, two local workers, Dask and plain `analyze`.

Issue 12's targets, measured in one run on one machine and the same files: two local workers
give >= 1.7x the throughput of one; a batch costs <= 5 % more per recording than a plain
`gpuaudio analyze` of the same files; a Dask LocalCluster of two workers is within 10 % of two
local workers. The recordings are synthetic calls (`gpuaudio.evaluation.synth.demo_call`,
several joined and cut to 3-5 minutes, FLAC at 16 kHz) written into a temporary folder.

Every case is a fresh `gpuaudio` process over all the files (its start, model loads and, for
Dask, the cluster's start included), into its own empty output folder, after one untimed
`analyze` of one file that warms the disk cache and numba's compile cache. Throughput is audio
seconds per wall second ("x real time"); the CPU time is the command's and its workers'. The
run also measures the machine's own ceiling: how much more pure-Python work two processes do at
once than one (on a VM's shared or hyper-threaded cores it can be well below 2).

    python benchmarks/batch_bench.py                        # the issue's 24 recordings
    python benchmarks/batch_bench.py --recordings 4 --min-minutes 1 --max-minutes 1.5   # smoke
    python benchmarks/batch_bench.py --max-load 0.3         # start once the machine is quiet

On a shared machine the numbers mean something only when nothing else runs: ``--max-load``
waits (at most ``--max-wait`` minutes) for the 1-minute load average to drop below it.

Prints a markdown table and writes it with the numbers to
benchmarks/results/batch-<machine>-<date>.{md,json} (``--out`` to change the stem).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

SR = 16000
ROOT = Path(__file__).resolve().parents[1]
GPUAUDIO = [sys.executable, "-m", "gpuaudio.cli"]


@dataclass
class Case:
    """One measured way of analysing all the files."""

    name: str
    args: list[str]
    """Arguments of `gpuaudio`, before the inputs and `-o OUT`."""
    seconds: float = 0.0
    cpu_s: float = 0.0
    """CPU time (user + system) of the command and every process it started."""
    audio_s: float = 0.0

    @property
    def throughput(self) -> float:
        """Audio seconds analysed per wall-clock second."""
        return self.audio_s / self.seconds


def make_recordings(folder: Path, count: int, min_s: float, max_s: float) -> list[Path]:
    """`count` FLAC calls of evenly spread lengths in [min_s, max_s]: demo calls joined, cut."""
    import soundfile as sf

    from gpuaudio.evaluation.synth import demo_call

    longest = max_s if count > 1 else min_s
    pool = [demo_call(SR, seed=seed)[0] for seed in range(max(4, int(np.ceil(longest / 75)) + 1))]
    paths = []
    for i in range(count):
        seconds = min_s + (max_s - min_s) * i / max(count - 1, 1)
        order = np.roll(np.arange(len(pool)), -i)  # each recording starts with another call
        audio = np.concatenate([pool[k] for k in order])[: round(seconds * SR)]
        path = folder / f"call_{i:03d}.flac"
        sf.write(path, audio, SR, subtype="PCM_16")
        paths.append(path)
    return paths


def audio_seconds(paths: list[Path]) -> float:
    import soundfile as sf

    return float(sum(sf.info(str(path)).duration for path in paths))


def run_case(case: Case, paths: list[Path], out: Path, audio_s: float) -> None:
    """Time one `gpuaudio` process over all files; refuse a run in which any file failed."""
    cpu_before = children_cpu_s()
    started = time.perf_counter()
    done = subprocess.run(
        [*GPUAUDIO, *case.args, *map(str, paths), "-o", str(out)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    case.seconds = time.perf_counter() - started
    case.cpu_s = children_cpu_s() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"{case.name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    case.audio_s = audio_s
    if case.args[0] == "batch":
        check_batch_output(case, out, len(paths))


def children_cpu_s() -> float:
    """CPU time of this process's finished children (and theirs, when each waited for its own)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _spin(seconds: float) -> float:
    """Pure-Python CPU work of about `seconds` on an idle core; returns its wall time."""
    started = time.perf_counter()
    total = 0
    for i in range(int(seconds * 2.5e7)):
        total += i
    return time.perf_counter() - started


def machine_scaling(seconds: float = 3.0) -> float:
    """How much more work two processes do at once than one on this machine: the ceiling of
    any two-worker speed-up here (1.0 = no gain, 2.0 = two full cores)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [0.2, 0.2])  # started and warm
        alone = pool.map(_spin, [seconds])[0]
        together = max(pool.map(_spin, [seconds, seconds]))
    return 2 * alone / together


def check_batch_output(case: Case, out: Path, count: int) -> None:
    """Every recording in recordings.parquet, with status ok."""
    import pyarrow.parquet as pq

    table = pq.read_table(out / "recordings.parquet", columns=["status"]).to_pydict()
    statuses = table["status"]
    if len(statuses) != count or set(statuses) != {"ok"}:
        raise SystemExit(f"{case.name}: recordings.parquet has statuses {statuses}")


def wait_for_quiet(max_load: float, max_wait_s: float) -> None:
    """Return once the 1-minute load average is below `max_load`; exit after `max_wait_s`."""
    deadline = time.monotonic() + max_wait_s
    while (load := os.getloadavg()[0]) >= max_load:
        if time.monotonic() > deadline:
            raise SystemExit(f"the load average stayed at {load:.2f} >= {max_load} for "
                             f"{max_wait_s / 60:g} min: not measured")
        print(f"load average {load:.2f} >= {max_load}: waiting ...", flush=True)
        time.sleep(15)


def cpu_name() -> str:
    """The CPU model (Linux's /proc/cpuinfo), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "commit": commit or None,
    }


def markdown(cases: list[Case], ratios: dict[str, float], info: dict[str, Any]) -> str:
    lines = [
        f"`gpuaudio batch` on {info['recordings']} recordings, {info['audio_min']:.1f} min of "
        f"audio ({info['min_minutes']:g}-{info['max_minutes']:g} min each); "
        f"{info['machine']['cpu']}, {info['machine']['cores']} cores, "
        f"Python {info['machine']['python']}, "
        f"commit {info['machine']['commit']}; {info['date']}; load average "
        f"{info['load_start']:.2f} at the start, {info['load_end']:.2f} at the end.",
        "",
        "| case | command | wall (s) | CPU (s) | throughput (x real time) |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {c.name} | `gpuaudio {' '.join(c.args)} FILES -o OUT` | {c.seconds:.1f} | "
        f"{c.cpu_s:.1f} | {c.throughput:.1f} |"
        for c in cases
    ]
    lines += ["", "| ratio | value | target |", "|---|---:|---|"]
    targets = {
        "this machine: 2 processes / 1 (pure-Python work, the ceiling)": "",
        "local 2 workers / local 1 worker": ">= 1.70",
        "batch overhead per recording (local 1 worker vs analyze)": "<= 5 %",
        "dask 2 workers / local 2 workers": ">= 0.90",
    }
    for name, value in ratios.items():
        shown = f"{value:+.1%}" if "overhead" in name else f"{value:.2f}"
        lines.append(f"| {name} | {shown} | {targets[name]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=24)
    parser.add_argument("--min-minutes", type=float, default=3.0)
    parser.add_argument("--max-minutes", type=float, default=5.0)
    parser.add_argument("--out", type=Path, help="stem of the .md and .json results "
                        "(default benchmarks/results/batch-<machine>-<date>)")
    parser.add_argument("--max-load", type=float, help="wait for the 1-minute load average "
                        "to drop below this before measuring (default: do not wait)")
    parser.add_argument("--max-wait", type=float, default=30.0,
                        help="minutes to wait for --max-load (default 30), then give up")
    args = parser.parse_args()
    if not 0 < args.min_minutes <= args.max_minutes or args.recordings < 1:
        parser.error("need --recordings >= 1 and 0 < --min-minutes <= --max-minutes")
    date = datetime.now(timezone.utc)
    out_stem = args.out or ROOT / "benchmarks" / "results" / (
        f"batch-cpu-{os.cpu_count()}core-{date:%Y%m%d}"
    )
    batch = ["batch", "--no-progress"]
    cases = [
        Case("analyze", ["analyze"]),
        Case("local, 1 worker", [*batch, "--engine", "local", "--workers", "1"]),
        Case("local, 2 workers", [*batch, "--engine", "local", "--workers", "2"]),
        Case("dask LocalCluster, 2 workers", [*batch, "--engine", "dask", "--workers", "2"]),
    ]
    with tempfile.TemporaryDirectory(prefix="gpuaudio-batch-bench-") as tmp:
        folder = Path(tmp)
        (folder / "calls").mkdir()
        print(f"writing {args.recordings} recordings into {folder / 'calls'} ...", flush=True)
        paths = make_recordings(
            folder / "calls", args.recordings, args.min_minutes * 60, args.max_minutes * 60
        )
        audio_s = audio_seconds(paths)
        if args.max_load is not None:
            wait_for_quiet(args.max_load, args.max_wait * 60)
        measured = datetime.now(timezone.utc)
        load_start = os.getloadavg()[0]
        run_case(Case("warm-up", ["analyze"]), paths[:1], folder / "warm-up", audio_s)
        scaling = machine_scaling()
        print(f"this machine: 2 processes do {scaling:.2f}x the work of one", flush=True)
        for case in cases:
            print(f"{case.name} ...", flush=True)
            run_case(case, paths, folder / case.name.replace(" ", "_").replace(",", ""), audio_s)
            print(f"  {case.seconds:.1f} s, {case.throughput:.1f}x real time", flush=True)
        load_end = os.getloadavg()[0]
    analyze, local1, local2, dask2 = cases
    ratios = {
        "this machine: 2 processes / 1 (pure-Python work, the ceiling)": scaling,
        "local 2 workers / local 1 worker": local2.throughput / local1.throughput,
        "batch overhead per recording (local 1 worker vs analyze)": (
            local1.seconds / analyze.seconds - 1
        ),
        "dask 2 workers / local 2 workers": dask2.throughput / local2.throughput,
    }
    info = {
        "recordings": args.recordings,
        "audio_min": audio_s / 60,
        "min_minutes": args.min_minutes,
        "max_minutes": args.max_minutes,
        "date": f"{measured:%Y-%m-%d %H:%M} UTC",
        "machine": machine(),
        "load_start": load_start,
        "load_end": load_end,
    }
    table = markdown(cases, ratios, info)
    print("\n" + table)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    out_stem.with_suffix(".md").write_text(table, encoding="utf-8")
    document = {**info, "cases": [asdict(c) | {"throughput": c.throughput} for c in cases],
                "ratios": ratios}
    out_stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"written: {out_stem.with_suffix('.md')} and .json")


if __name__ == "__main__":
    main()
