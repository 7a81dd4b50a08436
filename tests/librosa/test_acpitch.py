"""acpitch: the F0 contract (conformance suite), its options and its errors, and the parts of
the method that differ from Praat's (a local silence reference, harmonicity as voiced_prob)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from gpuaudio import AudioFeatureService, ConfigError, InvalidParameterError
from gpuaudio.testing import F0BackendConformance, harmonic_tone
from gpuaudio_librosa._acpitch_options import AcPitchOptions

SR = 16000


class TestAcPitchConformance(F0BackendConformance):
    backend = "acpitch"


class TestAcPitchWithOptionsConformance(F0BackendConformance):
    backend = "acpitch"
    options: ClassVar[dict[str, Any]] = {
        "voicing_threshold": 0.35,
        "max_candidates": 4,
        "silence_reference_s": 5.0,
    }


def service(**options: float) -> AudioFeatureService:
    config: dict[str, object] = {"backends": {"f0": "acpitch"}, "fallback": False}
    if options:
        config["acpitch"] = options
    return AudioFeatureService(config)


def track(svc: AudioFeatureService, y: np.ndarray, **grid: int) -> tuple[np.ndarray, ...]:
    params = {"frame_length": 2048, "hop_length": 512} | grid
    result: tuple[np.ndarray, ...] = svc.extract_f0(y, SR, fmin=50.0, fmax=550.0, **params)
    return result


def test_is_the_cpu_default() -> None:
    """`auto` on a CPU picks acpitch (docs/robust-f0.md: above Praat and fastpyin on real
    voices over a phone line); naming it works without a GPU too."""
    auto = AudioFeatureService({"device": "cpu"}).resolution("f0")
    assert auto.chosen.spec.name == "acpitch"
    named = AudioFeatureService({"device": "cpu", "backends": {"f0": "acpitch"}})
    assert named.resolution("f0").chosen.spec.name == "acpitch"


@pytest.mark.parametrize("f0", [80.0, 150.0, 330.0, 500.0])
def test_pitch_of_tones_across_the_range(f0: float) -> None:
    f0s, voiced, prob = track(service(), harmonic_tone(f0, SR, 1.0))
    interior = slice(2, -2)
    assert voiced[interior].all()
    cents = 1200 * np.abs(np.log2(f0s[interior] / f0))
    assert cents.max() < 5.0
    assert np.all(prob[interior] > 0.9)


def test_missing_fundamental_is_still_found() -> None:
    """A telephone band removes a male voice's fundamental: harmonics 3-8 of 110 Hz only."""
    t = np.arange(SR) / SR
    y = sum(np.sin(2 * np.pi * 110 * k * t) for k in range(3, 9)).astype(np.float32)
    f0s, voiced, _ = track(service(), 0.1 * y)
    assert voiced[2:-2].all()
    assert np.abs(1200 * np.log2(f0s[2:-2] / 110)).max() < 5.0


def test_envelope_keeps_a_jittery_voice_on_the_line_from_slipping_an_octave_up() -> None:
    """A 120-Hz voice through a telephone band (harmonics 3-28), its even harmonics three times
    the odd ones and its period jittering by 2 %: half the period looks as periodic as the
    period, and Praat's method (envelope_weight 0, the default) slips an octave up in about a
    third of the frames (measured 0.34); with the square's autocorrelation blended in (0.5)
    the fundamental is back (0.00)."""
    rng = np.random.default_rng(0)
    n = 3 * SR
    jitter = 0.02 * np.convolve(rng.standard_normal(n), np.ones(80) / np.sqrt(80), "same")
    phase = 2 * np.pi * np.cumsum(120.0 * (1 + jitter)) / SR
    harmonics = [k for k in range(3, 31) if 120 * k < 3400]
    y = sum((3.0 if k % 2 == 0 else 1.0) * np.sin(k * phase + 0.3 * k * k) for k in harmonics)
    y = (0.05 * y).astype(np.float32)
    slips = {}
    for weight in (0.0, 0.5):
        f0s, _, _ = track(service(envelope_weight=weight), y)
        slips[weight] = float(np.mean(f0s[2:-2] > 1.5 * 120.0))
    assert slips[0.0] > 0.2, slips
    assert slips[0.5] < 0.02, slips
    assert AcPitchOptions().envelope_weight == 0.0


