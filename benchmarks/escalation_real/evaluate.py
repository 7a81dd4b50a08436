"""Score gpuaudio's escalation analysis on the real-speech set built by build_set.py.

One analysis per call and condition (``gpuaudio.analysis.escalation.detect_escalation`` with
default settings, or ``--threshold``); per condition and overall:

- **time recall / precision**: ``interval_scores`` of gpuaudio's metrics module over all calls
  laid end to end (seconds of truth spans covered by found segments; seconds of found
  segments inside truth spans);
- **spans found**: a truth span counts as found when found segments cover at least
  ``FOUND_SHARE`` (30%) of it — a segment that only grazes a span's edge (a ramp, a
  neighbouring window) does not find it, and a span found in several pieces does;
- **spans at the bar found**: the same for the spans that issue 11 says must all be found
  (`at_bar`: >= 8 s, with >= +4 st, or >= +3 st and >= +6 dB); the ones missed are listed;
- **false alarms on calm calls**: found seconds per hour of calm calls (calm, questions,
  dialogue: they have no escalation), and found segments per hour of them;
- **operating curve** (``--curve``): the same at thresholds 0.5..4 in steps of 0.25, from the
  one analysis per call: the analysis's measured windows are kept and re-scored and
  re-segmented at each threshold with the analysis's own functions (``score_windows``,
  ``_segments``: the threshold also decides which windows the baseline refit leaves out, so
  re-thresholding the report's scores alone would not be what the analysis gives);
- **saved analyses** (``--save-analyses FILE.pkl``, then ``--analyses FILE.pkl``): the same
  re-scoring for a tuning study — every call's measured windows are pickled once, and scored
  again in seconds with other scoring settings (``--param``, ``--threshold``; not the
  fields that change the measurement, `MEASUREMENT`).

    python benchmarks/escalation_real/evaluate.py --set DIR [--split tune] [--threshold T]
        [--conditions clean,telephone,agc,gsm] [--curve] [--backend f0=NAME] [--json out.json]
        [--param NAME=VALUE ...] [--save-analyses FILE.pkl]
    python benchmarks/escalation_real/evaluate.py --analyses FILE.pkl [--analyses ...]
        [--threshold T] [--param NAME=VALUE ...] [--curve] [--conditions ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

import gpuaudio.analysis.escalation as escalation
from gpuaudio import AudioFeatureService, __version__
from gpuaudio.analysis import speakers
from gpuaudio.analysis.escalation import EscalationParams, detect_escalation
from gpuaudio.evaluation.metrics import interval_scores, merge_intervals

FOUND_SHARE = 0.3
BAR = (8.0, 4.0, 3.0, 6.0)
"""Issue 11's bar: every span of >= 8 s with >= +4 st, or >= +3 st and >= +6 dB, is found."""
CALM_KINDS = ("calm", "questions", "dialogue")
CURVE = tuple(float(t) for t in np.arange(0.5, 4.0 + 1e-9, 0.25))

Spans = list[tuple[float, float]]


@dataclass
class Call:
    call_id: str
    condition: str
    kind: str
    recipe: str
    sex: str
    real: bool
    duration_s: float
    truth: Spans
    at_bar: list[bool]
    """Per truth span: whether it is at issue 11's bar (`at_bar`)."""
    found: dict[float, Spans] = field(default_factory=dict)
    """Threshold -> found segments."""
    seconds: float = 0.0
    """Analysis time."""
    measured: tuple[Any, Any] | None = None
    """The analysis's report and measured windows, kept to re-score them (`--curve`,
    `--save-analyses`)."""
    voices: tuple[bool, int, int] | None = None
    """In a call of two speakers (turns.csv): whether the analysis told two voices apart, and
    of the speech windows where one speaker talks, how many it gave to the right voice
    (`voice_agreement`); None in other calls."""

    def rescore(self, threshold: float, changes: dict[str, Any]) -> None:
        """Add the segments found at `threshold` with `changes` to the params, re-scored."""
        assert self.measured is not None, "analysed without keeping its measured windows"
        self.found[threshold] = segments_at(*self.measured, threshold, **changes)


