"""fastpyin returns exactly what librosa.pyin returns (f0, voiced_flag, voiced_prob).

The reference is librosa.pyin itself, run in the same test on the same float32 input; the
comparisons are bitwise (``assert_array_equal``, NaN == NaN), which is stronger than the
task's bound (f0 equal on >= 99.9% of frames, voiced_prob within 1e-6).
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import librosa
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuaudio import AudioFeatureService, ConfigError, InvalidParameterError
from gpuaudio.testing import F0BackendConformance, harmonic_tone
from gpuaudio_librosa import _fastpyin, _pyin_kernels

SAMPLE_RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000)


class TestFastPyinConformance(F0BackendConformance):
    backend = "fastpyin"


def reference(batch: np.ndarray, sr: int, **params: Any) -> tuple[np.ndarray, ...]:
    """librosa.pyin on a (batch, n) array with librosa's defaults for everything else."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # librosa's "< two periods" warning
        result: tuple[np.ndarray, ...] = librosa.pyin(batch, sr=sr, **params)
    return result


def fast(batch: np.ndarray, sr: int, **params: Any) -> tuple[np.ndarray, ...]:
    """fastpyin through the service, with the backend named (no fallback)."""
    service = AudioFeatureService({"backends": {"f0": "fastpyin"}, "fallback": False})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result: tuple[np.ndarray, ...] = service.extract_f0(batch, sr, **params)
    assert service.provenance["f0"].backend == "fastpyin"
    return result


def assert_identical(ours: tuple[np.ndarray, ...], ref: tuple[np.ndarray, ...]) -> None:
    for mine, theirs in zip(ours, ref, strict=True):
        assert mine.shape == theirs.shape
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)