def test_noise_is_mostly_unvoiced() -> None:
    noise = 0.1 * np.random.default_rng(0).standard_normal(4 * SR).astype(np.float32)
    _, voiced, prob = track(service(), noise)
    assert voiced.mean() < 0.05
    assert np.all((prob >= 0) & (prob <= 1))


def test_silence_reference_is_local() -> None:
    """A quiet voice 3 s after a far louder one stays voiced (Praat's whole-sound peak would
    push it under the silence threshold: 40 dB < 3 %), and it is unvoiced when the reference
    reaches back to the loud part."""
    loud = harmonic_tone(200.0, SR, 1.0, amplitude=0.9)
    quiet = harmonic_tone(200.0, SR, 1.0, amplitude=0.009)
    y = np.concatenate([loud, np.zeros(2 * SR, np.float32), quiet])
    quiet_frames = slice(3 * SR // 512 + 3, 4 * SR // 512 - 3)
    _, voiced, _ = track(service(), y)
    assert voiced[quiet_frames].all()
    _, voiced, _ = track(service(silence_reference_s=5.0), y)
    assert not voiced[quiet_frames].any()


def test_voicing_threshold_trades_voiced_frames() -> None:
    rng = np.random.default_rng(1)
    tone = harmonic_tone(180.0, SR, 2.0)
    y = (tone + 0.3 * rng.standard_normal(tone.size)).astype(np.float32)
    lenient = track(service(voicing_threshold=0.2), y)[1].mean()
    strict = track(service(voicing_threshold=0.8), y)[1].mean()
    assert lenient > strict


def test_escalation_grid_in_windows_matches_one_row() -> None:
    """The analysis batches 1-s windows: each row is tracked on its own, as it would be alone."""
    rng = np.random.default_rng(2)
    rows = np.stack([harmonic_tone(f, SR, 1.0) for f in (90.0, 240.0, 410.0)])
    rows = (rows + 0.01 * rng.standard_normal(rows.shape)).astype(np.float32)
    svc = service()
    together = track(svc, rows)
    for i, row in enumerate(rows):
        for joint, alone in zip(together, track(svc, row), strict=True):
            np.testing.assert_array_equal(joint[i], alone)


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"voicing_threshold": 1.5}, "voicing_threshold"),
        ({"max_candidates": 0}, "max_candidates"),
        ({"periods_per_window": 1}, "periods_per_window"),
        ({"octave_jump": 0.3}, "octave_jump"),
    ],
)
def test_bad_options_are_refused(table: dict[str, float], named: str) -> None:
    with pytest.raises(ConfigError, match=rf"acpitch.*{named}|{named}.*acpitch"):
        track(service(**table), harmonic_tone(200.0, SR, 0.5))


def test_frame_too_short_for_fmin_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match=r"acpitch: frame_length=512 .* 640"):
        track(service(), harmonic_tone(200.0, SR, 0.5), frame_length=512, hop_length=128)


def _viterbi_one_row(log_f: np.ndarray, delta: np.ndarray, jump: float, switch: float) -> list[int]:
    """The path search written out for one row, state by state (Praat's loop)."""
    n_frames, n_states = delta.shape
    unvoiced = n_states - 1
    score, back = list(delta[0]), [[0] * n_states for _ in range(n_frames)]
    for t in range(1, n_frames):
        new = []
        for j in range(n_states):
            best, arg = -np.inf, 0
            for i in range(n_states):
                if i == unvoiced or j == unvoiced:
                    cost = 0.0 if i == j else switch
                else:
                    cost = jump * abs(log_f[t - 1, i] - log_f[t, j])
                if score[i] - cost > best:  # the first of equal predecessors stays
                    best, arg = score[i] - cost, i
            new.append(best + delta[t, j])
            back[t][j] = arg
        score = new
    path = [int(np.argmax(score))]
    for t in range(n_frames - 1, 0, -1):
        path.append(back[t][path[-1]])
    return path[::-1]