def at_bar(row: dict[str, str]) -> bool:
    """Whether a truth.csv span is one that issue 11 says must be found."""
    seconds, pitch, low_pitch, gain = BAR
    rise, db = float(row["pitch_st"]), float(row["gain_db"])
    long_enough = float(row["end_s"]) - float(row["start_s"]) >= seconds
    return long_enough and (rise >= pitch or (rise >= low_pitch and db >= gain))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@contextmanager
def captured_raw() -> Iterator[list[Any]]:
    """The analysis's measured windows (its ``_Raw``), captured as it scores them: the report
    is assembled through the public `escalation.score_segments`, which this wraps."""
    seen: list[Any] = []
    original = escalation.score_segments

    def spy(raw: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(raw)
        return original(raw, *args, **kwargs)

    escalation.score_segments = spy  # type: ignore[assignment]
    try:
        yield seen
    finally:
        escalation.score_segments = original  # type: ignore[assignment]


MEASUREMENT = ("analysis_sr", "fmin", "fmax", "window_s", "hop_s", "min_voiced_fraction")
"""EscalationParams fields that change what is measured in each window: saved analyses
(`--analyses`) are re-scored with any other field changed, never these."""


def segments_at(report: Any, raw: Any, threshold: float, **changes: Any) -> Spans:
    """The segments the analysis gives at `threshold` (and with other scoring `changes` to its
    params), from its measured windows: scored and segmented again with its own functions."""
    params = replace(report.params, threshold=threshold, **changes).validate()
    *_, segments = escalation.score_segments(
        raw, report.windows.start_s, report.windows.end_s, params
    )
    return [(s.start_s, s.end_s) for s in segments]


def analyse(
    service: AudioFeatureService,
    set_dir: Path,
    row: dict[str, str],
    truth: Spans,
    params: EscalationParams,
    keep: bool,
    bar: list[bool],
    turns: Turns | None = None,
) -> Call:
    y, sr = sf.read(set_dir / row["file"], dtype="float32")
    started = time.perf_counter()
    with captured_raw() as seen:
        report = detect_escalation(service, y, sr, params)
    call = Call(
        row["call_id"],
        row["condition"],
        row["kind"],
        row["recipe"],
        row["sex"],
        row["real"] == "True",
        report.duration_s,
        truth,
        bar,
    )
    call.found[params.threshold] = [(s.start_s, s.end_s) for s in report.segments]
    call.seconds = time.perf_counter() - started
    if turns and len({name for name, _, _ in turns}) == 2:
        call.voices = voice_agreement(report.windows, turns)
    if keep:
        # the re-scoring must give the analysis's own answer at its threshold
        again = segments_at(report, seen[-1], params.threshold)
        if again != call.found[params.threshold]:
            raise RuntimeError(f"{row['call_id']}: re-scoring differs from the analysis: {again}")
        call.measured = (report, seen[-1])
    return call


Turns = list[tuple[str, float, float]]

SPEAKER_TALKS_S = 0.5
"""A window is one speaker's when that speaker talks for at least this much of it (s)..."""
OTHER_TALKS_S = 0.1
"""...and the other for at most this much (a turn change or an overlap is neither's)."""


def voice_agreement(windows: Any, turns: Turns) -> tuple[bool, int, int]:
    """How the analysis's voice decision (`WindowFeatures.voice`) agrees with who speaks
    (`turns`, two speakers): whether it told two voices apart, and of the speech windows where
    one speaker talks (`SPEAKER_TALKS_S`, `OTHER_TALKS_S`), how many went to that speaker's
    voice. Which voice is whose is the pairing that agrees most (the decision names voices by
    pitch)."""
    names = sorted({name for name, _, _ in turns})
    talk = np.zeros((2, len(windows.start_s)))
    for name, start, end in turns:
        overlap = np.minimum(windows.end_s, end) - np.maximum(windows.start_s, start)
        talk[names.index(name)] += np.clip(overlap, 0.0, None)
    labelled = (
        windows.speech
        & (talk.max(axis=0) >= SPEAKER_TALKS_S)
        & (talk.min(axis=0) <= OTHER_TALKS_S)
    )
    first = talk[0] > talk[1]
    agree = int((labelled & ((windows.voice == 0) == first)).sum())
    n = int(labelled.sum())
    two = bool((windows.voice[windows.speech] == 1).any())
    return two, (max(agree, n - agree) if two else 0), n


def voices_table(calls: list[Call], conditions: list[str]) -> str:
    """Per condition: conversations (calls of two speakers) told apart as two voices, and the
    share of one-speaker speech windows given to the right voice where they were."""
    lines = [
        "| voices | " + " | ".join(conditions) + " |",
        "|---|" + "---|" * len(conditions),
    ]
    cells: list[list[str]] = [[], []]
    for condition in conditions:
        checked = [c.voices for c in calls if c.condition == condition and c.voices is not None]
        apart = [v for v in checked if v[0]]
        right, n = sum(v[1] for v in apart), sum(v[2] for v in apart)
        cells[0].append(f"{len(apart)}/{len(checked)}")
        cells[1].append(f"{_f(right / n if n else float('nan'))} of {n}")
    lines.append("| conversations told apart | " + " | ".join(cells[0]) + " |")
    lines.append("| their windows given to the right voice | " + " | ".join(cells[1]) + " |")
    return "\n".join(lines)


def _covered(span: tuple[float, float], found: Spans) -> float:
    a, b = span
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in merge_intervals(found))