def signal(kind: str, sr: int, n: int, f0: float, rng: np.random.Generator) -> np.ndarray:
    """Test signals: noisy harmonic tone, chirp, vibrato voice with a gap, noise, silence."""
    t = np.arange(n) / sr
    if kind == "tone":
        y = harmonic_tone(f0, sr, (n + 1) / sr)[:n] + 0.02 * rng.standard_normal(n)
    elif kind == "chirp":
        y = 0.3 * librosa.chirp(fmin=f0, fmax=2 * f0, sr=sr, length=n)
    elif kind == "voice":
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / sr
        y = 0.2 * np.sum([np.sin(k * phase) / k for k in range(1, 8)], axis=0)
        y[n // 3 : n // 2] = 0.0
        y = y + 0.01 * rng.standard_normal(n)
    elif kind == "noise":
        y = 0.1 * rng.standard_normal(n)
    else:
        y = np.zeros(n)
    return np.asarray(y, dtype=np.float32)


@st.composite
def pyin_cases(draw: st.DrawFn) -> tuple[np.ndarray, int, dict[str, Any]]:
    sr = draw(st.sampled_from(SAMPLE_RATES))
    fmin = draw(st.floats(40.0, 300.0))
    fmax = draw(st.floats(fmin * 1.5, min(fmin * 8, sr / 2)))
    smallest = 2 ** math.ceil(math.log2(sr / fmin + 2))
    frame_length = smallest * draw(st.sampled_from((1, 2)))
    hop_length = draw(st.sampled_from((frame_length // 4, frame_length // 2, 128, 333)))
    n = draw(st.integers(512, sr // 2))
    seed = draw(st.integers(0, 2**32 - 1))
    kinds = draw(
        st.lists(
            st.sampled_from(("tone", "chirp", "voice", "noise", "silence")), min_size=1, max_size=2
        )
    )
    rng = np.random.default_rng(seed)
    pitch = draw(st.floats(fmin, fmax))
    batch = np.stack([signal(kind, sr, n, pitch, rng) for kind in kinds])
    params = {"fmin": fmin, "fmax": fmax, "frame_length": frame_length, "hop_length": hop_length}
    return batch, sr, params


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(pyin_cases())
def test_identical_to_librosa_pyin(case: tuple[np.ndarray, int, dict[str, Any]]) -> None:
    batch, sr, params = case
    try:
        expected = reference(batch, sr, **params)
    except librosa.ParameterError:  # e.g. a hop so long that one step spans the pitch range
        with pytest.raises(InvalidParameterError):
            fast(batch, sr, **params)
        return
    assert_identical(fast(batch, sr, **params), expected)


def test_identical_on_speech_like_windows() -> None:
    """Many one-second windows at 22.05 kHz, as the spec's batched F0 call sends them."""
    rng = np.random.default_rng(7)
    kinds = ("voice", "voice", "tone", "chirp", "noise", "silence")
    batch = np.stack(
        [signal(kinds[i % len(kinds)], 22050, 22050, rng.uniform(80, 260), rng) for i in range(12)]
    )
    params = {"fmin": 50.0, "fmax": 550.0, "frame_length": 2048}
    ours, ref = fast(batch, 22050, **params), reference(batch, 22050, **params)
    assert_identical(ours, ref)
    assert 0.2 < np.mean(ref[1]) < 0.9, "the corpus should mix voiced and unvoiced frames"


@pytest.mark.parametrize("n_samples", [600, 1500])
def test_one_and_two_frame_windows(n_samples: int) -> None:
    """One frame per window: numpy sums librosa's (bins, 1) column pairwise, we must too."""
    rng = np.random.default_rng(n_samples)
    batch = np.stack([signal(k, 16000, n_samples, 200.0, rng) for k in ("tone", "noise")])
    params = {"fmin": 60.0, "fmax": 500.0, "frame_length": 1024, "hop_length": 1024}
    assert_identical(fast(batch, 16000, **params), reference(batch, 16000, **params))


def test_long_windows_split_into_frame_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frame blocks that split windows give the same frames as whole-window blocks."""
    rng = np.random.default_rng(3)
    batch = np.stack([signal(k, 8000, 8000, 150.0, rng) for k in ("voice", "chirp")])
    params = {"fmin": 60.0, "fmax": 400.0, "frame_length": 512}
    ref = reference(batch, 8000, **params)
    for block in (7, 64):  # 63 frames per window: split windows, then grouped windows
        monkeypatch.setattr(_fastpyin, "_FRAMES_PER_BLOCK", block)
        assert_identical(fast(batch, 8000, **params), ref)


def test_sub_batches_give_the_same_frames() -> None:
    rng = np.random.default_rng(5)
    batch = np.stack([signal("voice", 16000, 8000, f, rng) for f in (110.0, 180.0, 240.0)])
    service = AudioFeatureService(
        {
            "backends": {"f0": "fastpyin"},
            "memory": {"max_batch": 1, "min_batch": 1},
        }
    )
    split = service.extract_f0(batch, 16000, frame_length=1024)
    assert service.provenance["f0"].sub_batches == 3
    assert_identical(split, reference(batch, 16000, fmin=50.0, fmax=550.0, frame_length=1024))


SPARSE_VITERBI = "transition_min_prob" in inspect.signature(librosa.sequence.viterbi).parameters
"""librosa >= 1.0 (.ci/py312): its Viterbi can leave out transitions below transition_min_prob."""


@pytest.mark.parametrize(
    "threshold",
    [
        None,
        pytest.param(1e-4, marks=pytest.mark.skipif(not SPARSE_VITERBI, reason="librosa < 1.0")),
        pytest.param(2e-3, marks=pytest.mark.skipif(not SPARSE_VITERBI, reason="librosa < 1.0")),
    ],
)
def test_banded_viterbi_matches_librosa_viterbi_with_ties(threshold: float | None) -> None:
    """Quantised observations (many exact ties, unvoiced rows sometimes 0) decode as librosa's.

    Zero unvoiced probabilities make the best predecessor of far-off pitch bins lie outside
    their transition band, the case the running maxima exist for; with a transition_min_prob
    (librosa 1.0) those and the least likely in-band transitions are left out.
    """
    settings = _fastpyin.PyinSettings(transition_min_prob=threshold)
    model = _fastpyin.PyinModel(8000, 200.0, 400.0, 256, 128, settings=settings)
    n, n_frames, n_windows = model.n_pitch_bins, 30, 6
    rng = np.random.default_rng(11)
    voiced = rng.choice([0.0, 0.0, 0.0, 0.25, 0.5, 1.0], size=(n_windows, n_frames, n))
    unvoiced = rng.choice([0.0, 1e-3, 0.5], size=(n_windows, n_frames))
    rows = voiced.reshape(-1, n)
    first_bin, bin_index = np.nonzero(rows)
    first_row = np.searchsorted(first_bin, np.arange(rows.shape[0]))
    states = _pyin_kernels.viterbi(
        n_frames,
        first_row,
        np.bincount(first_bin, minlength=rows.shape[0]),
        bin_index,
        np.log(rows[first_bin, bin_index] + model.tiny),
        np.log(unvoiced.ravel() + model.tiny),
        model.log_zero,
        model.log_init,
        model.band_lo,
        model.band_hi,
        model.log_stay,
        model.log_switch,
        model.log_outside,
    )
    semitones = round(35.92 * 12 * 128 / 8000)
    local = librosa.sequence.transition_local(n, semitones * 10 + 1, window="triangle")
    transition = np.kron(librosa.sequence.transition_loop(2, 0.99), local)
    if threshold is not None:  # some in-band transitions are left out
        assert (transition[transition > 0] < threshold).any()
    sparse = {} if threshold is None else {"transition_min_prob": threshold}
    for w in range(n_windows):
        prob = np.concatenate([voiced[w].T, np.repeat(unvoiced[w][None], n, axis=0)])
        expected = librosa.sequence.viterbi(
            prob, transition, p_init=np.full(2 * n, 0.5 / n), **sparse
        )
        np.testing.assert_array_equal(states[w], expected)


@pytest.mark.skipif(not SPARSE_VITERBI, reason="librosa < 1.0: no transition_min_prob")
@pytest.mark.parametrize("threshold", [None, 1e-3, 0.01])
def test_identical_with_transition_min_prob(threshold: float | None) -> None:
    """librosa 1.0's transition_min_prob on speech-like windows (its default: every test above)."""
    rng = np.random.default_rng(17)
    kinds = ("voice", "chirp", "noise", "voice")
    batch = np.stack([signal(k, 16000, 16000, rng.uniform(90, 250), rng) for k in kinds])
    params = {"fmin": 60.0, "fmax": 500.0, "frame_length": 1024, "transition_min_prob": threshold}
    assert_identical(fast(batch, 16000, **params), reference(batch, 16000, **params))


def test_a_transition_min_prob_that_cuts_off_a_state_names_the_largest_that_does_not() -> None:
    settings = _fastpyin.PyinSettings(transition_min_prob=0.3)
    with pytest.raises(InvalidParameterError, match=r"transition_min_prob=0\.3 .* at most 0\.0"):
        _fastpyin.PyinModel(16000, 60.0, 500.0, 1024, 256, settings=settings)


def test_auto_ranks_fastpyin_right_after_acpitch_and_librosa_stays_available() -> None:
    """librosa.pyin's exact values are the first fallback of the CPU default."""
    ranked = [c.spec.name for c in AudioFeatureService({"device": "cpu"}).resolution("f0").ranked]
    assert ranked[:2] == ["acpitch", "fastpyin"]
    assert "librosa" in ranked


def test_rejects_options() -> None:
    with pytest.raises(ConfigError, match="takes no options"):
        AudioFeatureService({"backends": {"f0": "fastpyin"}, "fastpyin": {"model": "x"}})


def test_fmin_too_low_for_the_frame_says_what_to_change() -> None:
    with pytest.raises(InvalidParameterError, match="frame_length"):
        _fastpyin.PyinModel(16000, 20.0, 500.0, 512, 128)
