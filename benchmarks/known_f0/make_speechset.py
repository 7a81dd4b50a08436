"""Build speech with exactly known F0: espeak-ng -> WORLD analysis -> altered F0 -> WORLD synthesis.

The ground truth is the F0 track fed to WORLD's synthesiser, so it is known exactly; voicing is
where that F0 is > 0. Two modes:

``speech``      the accuracy set (committed in data/speech): 10 sentences, English and German,
                two male-ish and two female-ish espeak-ng voices, each with its F0 scaled and
                bent by a slow intonation curve, at clean / 20 dB / 5 dB SNR of pink noise.
``telephone``   the telephone set (committed in data/telephone): the clean recordings of
                data/speech through a narrow-band telephone channel (see `telephone`), read
                from the committed files (no espeak-ng or pyworld needed), truth copied.
``escalation``  recordings of one speaker with known escalation spans (sentences re-synthesised
                3-6 semitones higher with doubled intonation swings and +6 dB) and calm-only
                recordings. ``--tiny`` writes the small committed example to data/escalation;
                otherwise ``--minutes`` / ``--calm-minutes`` long ones go to ``--out`` (default:
                a new temporary directory).

Deterministic: every random choice comes from a seeded numpy Generator, espeak-ng and WORLD
are deterministic. Needs the espeak-ng binary and pyworld (generation only; reading the set
needs neither).

    python benchmarks/known_f0/make_speechset.py speech
    python benchmarks/known_f0/make_speechset.py telephone
    python benchmarks/known_f0/make_speechset.py escalation --tiny
    python benchmarks/known_f0/make_speechset.py escalation --minutes 20 --calm-minutes 20
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, medfilt, resample_poly, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speechset import (
    CONDITIONS,
    ESCALATION_DIR,
    FRAME_PERIOD_MS,
    SPEECH_DIR,
    SR,
    TELEPHONE_BAND_HZ,
    TELEPHONE_CONDITIONS,
    TELEPHONE_DIR,
    TELEPHONE_SR,
    import_pyworld,
    pink_noise,
)

from gpuaudio.evaluation.speechset import write_truth

HOP = int(SR * FRAME_PERIOD_MS / 1000)  # samples per truth frame
MARGIN_S = 0.15  # silence kept around each trimmed sentence
SILENT_DB = 40.0  # frames this far below the loudest spectral-envelope energy are made unvoiced
AP_CAP = 0.1  # aperiodicity (amplitude ratio) ceiling in voiced frames: -20 dB
MIN_VOICED_FRAMES = 4  # shorter voiced runs (< 20 ms) are made unvoiced
SPEECH_RMS_DBFS = -26.0  # level of a calm sentence (RMS over its voiced frames)

SENTENCES = [
    ("en-us+m3", "The quick brown fox jumps over the lazy dog."),
    ("en-us+f3", "Please call me back when you get this message."),
    ("en-us+m3", "We were away a year ago."),
    ("en-us+f3", "I never said she stole my money."),
    ("en-us+m3", "She sells sea shells by the sea shore."),
    ("de+m2", "Heute ist ein schöner Tag am Meer."),
    ("de+f4", "Ich habe dir doch gesagt, dass ich später komme."),
    ("de+m2", "Wir warten auf den nächsten Zug."),
    ("de+f4", "Die Sonne scheint über den Bergen."),
    ("de+m2", "Kannst du mir bitte das Wasser geben?"),
]
ESCALATION_VOICE = "en-us+m3"
ESCALATION_TEXTS = [
    "I called about the invoice from last month.",
    "The amount on the bill is not what we agreed.",
    "Can you tell me who approved this change?",
    "I have been waiting on the line for an hour.",
    "No, that is not what I said to your colleague.",
    "Please put me through to someone who can help.",
    "We have been customers for more than ten years.",
    "I want this fixed today, not next week.",
]


@dataclass(frozen=True)
class World:
    """WORLD analysis of one sentence: F0 (0 = unvoiced), spectral envelope, aperiodicity."""

    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray


def espeak(text: str, voice: str) -> np.ndarray:
    """espeak-ng speech at SR, trimmed to its sound plus MARGIN_S of silence on each side."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng not found: install it (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(wav), text], check=True)
        samples, sr = sf.read(wav, dtype="float64")
    samples = resample_poly(samples, SR, sr)
    frames = samples[: samples.size // HOP * HOP].reshape(-1, HOP)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    loud = np.flatnonzero(energy > energy.max() - 50.0)
    margin = int(MARGIN_S * SR)
    start, stop = loud[0] * HOP, (loud[-1] + 1) * HOP
    return np.pad(samples[start:stop], margin)


def analyse(samples: np.ndarray) -> World:
    """WORLD analysis with a cleaned F0 (see below) that the envelope is then computed with.

    Harvest + StoneMask F0; octave jumps folded back towards the running median and spikes
    median-filtered (espeak-ng's own pitch is smooth, so these are analysis errors that would
    otherwise leave the old harmonics in the envelope); faint and very short voicing removed;
    CheapTrick envelope and D4C aperiodicity from that F0, aperiodicity capped at
    AP_CAP in voiced frames so that what the truth calls voiced sounds periodic.
    """
    pw = import_pyworld()
    f0, times = pw.harvest(samples, SR, f0_floor=50.0, f0_ceil=600.0, frame_period=FRAME_PERIOD_MS)
    f0 = _smoothed(pw.stonemask(samples, f0, times, SR))
    sp = pw.cheaptrick(samples, f0, times, SR)
    energy = 10 * np.log10(sp.sum(axis=1) + 1e-20)
    f0[energy < energy.max() - SILENT_DB] = 0.0
    f0 = _drop_short_runs(f0)
    sp = pw.cheaptrick(samples, f0, times, SR)
    ap = pw.d4c(samples, f0, times, SR)
    ap[f0 > 0] = np.minimum(ap[f0 > 0], AP_CAP)
    return World(f0, sp, ap)


def _smoothed(f0: np.ndarray) -> np.ndarray:
    """Octave jumps folded towards a 255 ms running median (log F0), then a 35 ms median."""
    voiced = np.flatnonzero(f0 > 0)
    log_f0 = np.log2(f0[voiced])
    log_f0 -= np.round(log_f0 - medfilt(log_f0, 51))
    out = f0.copy()
    out[voiced] = np.exp2(medfilt(log_f0, 7))
    return out


def _drop_short_runs(f0: np.ndarray) -> np.ndarray:
    voiced = np.concatenate([[False], f0 > 0, [False]])
    edges = np.flatnonzero(np.diff(voiced.astype(np.int8)))
    out = f0.copy()
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < MIN_VOICED_FRAMES:
            out[start:stop] = 0.0
    return out


def altered_f0(
    f0: np.ndarray, rng: np.random.Generator, *, scale: float, offset_st: float, swing: float
) -> np.ndarray:
    """A new, smooth F0 contour on the voiced frames of `f0` (0 elsewhere).

    Around the sentence's median F0 times `scale`, raised by `offset_st`, bent by a slow sine
    (1.5-3 semitones at 0.3-0.8 Hz, times `swing`) and a declination line (-2..+1 semitones
    over the sentence), all drawn from `rng`. espeak-ng's own contour is not kept: as analysed
    it carries octave and tracking errors that would not be heard in the re-synthesis.
    """
    t = np.arange(f0.size) * FRAME_PERIOD_MS / 1000
    depth, rate, phase = rng.uniform(1.5, 3.0), rng.uniform(0.3, 0.8), rng.uniform(0, 2 * np.pi)
    slope = rng.uniform(-2.0, 1.0)
    semitones = offset_st + swing * depth * np.sin(2 * np.pi * rate * t + phase)
    semitones += slope * (t / max(t[-1], 1e-9) - 0.5)
    centre = float(np.median(f0[f0 > 0])) * scale
    return np.where(f0 > 0, centre * np.exp2(semitones / 12), 0.0)


def synthesize(world: World, f0: np.ndarray, level_dbfs: float) -> np.ndarray:
    """WORLD synthesis from `f0`, scaled to `level_dbfs` RMS over its voiced frames."""
    pw = import_pyworld()
    audio = pw.synthesize(f0, world.sp, world.ap, SR, FRAME_PERIOD_MS)
    voiced = np.repeat(f0 > 0, HOP)[: audio.size]
    rms = np.sqrt(np.mean(audio[: voiced.size][voiced] ** 2))
    result: np.ndarray = audio * 10 ** (level_dbfs / 20) / rms
    return result


def with_noise(clean: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    """`clean` plus pink noise at `snr_db` over the whole recording (None: unchanged)."""
    if snr_db is None:
        return clean
    signal_power = np.mean(clean**2)
    return clean + pink_noise(clean.size, rng) * np.sqrt(signal_power / 10 ** (snr_db / 10))


def write_audio(path: Path, samples: np.ndarray) -> None:
    if np.max(np.abs(samples)) >= 1.0:
        raise ValueError(f"{path.name} would clip; lower SPEECH_RMS_DBFS")
    sf.write(path, samples, SR, subtype="PCM_16", format="FLAC")


MU = 255  # G.711 mu-law


def telephone(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """`samples` (at SR) through a narrow-band telephone channel, returned at SR.

    Resampled to TELEPHONE_SR; band-limited to TELEPHONE_BAND_HZ by a causal 4th-order
    Butterworth band-pass (a real line's phase distortion included); white line noise through
    the same band added at `snr_db` (speech power over the whole recording / noise power, both
    band-limited); 8-bit mu-law (mu = 255) coded and decoded; resampled back to SR, as an
    analysis that resamples its input to SR sees a telephone recording. Male voices lose their
    fundamental (below 300 Hz) and keep harmonics 3 and up.
    """
    narrow = resample_poly(samples, TELEPHONE_SR, SR)
    band = butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=TELEPHONE_SR, output="sos")
    speech = sosfilt(band, narrow)
    noise = sosfilt(band, rng.standard_normal(narrow.size))
    noise *= np.sqrt(np.mean(speech**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    line = np.clip(speech + noise, -1.0, 1.0)
    code = np.round(np.sign(line) * np.log1p(MU * np.abs(line)) / np.log1p(MU) * 127.5 - 0.5)
    level = (np.clip(code, -128, 127) + 0.5) / 127.5
    decoded = np.sign(level) * ((1 + MU) ** np.abs(level) - 1) / MU
    result: np.ndarray = resample_poly(decoded, SR, TELEPHONE_SR)[: samples.size]
    return result


def build_telephone(source: Path, out: Path, seed: int) -> None:
    """The telephone set: `source`'s clean recordings through `telephone`, truth copied."""
    from gpuaudio.evaluation.speechset import load_set

    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, rec in enumerate(load_set(source).recordings):
        rng = np.random.default_rng([seed, index, 8000])
        clean = rec.audio("clean").astype(np.float64)
        files = {}
        for condition, snr in TELEPHONE_CONDITIONS.items():
            files[condition] = f"{rec.id}_{condition}.flac"
            write_audio(out / files[condition], telephone(clean, float(snr or 0.0), rng))
        truth = source / rec.entry["truth"]
        (out / truth.name).write_bytes(truth.read_bytes())
        entries.append({**rec.entry, "files": files})
        print(f"{rec.id}: {clean.size / SR:.2f} s")
    low, high = TELEPHONE_BAND_HZ
    channel = (
        f"telephone channel: {TELEPHONE_SR} Hz, {low:g}-{high:g} Hz 4th-order Butterworth "
        "band-pass (causal), white line noise in the band at the condition's SNR, 8-bit "
        f"mu-law, back to {SR} Hz; source: the clean files of {source.name}"
    )
    _write_manifest(out, "speech", seed, entries, TELEPHONE_CONDITIONS, channel)


def build_speech(out: Path, seed: int) -> None:
    """The accuracy set: every sentence at every condition, with its truth and a manifest."""
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, (voice, text) in enumerate(SENTENCES):
        rng = np.random.default_rng([seed, index])
        world = analyse(espeak(text, voice))
        female = "+f" in voice
        scale = rng.uniform(0.95, 1.2) if female else rng.uniform(1.0, 1.25)
        f0 = altered_f0(world.f0, rng, scale=scale, offset_st=0.0, swing=1.0)
        clean = synthesize(world, f0, SPEECH_RMS_DBFS)
        rec_id = f"{index:02d}_{voice.replace('+', '_')}"
        files = {}
        for condition, snr in CONDITIONS.items():
            files[condition] = f"{rec_id}_{condition}.flac"
            write_audio(out / files[condition], with_noise(clean, snr, rng))
        times = np.arange(f0.size) * FRAME_PERIOD_MS / 1000
        write_truth(out / f"{rec_id}_f0.csv", times, np.where(f0 > 0, f0, np.nan))
        entries.append(
            {
                "id": rec_id,
                "voice": voice,
                "text": text,
                "f0_scale": round(float(scale), 4),
                "duration_s": round(clean.size / SR, 3),
                "files": files,
                "truth": f"{rec_id}_f0.csv",
            }
        )
        print(f"{rec_id}: {clean.size / SR:.2f} s, median F0 {np.median(f0[f0 > 0]):.0f} Hz")
    noise = "pink (1/f power), SNR over the whole recording"
    _write_manifest(out, "speech", seed, entries, CONDITIONS, noise)


def _write_manifest(
    out: Path,
    kind: str,
    seed: int,
    entries: list[dict[str, object]],
    conditions: dict[str, float | None],
    noise: str,
) -> None:
    """Every recording has a file for each of `conditions` (the set reader checks it)."""
    manifest = {
        "kind": kind,
        "generator": "benchmarks/known_f0/make_speechset.py",
        "seed": seed,
        "sr": SR,
        "frame_period_ms": FRAME_PERIOD_MS,
        "noise": noise,
        "conditions": conditions,
        "recordings": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def _recording(
    blocks: list[tuple[int, bool]], worlds: list[World], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """Concatenate sentences: blocks of (count, escalated); returns audio, truth F0, spans.

    Sentences start on the truth frame grid, so their F0 frames land exactly on it.
    """
    pieces: list[np.ndarray] = []
    f0_track: list[np.ndarray] = []
    spans: list[tuple[float, float]] = []
    frames = 0
    for count, escalated in blocks:
        block_start = frames
        for _ in range(count):
            world = worlds[int(rng.integers(len(worlds)))]
            offset = rng.uniform(3.0, 6.0) if escalated else 0.0
            f0 = altered_f0(
                world.f0, rng, scale=1.15, offset_st=offset, swing=2.0 if escalated else 0.7
            )
            level = SPEECH_RMS_DBFS + (6.0 if escalated else 0.0)
            audio = synthesize(world, f0, level)[: f0.size * HOP]
            pause = int(rng.uniform(0.3, 1.0) * 1000 / FRAME_PERIOD_MS)
            pieces += [np.pad(audio, (0, f0.size * HOP - audio.size)), np.zeros(pause * HOP)]
            f0_track += [f0, np.zeros(pause)]
            frames += f0.size + pause
        if escalated:
            spans.append((block_start * HOP / SR, (frames - pause) * HOP / SR))
    audio = np.concatenate(pieces)
    audio += pink_noise(audio.size, rng) * 10 ** (-60.0 / 20)  # faint room noise
    return audio, np.concatenate(f0_track), spans


def build_escalation(out: Path, seed: int, minutes: float, calm_minutes: float, tiny: bool) -> None:
    """Recordings with escalation spans, and calm-only ones, of one speaker."""
    out.mkdir(parents=True, exist_ok=True)
    worlds = [analyse(espeak(text, ESCALATION_VOICE)) for text in ESCALATION_TEXTS]
    rng = np.random.default_rng(seed)
    mean_s = np.mean([w.f0.size for w in worlds]) * FRAME_PERIOD_MS / 1000 + 0.65
    if tiny:
        plans = {"escalation": [(5, False), (3, True), (3, False)], "calm": [(6, False)]}
    else:
        plans = {"escalation": [], "calm": [(round(calm_minutes * 60 / mean_s), False)]}
        while len(plans["escalation"]) * mean_s * 7 < minutes * 60:  # ~4 calm : 3 escalated
            plans["escalation"] += [
                (int(rng.integers(8, 25)), False),
                (int(rng.integers(2, 6)), True),
            ]
    entries = []
    for name, blocks in plans.items():
        if not blocks or sum(count for count, _ in blocks) == 0:
            continue
        audio, f0, spans = _recording(blocks, worlds, rng)
        write_audio(out / f"{name}.flac", audio)
        times = np.arange(f0.size) * FRAME_PERIOD_MS / 1000
        write_truth(out / f"{name}_f0.csv", times, np.where(f0 > 0, f0, np.nan))
        entries.append(
            {
                "id": name,
                "voice": ESCALATION_VOICE,
                "duration_s": round(audio.size / SR, 3),
                "files": {"clean": f"{name}.flac"},
                "truth": f"{name}_f0.csv",
                "escalations": [[round(a, 3), round(b, 3)] for a, b in spans],
            }
        )
        print(f"{name}: {audio.size / SR:.1f} s, spans {entries[-1]['escalations']}")
    noise = "only a faint pink room noise, RMS -60 dB re full scale"
    _write_manifest(out, "escalation", seed, entries, {"clean": None}, noise)
    print(f"written to {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    speech = sub.add_parser("speech", help="the accuracy set (default: the committed data/speech)")
    speech.add_argument("--out", type=Path, default=SPEECH_DIR)
    speech.add_argument("--seed", type=int, default=0)
    tel = sub.add_parser("telephone", help="the telephone set from the speech set's clean files")
    tel.add_argument("--source", type=Path, default=SPEECH_DIR)
    tel.add_argument("--out", type=Path, default=TELEPHONE_DIR)
    tel.add_argument("--seed", type=int, default=0)
    esc = sub.add_parser("escalation", help="recordings with known escalation spans + calm ones")
    esc.add_argument("--out", type=Path, default=None, help="default: data/escalation if --tiny")
    esc.add_argument("--seed", type=int, default=0)
    esc.add_argument("--tiny", action="store_true", help="the small committed example")
    esc.add_argument("--minutes", type=float, default=10.0, help="length with escalations")
    esc.add_argument("--calm-minutes", type=float, default=10.0, help="length of the calm one")
    args = parser.parse_args(argv)
    if args.mode == "speech":
        build_speech(args.out, args.seed)
    elif args.mode == "telephone":
        build_telephone(args.source, args.out, args.seed)
    else:
        default = ESCALATION_DIR if args.tiny else Path(tempfile.mkdtemp(prefix="gpuaudio-esc-"))
        build_escalation(args.out or default, args.seed, args.minutes, args.calm_minutes, args.tiny)


if __name__ == "__main__":
    main()