def score(calls: list[Call], threshold: float) -> dict[str, Any]:
    """Pooled scores of `calls` at `threshold`."""
    reference: Spans = []
    predicted: Spans = []
    shift = 0.0
    n_spans = n_found = n_bar = n_bar_found = 0
    bar_missed: list[str] = []
    calm_s = calm_found_s = 0.0
    calm_segments = 0
    for call in calls:
        found = call.found[threshold]
        reference += [(a + shift, b + shift) for a, b in call.truth]
        predicted += [(a + shift, b + shift) for a, b in found]
        shift += call.duration_s
        for span, bar in zip(call.truth, call.at_bar, strict=True):
            hit = _covered(span, found) >= FOUND_SHARE * (span[1] - span[0])
            n_spans += 1
            n_found += hit
            n_bar += bar
            n_bar_found += bar and hit
            if bar and not hit:
                bar_missed.append(f"{call.condition} {call.call_id} {span[0]:.0f}-{span[1]:.0f} s")
        if call.kind in CALM_KINDS:
            calm_s += call.duration_s
            calm_found_s += sum(b - a for a, b in found)
            calm_segments += len(found)
    s = interval_scores(reference, predicted, duration_s=max(shift, 1e-9))
    return {
        "threshold": threshold,
        "calls": len(calls),
        "hours": shift / 3600,
        "spans": n_spans,
        "found": n_found,
        "found_share": n_found / n_spans if n_spans else float("nan"),
        "bar_spans": n_bar,
        "bar_found": n_bar_found,
        "bar_missed": bar_missed,
        "recall": s.recall if reference else float("nan"),
        "precision": s.precision if predicted else float("nan"),
        "false_alarm_segments_escalation_calls": sum(
            1
            for call in calls
            if call.kind == "escalation"
            for seg in call.found[threshold]
            if all(_covered(t, [seg]) <= 0 for t in call.truth)
        ),
        "calm_hours": calm_s / 3600,
        "calm_found_s_per_hour": calm_found_s * 3600 / calm_s if calm_s else float("nan"),
        "calm_segments_per_hour": calm_segments * 3600 / calm_s if calm_s else float("nan"),
    }


def _f(value: float, digits: int = 3) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [
        "| calls | minutes | spans found (>= 30% covered) | spans at the bar found | time recall | "
        "time precision | false-alarm segments on escalation calls | calm minutes | "
        "calm: found s / hour | calm: segments / hour |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | {r['hours'] * 60:.1f} | {r['found']}/{r['spans']} | "
            f"{r['bar_found']}/{r['bar_spans']} | {_f(r['recall'])} | "
            f"{_f(r['precision'])} | {r['false_alarm_segments_escalation_calls']} | "
            f"{r['calm_hours'] * 60:.1f} | {_f(r['calm_found_s_per_hour'], 0)} | "
            f"{_f(r['calm_segments_per_hour'], 1)} |"
        )
    return "\n".join(lines)


