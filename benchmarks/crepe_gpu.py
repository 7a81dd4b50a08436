"""GPU benchmark of the crepe backend against the spec: 42 minutes of F0 in <= 3 s.

For each model (full, tiny) and precision (fp32, tf32, fp16, bf16) on cuda:0, through
``AudioFeatureService`` exactly as an application calls it:

- ``first_call_s``: the first call of a fresh service with the model cache cleared, on one
  second of audio (model load included; NF-001 < 5 s);
- ``windows_s``: ``extract_f0_windows`` over 2,520 one-second windows at 22,050 Hz (2048/512
  frames, 110,880 CREPE frames), median of ``--repeats`` warm calls (spec: <= 3 s; NF-002:
  < 0.1 s per second of audio, i.e. < 252 s);
- ``hop10ms_s``: ``extract_f0`` over the same windows with a 10 ms hop (220 samples,
  254,520 frames, torchcrepe's default frame rate);
- ``peak_gib``: the CUDA allocator's peak during the warm calls (NF-003 < 6 GB), the input
  on the device included.

    python benchmarks/crepe_gpu.py --json out/crepe_gpu.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from crepe_workload import FMAX, FMIN, SR, machine, windows

MODELS = ("full", "tiny")
PRECISIONS = ("fp32", "tf32", "fp16", "bf16")


def _service(model: str, precision: str) -> Any:
    from gpuaudio import AudioFeatureService

    return AudioFeatureService(
        {
            "device": "cuda:0",
            "precision": precision,
            "fallback": False,
            "backends": {"f0": "crepe"},
            "crepe": {"model": model},
        }
    )


def _seconds(fn: Any, repeats: int) -> float:
    import torch

    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(model: str, precision: str, batch: Any, repeats: int) -> dict[str, Any]:
    """One row: first-call, warm workload times and peak memory for a model and precision."""
    import torch

    from gpuaudio_crepe import _network

    _network.load_model.cache_clear()
    torch.cuda.empty_cache()
    service = _service(model, precision)
    started = time.perf_counter()
    service.extract_f0_windows(batch[:1], SR, fmin=FMIN, fmax=FMAX)
    first_call = time.perf_counter() - started
    torch.cuda.reset_peak_memory_stats(0)
    windows_s = _seconds(
        lambda: service.extract_f0_windows(batch, SR, fmin=FMIN, fmax=FMAX), repeats
    )
    hop10 = _seconds(
        lambda: service.extract_f0(
            batch, SR, fmin=FMIN, fmax=FMAX, frame_length=1024, hop_length=220
        ),
        repeats,
    )
    provenance = service.provenance["f0"]
    return {
        "model": model,
        "precision": provenance.precision,
        "first_call_s": round(first_call, 3),
        "windows_s": round(windows_s, 3),
        "hop10ms_s": round(hop10, 3),
        "s_per_audio_s": windows_s / len(batch),
        "peak_gib": round(torch.cuda.max_memory_allocated(0) / 2**30, 3),
        "sub_batches": provenance.sub_batches,
        "retries": provenance.retries,
    }


def markdown(rows: list[dict[str, Any]], where: str) -> str:
    """The results table."""
    lines = [
        where,
        "",
        "| model | precision | first call (s) | 2,520 windows (s) | 10 ms hop (s) | "
        "s per audio s | peak GiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['precision']} | {r['first_call_s']:.2f} | {r['windows_s']:.2f} "
            f"| {r['hop10ms_s']:.2f} | {r['s_per_audio_s']:.5f} | {r['peak_gib']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run benchmarks/crepe_cpu.py on this machine instead")
    batch = windows()
    rows = []
    for model in args.models:
        for precision in args.precisions:
            rows.append(measure(model, precision, batch, args.repeats))
            print(json.dumps(rows[-1]), flush=True)
    result = {"machine": machine(), "rows": rows}
    print(markdown(rows, result["machine"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
