"""Peak memory of a batch worker against recording length (issue 12, item 5).

For each duration a synthetic speech recording (16 kHz mono, 16-bit WAV, cycled from a few
10-minute pieces so making it is quick) is analysed by ``run_batch`` with one in-process worker,
in a fresh Python process whose peak RSS (``ru_maxrss``) is reported, with its analysis time.
The claim: the 4-hour recording's peak within 1.2x of the 30-minute one's.

    python benchmarks/batch_memory.py                       # 30 and 240 minutes
    python benchmarks/batch_memory.py --minutes 30 120 --analysis-chunk-s 3600   # the old chunk

Files are kept in --workdir (default: a folder in the system temp dir) for reruns.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SR = 16000
PIECE_S = 600.0
PIECES = 3

_CHILD = """
import json, resource, sys, time
import gpuaudio.analysis.escalation as escalation
from gpuaudio.batch import run_batch
path, out, chunk = sys.argv[1], sys.argv[2], float(sys.argv[3])
if chunk > 0:
    escalation.ANALYSIS_CHUNK_S = chunk
started = time.perf_counter()
summary = run_batch([path], out, workers=1, progress=False, force=True)
seconds = time.perf_counter() - started
assert summary.ok == 1, summary.failures
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_rss_mb": peak, "seconds": seconds}))
"""


def make_recording(folder: Path, minutes: float) -> Path:
    """A `minutes`-long recording in `folder` (made once)."""
    import numpy as np
    import soundfile as sf

    from gpuaudio.evaluation.synth import synthesize_speech

    path = folder / f"speech_{minutes:g}min.wav"
    if path.exists():
        return path
    pieces = [synthesize_speech(PIECE_S, sr=SR, seed=seed)[0] for seed in range(PIECES)]
    total = int(minutes * 60 * SR)
    partial = path.with_suffix(".partial.wav")
    with sf.SoundFile(partial, "w", SR, 1, "PCM_16") as handle:
        written = 0
        while written < total:
            piece = pieces[(written // pieces[0].shape[0]) % PIECES]
            block = piece[: total - written]
            handle.write(np.clip(block, -1, 1))
            written += block.shape[0]
    partial.rename(path)
    return path


def measure(path: Path, out: Path, analysis_chunk_s: float) -> dict[str, float]:
    """Peak RSS (MiB) and seconds of one batch over `path`, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(out), str(analysis_chunk_s)],
        capture_output=True, text=True, check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[30.0, 240.0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "batch_mem")
    parser.add_argument("--analysis-chunk-s", type=float, default=0.0,
                        help="override ANALYSIS_CHUNK_S (0: the package's value)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in args.minutes:
        started = time.perf_counter()
        path = make_recording(args.workdir, minutes)
        made = time.perf_counter() - started
        result = measure(path, args.workdir / f"out_{minutes:g}", args.analysis_chunk_s)
        rows.append({"minutes": minutes, **result})
        print(f"{minutes:6g} min: peak RSS {result['peak_rss_mb']:7.0f} MiB, analysis "
              f"{result['seconds']:6.0f} s ({minutes * 60 / result['seconds']:.0f}x real time; "
              f"recording made in {made:.0f} s)", flush=True)
    if len(rows) > 1:
        ratio = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
        print(f"peak RSS {rows[-1]['minutes']:g} min / {rows[0]['minutes']:g} min: {ratio:.2f}x")


if __name__ == "__main__":
    main()