def recipe_table(calls: list[Call], threshold: float, conditions: list[str]) -> str:
    recipes = sorted({c.recipe for c in calls if c.kind == "escalation"})
    lines = ["| recipe | " + " | ".join(conditions) + " |", "|---|" + "---|" * len(conditions)]
    for recipe in recipes:
        cells = []
        for condition in conditions:
            chosen = [c for c in calls if c.recipe == recipe and c.condition == condition]
            r = score(chosen, threshold)
            cells.append(f"{r['found']}/{r['spans']} (recall {_f(r['recall'], 2)})")
        lines.append(f"| {recipe} | " + " | ".join(cells) + " |")
    kinds = sorted({c.kind for c in calls if c.kind in CALM_KINDS})
    for kind in kinds:
        cells = []
        for condition in conditions:
            chosen = [c for c in calls if c.kind == kind and c.condition == condition]
            r = score(chosen, threshold)
            cells.append(f"{_f(r['calm_found_s_per_hour'], 0)} s/h found")
        lines.append(f"| calm: {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_table(calls: list[Call], conditions: list[str]) -> str:
    lines = [
        "| threshold | "
        + " | ".join(f"{c}: found / recall / precision / calm s/h" for c in conditions)
        + " |",
        "|---|" + "---|" * len(conditions),
    ]
    for threshold in CURVE:
        cells = []
        for condition in conditions:
            r = score([c for c in calls if c.condition == condition], threshold)
            cells.append(
                f"{r['found']}/{r['spans']} / {_f(r['recall'], 2)} / {_f(r['precision'], 2)} / "
                f"{_f(r['calm_found_s_per_hour'], 0)}"
            )
        lines.append(f"| {threshold:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _params(settings: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` settings as EscalationParams fields: comma lists become float tuples,
    numbers with a dot floats, other numbers ints."""
    fields = EscalationParams.__dataclass_fields__
    parsed: dict[str, Any] = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        if name not in fields or name == "threshold":
            raise SystemExit(
                f"--param {setting!r}: not an EscalationParams field (or use --threshold)"
            )
        if "," in value:
            parsed[name] = tuple(float(v) for v in value.split(","))
        else:
            parsed[name] = float(value) if "." in value or "e" in value else int(value)
    return parsed


def _analyse_set(
    service: AudioFeatureService,
    set_dir: Path,
    label: str,
    args: argparse.Namespace,
    params: EscalationParams,
    conditions: list[str] | None,
) -> list[Call]:
    """The calls of one built set (`--split`, `conditions`: default every one it has), each
    analysed; `label` is put before each call id when several sets are pooled."""
    truth: dict[str, Spans] = {}
    bars: dict[str, list[bool]] = {}
    for row in read_csv(set_dir / "truth.csv"):
        truth.setdefault(row["call_id"], []).append((float(row["start_s"]), float(row["end_s"])))
        bars.setdefault(row["call_id"], []).append(at_bar(row))
    turns: dict[str, Turns] = {}
    if (set_dir / "turns.csv").exists():  # builds before session 28 have none
        for row in read_csv(set_dir / "turns.csv"):
            turns.setdefault(row["call_id"], []).append(
                (row["speaker"], float(row["start_s"]), float(row["end_s"]))
            )
    manifest = read_csv(set_dir / "manifest.csv")
    wanted = conditions or list(dict.fromkeys(r["condition"] for r in manifest))
    rows = [
        r
        for r in manifest
        if (args.split == "all" or r["split"] == args.split) and r["condition"] in wanted
    ]
    if args.max_calls is not None:
        ids = list(dict.fromkeys(r["call_id"] for r in rows))[: args.max_calls]
        rows = [r for r in rows if r["call_id"] in ids]
    if not rows:
        raise SystemExit(f"no call of split {args.split!r} in {set_dir}/manifest.csv")
    calls = []
    for row in rows:
        call = analyse(
            service, set_dir, row, truth.get(row["call_id"], []), params,
            args.curve or args.save_analyses is not None, bars.get(row["call_id"], []),
            turns.get(row["call_id"]),
        )
        call.call_id = label + call.call_id
        calls.append(call)
        found = ", ".join(f"{a:.0f}-{b:.0f}" for a, b in call.found[args.threshold]) or "-"
        spans = ", ".join(f"{a:.0f}-{b:.0f}" for a, b in call.truth) or "-"
        print(
            f"{call.condition:9s} {call.call_id}: truth {spans}; found {found} "
            f"({call.seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    return calls


def save_analyses(path: Path, calls: list[Call], document: dict[str, Any]) -> None:
    """Pickle the calls with their measured windows (and `document`: what was analysed how)."""
    kept = [name for name in Call.__dataclass_fields__ if name != "found"]
    document["calls"] = [{name: getattr(call, name) for name in kept} for call in calls]
    with path.open("wb") as handle:
        pickle.dump(document, handle)


def load_analyses(path: Path) -> tuple[list[Call], dict[str, Any]]:
    """The calls of `save_analyses`, with nothing found yet, and the rest of its document.
    A pickle runs code as it loads: load only files you saved."""
    with path.open("rb") as handle:
        document = pickle.load(handle)
    return [Call(**fields) for fields in document.pop("calls")], document


def build_records(set_dirs: list[Path]) -> list[dict[str, Any]]:
    """Each set's `build.json` (its seed, call lengths, recipes, versions), so that a score
    says which build it is of; {} for a set without one."""
    return [
        json.loads(path.read_text()) if (path := set_dir / "build.json").is_file() else {}
        for set_dir in set_dirs
    ]


def _rescore_saved(
    paths: list[Path], threshold: float, changes: dict[str, Any]
) -> tuple[list[Call], str, str, list[dict[str, Any]]]:
    """The calls of saved analyses (`--analyses`), re-scored at `threshold` with `changes`
    (`--param`), the F0 backend they were measured with, the split they were saved from and
    the builds they were made of."""
    if measured := sorted(set(changes) & set(MEASUREMENT)):
        raise SystemExit(f"--param {', '.join(measured)}: changes the measurement; analyse again")
    calls: list[Call] = []
    backends, splits = set(), set()
    builds: list[dict[str, Any]] = []
    for path in paths:
        loaded, document = load_analyses(path)
        backends.add(document["f0_backend"])
        splits.add(document["split"])
        builds += document.get("builds", [])
        label = f"{path.stem}/" if len(paths) > 1 else ""
        for call in loaded:
            call.call_id = label + call.call_id
            call.rescore(threshold, changes)
        calls += loaded
    return calls, ", ".join(sorted(backends)), ", ".join(sorted(splits)), builds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--set", type=Path, action="append", dest="set_dirs", default=[],
        help="a built set; repeat it to pool several builds (other seeds) into one score",
    )
    parser.add_argument(
        "--analyses", type=Path, action="append", default=[],
        help="instead of --set: analyses saved with --save-analyses, scored again at "
        "--threshold with --param (scoring fields only); repeat it to pool them",
    )
    parser.add_argument(
        "--save-analyses", type=Path, default=None, metavar="FILE.pkl",
        help="keep every call's measured windows, for --analyses",
    )
    parser.add_argument(
        "--split", choices=("tune", "test", "tune-spontaneous", "all"), default="tune"
    )
    parser.add_argument(
        "--conditions", default=None, help="comma-separated (default: every one the set has)"
    )
    parser.add_argument("--threshold", type=float, default=EscalationParams().threshold)
    parser.add_argument("--curve", action="store_true")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an EscalationParams field, e.g. weights=1,0.6,0.4,0,0.3 (tuning on --split tune)",
    )
    parser.add_argument("--backend", action="append", default=[], metavar="FEATURE=NAME")
    parser.add_argument("--device", default=None)
    parser.add_argument("--max-calls", type=int, default=None, help="per condition (quick runs)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if bool(args.set_dirs) == bool(args.analyses):
        parser.error("give --set (to analyse) or --analyses (to re-score), not both")
    if args.analyses and args.save_analyses:
        parser.error("--save-analyses needs --set: saved analyses are saved already")

    conditions = [c for c in (args.conditions or "").split(",") if c] or None
    if args.analyses:
        changes = _params(args.param)
        calls, f0_backend, split, builds = _rescore_saved(args.analyses, args.threshold, changes)
        calls = [c for c in calls if conditions is None or c.condition in conditions]
    else:
        config: dict[str, Any] = {"backends": dict(b.split("=", 1) for b in args.backend)}
        if args.device:
            config["device"] = args.device
        service = AudioFeatureService(config)
        split = args.split
        builds = build_records(args.set_dirs)
        params = EscalationParams(threshold=args.threshold, **_params(args.param))
        calls = []
        for set_dir in args.set_dirs:
            label = f"{set_dir.name}/" if len(args.set_dirs) > 1 else ""
            calls += _analyse_set(service, set_dir, label, args, params, conditions)
        f0 = service.provenance["f0"]
        f0_backend = f"{f0.backend} on {f0.device}"
        changes = {}  # the analysis ran with them
        if args.save_analyses:
            save_analyses(args.save_analyses, calls, {
                "gpuaudio": __version__, "f0_backend": f0_backend, "split": args.split,
                "set": [str(d) for d in args.set_dirs], "params": _params(args.param),
                "builds": builds,
            })  # fmt: skip
    if args.curve:
        for call in calls:
            for threshold in CURVE:
                if threshold not in call.found:
                    call.rescore(threshold, changes)
    sources = args.set_dirs or args.analyses
    if conditions is None:
        conditions = list(dict.fromkeys(call.condition for call in calls))
    present = [c for c in conditions if any(call.condition == c for call in calls)]
    summary = [(c, score([x for x in calls if x.condition == c], args.threshold)) for c in present]
    summary.append(("all conditions", score(calls, args.threshold)))
    print(
        f"gpuaudio {__version__}, F0 backend {f0_backend}; "
        f"{'set' if args.set_dirs else 'saved analyses'} {', '.join(str(d) for d in sources)} "
        f"split {split}; threshold {args.threshold}; "
        f"params {_params(args.param) or 'default'}; a span is found when >= "
        f"{FOUND_SHARE:.0%} of it is covered"
    )
    print()
    print(table(summary))
    missed = summary[-1][1]["bar_missed"]
    seconds, pitch, low_pitch, gain = BAR
    print(f"\nspans at issue 11's bar (>= {seconds:g} s, >= +{pitch:g} st or >= +{low_pitch:g} st "
          f"and >= +{gain:g} dB) missed: " + ("; ".join(missed) if missed else "none"))
    print()
    print(recipe_table(calls, args.threshold, present))
    if any(call.voices is not None for call in calls):
        print()
        print(voices_table(calls, present))
    if args.curve:
        print()
        print(curve_table(calls, present))
    if args.json:
        document = {
            "set" if args.set_dirs else "analyses": [str(d) for d in sources],
            "split": split,
            "builds": builds,
            "threshold": args.threshold,
            "params": _params(args.param),
            "f0_backend": f0_backend,
            "speaker_encoder": speakers.encoder_name(),
            "summary": dict(summary),
            "curve": {
                c: [score([x for x in calls if x.condition == c], t) for t in CURVE]
                for c in present
            }
            if args.curve
            else None,
            "calls": [
                {
                    "call_id": c.call_id,
                    "condition": c.condition,
                    "kind": c.kind,
                    "recipe": c.recipe,
                    "duration_s": c.duration_s,
                    "truth": c.truth,
                    "found": {str(t): v for t, v in c.found.items()},
                    "seconds": c.seconds,
                    "voices": c.voices,
                }
                for c in calls
            ],
        }
        args.json.write_text(json.dumps(document, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