def test_viterbi_matches_the_loop_written_out_with_missing_candidates_and_ties() -> None:
    from gpuaudio_librosa._acpitch import _viterbi

    rng = np.random.default_rng(7)
    rows, frames, k = 6, 12, 4
    log_f = np.log2(rng.uniform(60, 500, (rows, frames, k)))
    log_f[:, :, 3] = log_f[:, :, 2]  # equal candidates: ties between predecessors
    delta = rng.uniform(0, 1, (rows, frames, k + 1)).round(1)
    delta[rng.uniform(size=delta.shape) < 0.2] = -np.inf  # missing candidates
    delta[0, :, :k], delta[0, :, k] = -np.inf, 0.5  # a row without a voiced candidate
    path = _viterbi(log_f, delta, 0.35, 0.14)
    expected = [_viterbi_one_row(log_f[b], delta[b], 0.35, 0.14) for b in range(rows)]
    assert path.tolist() == expected
    assert (path[0] == k).all() and (path < k).any()


def test_fft_length_and_running_maximum_are_scipys() -> None:
    """acpitch does without scipy (a fresh process starts faster): its two helpers give what
    scipy.fft.next_fast_len and scipy.ndimage.maximum_filter1d give."""
    import scipy.fft
    from scipy.ndimage import maximum_filter1d

    from gpuaudio_librosa._acpitch import _next_fast_len, _running_max

    assert [_next_fast_len(n) for n in range(1, 3000)] == [
        scipy.fft.next_fast_len(n, real=True) for n in range(1, 3000)
    ]
    rng = np.random.default_rng(3)
    for size in (1, 2, 3, 31, 63):
        for n in (1, 4, 40, 100):
            x = rng.uniform(0, 1, (3, n))
            expected = maximum_filter1d(x, size, axis=-1, mode="constant", cval=0.0)
            np.testing.assert_array_equal(_running_max(x, size), expected)


def test_rows_shared_out_to_threads_give_the_same_answer_row_for_row() -> None:
    """A batch tracked by 1 and by 3 threads (70 rows: slices of unequal size): identical."""
    from gpuaudio.config import MemoryConfig
    from gpuaudio.memory import MemoryManager
    from gpuaudio_librosa._acpitch import ac_tracker
    from gpuaudio_librosa._batched import track_in_groups

    rng = np.random.default_rng(4)
    tones = [harmonic_tone(f, 16000, 1.0) for f in rng.uniform(80, 400, 70)]
    y = np.stack(tones) * rng.uniform(0.05, 1.0, (70, 1)).astype(np.float32)
    y += 0.02 * rng.standard_normal(y.shape).astype(np.float32)
    tracker = ac_tracker(16000, 50.0, 550.0, 2048, 512, AcPitchOptions())
    manager = MemoryManager("cpu", MemoryConfig())
    one = track_in_groups(manager, tracker, y, threads=1)
    three = track_in_groups(manager, tracker, y, threads=3)
    for field in ("f0", "voiced_flag", "voiced_prob"):
        np.testing.assert_array_equal(getattr(one, field), getattr(three, field))
    assert np.isfinite(one.f0).mean() > 0.5


def test_threads_follow_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch worker's share of the cores (OMP_NUM_THREADS), else the cores it may run on."""
    import os

    from gpuaudio_librosa._batched import cpu_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert cpu_threads() == len(os.sched_getaffinity(0))
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cpu_threads() == len(os.sched_getaffinity(0))
