"""Property-based: the CLI under random option values and corrupted input files (issue 15
item 6). Whatever `analyze`, `monitor` or `batch` is given, it exits 0, 1 or 2; a failure says
so in a ``gpuaudio: error:`` line (argparse's own usage errors in its ``gpuaudio VERB: error:``
form; `batch`'s exit 1 in its ``gpuaudio: N of M recording(s) failed`` summary), never with a
traceback; and every output folder is complete (report.json, windows.csv, the figure and the
TextGrid together) or absent, with no staging folder left behind.

Each example runs `gpuaudio.cli.main` in-process on a 1.5-s recording, under a hard time limit
(SIGALRM) besides hypothesis' deadline. Valid but costly values (a hop of 1e-4 s asks for
15,000 overlapping windows, a monitor block of 1e-6 s for one sample per block) are left out
of the draws: they are slow by request, not wrong.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import signal
import struct
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuaudio.analysis.report import FIGURE_PNG, REPORT_JSON, TEXTGRID, WINDOWS_CSV
from gpuaudio.cli import main

SR = 8000
SECONDS = 1.5
LIMIT_S = 30
"""Hard limit of one example (a hang fails the test instead of stalling CI)."""
CORE_OUTPUTS = {REPORT_JSON, WINDOWS_CSV, FIGURE_PNG, TEXTGRID}
ERROR_LINE = re.compile(r"^gpuaudio(?: [a-z]+)?: error: \S")
BATCH_FAILED = re.compile(r"^gpuaudio: \d+ of \d+ recording\(s\) failed")

def _examples(n: int) -> settings:
    """Hypothesis settings of a test here: `n` examples, each under a 15-s deadline."""
    return settings(
        max_examples=n,
        deadline=timedelta(seconds=15),
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=True,  # the same examples in every CI run: a failure reproduces
    )


class Hung(BaseException):
    """Raised by SIGALRM in an example that ran past `LIMIT_S` (a BaseException: no
    ``except Exception`` in the code under test swallows it)."""


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Hung(f"the command ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


pytestmark = pytest.mark.usefixtures("isolated")  # an empty folder, no GPUAUDIO_* settings


def _speech_like(seed: int = 0) -> np.ndarray:
    """A gliding harmonic tone with a little noise: voiced, so the analysis does real work."""
    t = np.arange(int(SECONDS * SR)) / SR
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = sum(np.sin(k * phase) / k for k in (1, 2, 3))
    noise = 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.2 * tone + noise).astype(np.float32)


def _wav_bytes(samples: np.ndarray, subtype: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, SR, format="WAV", subtype=subtype)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean 1.5-s recording, analysed once here so the examples run warm (numba, imports)."""
    folder = tmp_path_factory.mktemp("recording")
    path = folder / "call.wav"
    path.write_bytes(_wav_bytes(_speech_like(), "PCM_16"))
    assert main(["analyze", str(path), "-o", str(folder / "warm"), "--quiet", "--no-html"]) == 0
    return path


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and stderr of ``gpuaudio ARGV`` run in-process (argparse's exits included)."""
    try:
        with _time_limit(LIMIT_S):
            code = main(argv)
    except SystemExit as exc:  # argparse: usage errors, --help
        code = exc.code if isinstance(exc.code, int) else 2
    return code, capsys.readouterr().err


def _assert_clean_exit(code: int, err: str, *, allowed: tuple[int, ...] = (0, 2)) -> None:
    assert code in allowed, (code, err)
    assert "Traceback" not in err, err
    if code != 0:
        lines = [line for line in err.splitlines() if line.strip()]
        assert any(ERROR_LINE.match(line) or BATCH_FAILED.match(line) for line in lines), err


def _assert_whole_or_absent(out: Path) -> None:
    """Every folder under `out` holding an output holds all of them; no staging is left."""
    if not out.exists():
        return
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        assert not folder.name.startswith(".gpuaudio-partial-"), folder
        names = {p.name for p in folder.iterdir() if p.is_file()}
        written = names & CORE_OUTPUTS
        assert not written or written == CORE_OUTPUTS, (folder, sorted(names))


# -- option values ---------------------------------------------------------------------------

NASTY = st.sampled_from(
    ["nan", "inf", "-inf", "-1", "0", "-0", "", "abc", "1e999", "1e308", " 2", "0x10", "1_0"]
)
SECONDS_VALUES = st.one_of(
    NASTY,
    st.floats(0.05, 90.0).map(lambda x: f"{x:.3g}"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
"""Option values in seconds: nasty strings, sensible values, and any float (a tiny positive
one is refused when it rounds to no sample, else it is at least 0.05 s by the filter below)."""


def _costly(value: str) -> bool:
    """A valid but tiny duration that asks for many thousands of windows or blocks."""
    try:
        number = float(value)
    except ValueError:
        return False
    return math.isfinite(number) and 0 < number < 0.05


ANALYSIS_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "--window": SECONDS_VALUES,
        "--hop": SECONDS_VALUES.filter(lambda v: not _costly(v)),
        "--threshold": st.one_of(NASTY, st.floats(allow_nan=True).map(repr)),
        "--min-duration": SECONDS_VALUES,
        "--min-pitch-rise": st.one_of(NASTY, st.floats(allow_nan=True).map(repr)),
        "--short-segment": st.one_of(NASTY, st.floats(allow_nan=True).map(repr)),
        "--max-gain-correction": st.one_of(NASTY, st.floats(allow_nan=True).map(repr)),
        "--channel": st.sampled_from(["0", "1", "-1", "x", "99999999999999999999"]),
        "--backend": st.sampled_from(["f0=librosa", "f0=nope", "f0", "=", "stft=librosa", "x=y"]),
        "--device": st.sampled_from(["cpu", "cuda:3", "gpu", "", "auto"]),
        "--config": st.sampled_from(["missing.toml", "."]),
    },
)
FLAGS = st.lists(st.sampled_from(["--no-html", "--embed-audio", "--force"]), unique=True)


def _argv(options: dict[str, str], flags: list[str]) -> list[str]:
    # --opt=VALUE: a value starting with "-" is then a value, not another option
    return [f"{name}={value}" for name, value in options.items()] + flags


@_examples(14)
@given(options=ANALYSIS_OPTIONS, flags=FLAGS)
def test_analyze_options(recording, tmp_path_factory, capsys, options, flags):
    out = tmp_path_factory.mktemp("analyze") / "out"
    argv = ["analyze", str(recording), "-o", str(out), "--quiet", *_argv(options, flags)]
    code, err = _cli(argv, capsys)
    _assert_clean_exit(code, err)
    _assert_whole_or_absent(out)
    if code == 0:
        assert (out / "call" / REPORT_JSON).is_file()


@_examples(8)
@given(
    options=ANALYSIS_OPTIONS,
    block=st.one_of(NASTY, st.floats(0.01, 5000).map(lambda x: f"{x:.3g}")),
    raw=st.sampled_from([[], ["--sr=8000"], ["--format=f32le"], ["--channels=2"]]),
)
def test_monitor_file_options(recording, tmp_path_factory, capsys, options, block, raw):
    out = tmp_path_factory.mktemp("monitor") / "out"
    argv = ["monitor", str(recording), "-o", str(out), "--quiet", f"--block={block}", *raw,
            *_argv(options, [])]  # fmt: skip
    code, err = _cli(argv, capsys)
    _assert_clean_exit(code, err)
    _assert_whole_or_absent(out)


STDIN_BYTES = st.one_of(
    st.binary(min_size=0, max_size=4000),
    st.builds(  # 1.5 s of s16le speech, then anything (a stray odd byte, noise, a header)
        lambda tail: (_speech_like() * 32767).astype("<i2").tobytes() + tail,
        st.binary(min_size=0, max_size=301),
    ),
)


@_examples(12)
@given(
    data=STDIN_BYTES,
    sr=st.sampled_from(["8000", "16000", "0", "-8000", "1e3", "x", "99999999999"]),
    fmt=st.sampled_from(["s16le", "f32le", "u8"]),
    channels=st.sampled_from(["1", "2", "0", "-3", "1000"]),
)
def test_monitor_stdin_takes_any_bytes(tmp_path_factory, capsys, monkeypatch, data, sr, fmt,
                                       channels):  # fmt: skip
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    out = tmp_path_factory.mktemp("stdin") / "out"
    argv = ["monitor", "-", f"--sr={sr}", f"--format={fmt}", f"--channels={channels}",
            "-o", str(out), "--quiet", "--no-html"]  # fmt: skip
    code, err = _cli(argv, capsys)
    _assert_clean_exit(code, err)
    _assert_whole_or_absent(out)


# -- corrupted files ---------------------------------------------------------------------------

# Offsets of a canonical 44-byte WAV header's fields and their struct formats.
HEADER_FIELDS = {
    "riff_size": (4, "<I"),
    "format_tag": (20, "<H"),
    "channels": (22, "<H"),
    "sample_rate": (24, "<I"),
    "byte_rate": (28, "<I"),
    "block_align": (32, "<H"),
    "bits": (34, "<H"),
    "data_size": (40, "<I"),
}


CORRUPTIONS = ("lie", "truncate", "random", "nan", "flip", "empty")


@st.composite
def corrupted_files(draw: st.DrawFn, kind: str) -> bytes:
    """A WAV file damaged one way (`kind`): a header that lies, truncation, random bytes,
    NaN/inf samples in a float WAV, flipped header bytes, or nothing at all."""
    subtype = draw(st.sampled_from(["PCM_16", "FLOAT"]))
    samples = _speech_like(draw(st.integers(0, 3)))
    if kind == "nan":
        subtype = "FLOAT"
        where = draw(st.lists(st.integers(0, samples.size - 1), min_size=1, max_size=50))
        samples[where] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    clean = _wav_bytes(samples, subtype)
    if kind == "lie":
        offset, fmt = HEADER_FIELDS[draw(st.sampled_from(sorted(HEADER_FIELDS)))]
        value = draw(st.integers(0, 2 ** (8 * struct.calcsize(fmt)) - 1))
        return clean[:offset] + struct.pack(fmt, value) + clean[offset + struct.calcsize(fmt):]
    if kind == "truncate":
        return clean[: draw(st.integers(0, len(clean) - 1))]
    if kind == "random":
        head = draw(st.sampled_from([b"", b"RIFF", clean[:44]]))
        return head + draw(st.binary(min_size=0, max_size=3000))
    if kind == "flip":
        data = bytearray(clean)
        for position in draw(st.lists(st.integers(0, 63), min_size=1, max_size=6)):
            data[position] ^= draw(st.integers(1, 255))
        return bytes(data)
    if kind == "empty":
        return b""
    return clean


@pytest.mark.parametrize("kind", CORRUPTIONS)
@_examples(4)
@given(data=st.data())
def test_analyze_corrupted_files(tmp_path_factory, capsys, kind, data):
    content = data.draw(corrupted_files(kind))
    folder = tmp_path_factory.mktemp("corrupt")
    path = folder / "damaged.wav"
    path.write_bytes(content)
    out = folder / "out"
    code, err = _cli(["analyze", str(path), "-o", str(out), "--quiet", "--no-html"], capsys)
    _assert_clean_exit(code, err)
    _assert_whole_or_absent(out)


@pytest.mark.parametrize("kind", CORRUPTIONS)
@_examples(2)
@given(data=st.data())
def test_monitor_corrupted_files(tmp_path_factory, capsys, kind, data):
    content = data.draw(corrupted_files(kind))
    folder = tmp_path_factory.mktemp("corrupt")
    path = folder / "damaged.wav"
    path.write_bytes(content)
    out = folder / "out"
    code, err = _cli(["monitor", str(path), "-o", str(out), "--quiet", "--no-html"], capsys)
    _assert_clean_exit(code, err)
    _assert_whole_or_absent(out)


@_examples(4)
@given(
    content=st.sampled_from(CORRUPTIONS).flatmap(corrupted_files),
    workers=st.sampled_from(["1", "0", "-2"]),
    engine=st.sampled_from(["local", "local", "nope"]),
)
def test_batch_with_a_corrupted_file(
    recording, tmp_path_factory, capsys, content, workers, engine
):
    archive = tmp_path_factory.mktemp("archive")
    (archive / "good.wav").write_bytes(recording.read_bytes())
    (archive / "damaged.wav").write_bytes(content)
    out = archive.parent / f"{archive.name}-out"
    argv = ["batch", str(archive), "-o", str(out), "--no-progress", "--quiet", "--no-html",
            f"--workers={workers}", f"--engine={engine}"]  # fmt: skip
    code, err = _cli(argv, capsys)
    _assert_clean_exit(code, err, allowed=(0, 1, 2))
    _assert_whole_or_absent(out)
