"""extract_f0 takes librosa.pyin's full signature (issue 14 item 6): same names and defaults;
the pyin backends give librosa.pyin's exact result for non-default values, any other backend
refuses a value it cannot honour by name, and fill_na works for every backend."""

from __future__ import annotations

import importlib.util
import inspect
import math
from importlib.metadata import version

import librosa
import numpy as np
import pytest

from gpuaudio import AudioFeatureService, BackendSpec, F0Frames, InvalidParameterError, hookimpl
from gpuaudio.device import CPU_ONLY
from gpuaudio.plugins import make_plugin_manager

SR = 16000
GRID = {"fmin": 60.0, "fmax": 500.0, "frame_length": 1024}
PYIN_BACKENDS = ("librosa", "fastpyin")
SPARSE_VITERBI = "transition_min_prob" in inspect.signature(librosa.pyin).parameters
"""librosa >= 1.0 (.ci/py312): pyin takes transition_min_prob; librosa 0.11 (the main venv) does
not, and the tests of either case run in the job that has it."""


def glide(seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """A pitch glide after a noisy silence: voiced and unvoiced frames both."""
    t = np.arange(int(seconds * SR)) / SR
    tone = 0.5 * np.sin(2 * np.pi * (140 + 60 * t) * t) * (t > 0.15)
    noise = 0.02 * np.random.default_rng(seed).standard_normal(t.size)
    return (tone + noise).astype(np.float32)


class _V10Backend:
    """An F0 backend written for plugin API 1.0: only the protocol's keywords."""

    name = "v10"

    def __init__(self, context):
        self.context = context

    def f0(self, y, sr, *, fmin, fmax, frame_length, hop_length):
        frames = 1 + y.shape[-1] // hop_length
        voiced = np.zeros((y.shape[0], frames), dtype=bool)
        voiced[:, ::2] = True
        f0 = np.where(voiced, 200.0, np.nan)
        return F0Frames(f0, voiced, voiced.astype(np.float64))


class _V10Plugin:
    @hookimpl
    def gpuaudio_f0_backends(self):
        return [BackendSpec("v10", "f0", f"{__name__}:_V10Backend", priority=99)]


def service_for(backend: str) -> AudioFeatureService:
    registry = make_plugin_manager()
    registry.register(_V10Plugin(), name="v10plugin")
    return AudioFeatureService(
        {"backends": {"f0": backend}, "device": "cpu"}, registry=registry, device_info=CPU_ONLY
    )


# crepe (and tensorrt, its subclass with the same f0) on the CPU, where its plugin is installed
HAVE_CREPE = importlib.util.find_spec("gpuaudio_crepe") is not None
CREPE = pytest.param(
    "crepe", marks=pytest.mark.skipif(not HAVE_CREPE, reason="gpuaudio-crepe not installed")
)


@pytest.fixture(scope="module")
def services() -> dict[str, AudioFeatureService]:
    names = (*PYIN_BACKENDS, "acpitch", "v10") + (("crepe",) if HAVE_CREPE else ())
    return {name: service_for(name) for name in names}


def test_every_pyin_keyword_is_accepted_with_librosas_default():
    ours = inspect.signature(AudioFeatureService.extract_f0).parameters
    for name, param in inspect.signature(librosa.pyin).parameters.items():
        if name in ("y", "sr"):
            continue
        assert name in ours, name
        assert ours[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        if name in ("fmin", "fmax", "win_length"):  # required by librosa; its own marker
            continue
        mine, theirs = ours[name].default, param.default
        assert mine == theirs or (math.isnan(mine) and math.isnan(theirs)), name


NON_DEFAULT = [
    {"n_thresholds": 37, "beta_parameters": (1.5, 9.0)},
    {"boltzmann_parameter": 3.5, "resolution": 0.05},
    {"resolution": 1.0},  # an even transition width: a lopsided band
    {"max_transition_rate": 0.0, "pad_mode": "mean"},
    {"max_transition_rate": 20.0, "switch_prob": 0.1, "no_trough_prob": 0.05},
    {"fill_na": None},
    {"fill_na": 0.0, "switch_prob": 0.3},
    {"center": False},
    {"pad_mode": "reflect"},
    {"center": False, "fill_na": -1.0, "n_thresholds": 50},
]


@pytest.mark.parametrize("backend", PYIN_BACKENDS)
@pytest.mark.parametrize("kwargs", NON_DEFAULT, ids=lambda kw: ",".join(kw))
def test_pyin_backends_give_librosas_exact_result(services, backend, kwargs):
    y = np.stack([glide(seed=1), glide(0.5, seed=2)[::-1].copy()])
    want = librosa.pyin(y, sr=SR, **GRID, **kwargs)
    got = services[backend].extract_f0(y, SR, **GRID, **kwargs)
    assert services[backend].provenance["f0"].backend == backend
    for mine, theirs in zip(got, want, strict=True):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)
    assert got[1].any() and not got[1].all()  # both voiced and unvoiced frames compared


@pytest.mark.skipif(not SPARSE_VITERBI, reason="librosa < 1.0: no transition_min_prob")
@pytest.mark.parametrize("backend", PYIN_BACKENDS)
@pytest.mark.parametrize("threshold", [None, 0, 1e-3, 0.01, 0.02])
def test_transition_min_prob_gives_librosa_1s_exact_result(services, backend, threshold):
    y = np.stack([glide(seed=3), glide(0.5, seed=4)[::-1].copy()])
    want = librosa.pyin(y, sr=SR, **GRID, transition_min_prob=threshold)
    got = services[backend].extract_f0(y, SR, **GRID, transition_min_prob=threshold)
    for mine, theirs in zip(got, want, strict=True):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.skipif(not SPARSE_VITERBI, reason="librosa < 1.0: no transition_min_prob")
@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ("librosa", r"librosa\.pyin refused the parameters: Empty transition matrix"),
        ("fastpyin", r"transition_min_prob=0\.5 leaves pyin states without any transition"),
    ],
)
def test_a_transition_min_prob_that_cuts_off_a_state_is_refused(services, backend, message):
    with pytest.raises(InvalidParameterError, match=message):
        services[backend].extract_f0(glide(), SR, **GRID, transition_min_prob=0.5)


@pytest.mark.skipif(SPARSE_VITERBI, reason="librosa >= 1.0 takes transition_min_prob")
@pytest.mark.parametrize("backend", PYIN_BACKENDS)
def test_transition_min_prob_needs_librosa_1_unless_it_means_every_transition(services, backend):
    y = glide()
    want = librosa.pyin(y, sr=SR, **GRID)  # librosa 0.11: every transition considered
    for threshold in (None, 0, 1e-4):
        got = services[backend].extract_f0(y, SR, **GRID, transition_min_prob=threshold)
        for mine, theirs in zip(got, want, strict=True):
            np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(InvalidParameterError) as error:
        services[backend].extract_f0(y, SR, **GRID, transition_min_prob=1e-3)
    message = str(error.value)
    assert "transition_min_prob=0.001 needs librosa >= 1.0" in message
    assert f"installed librosa {version('librosa')}" in message


def test_win_length_has_no_effect_and_warns_as_librosa(services):
    y = glide()
    with pytest.warns(FutureWarning, match="win_length"):
        got = services["fastpyin"].extract_f0(y, SR, **GRID, win_length=512)
    np.testing.assert_array_equal(got[0], services["fastpyin"].extract_f0(y, SR, **GRID)[0])


@pytest.mark.parametrize("backend", ["acpitch", "v10", CREPE])
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"switch_prob": 0.2}, "switch_prob=0.2"),
        ({"beta_parameters": (1, 9)}, "beta_parameters=(1.0, 9.0)"),
        ({"fill_na": None}, "fill_na=None"),
        ({"center": False}, "center=False"),
        ({"pad_mode": "reflect"}, "pad_mode='reflect'"),
        ({"transition_min_prob": None}, "transition_min_prob=None"),
    ],
)
def test_a_backend_that_cannot_honour_a_value_refuses_it_by_name(services, backend, kwargs, named):
    with pytest.raises(InvalidParameterError) as error:
        services[backend].extract_f0(glide(), SR, **GRID, **kwargs)
    assert f"the {backend} F0 backend cannot honour {named}" in str(error.value)


def test_a_default_value_passes_a_backend_that_does_not_declare_it(services):
    f0, voiced, _ = services["v10"].extract_f0(
        glide(), SR, **GRID, switch_prob=0.01, beta_parameters=[2, 18], center=True
    )
    assert voiced.any() and np.isnan(f0[~voiced]).all()


@pytest.mark.parametrize("backend", [*PYIN_BACKENDS, "acpitch", "v10", CREPE])
def test_fill_na_works_for_every_backend(services, backend):
    y = glide()
    nan_f0, voiced, prob = services[backend].extract_f0(y, SR, **GRID)
    filled, voiced_again, prob_again = services[backend].extract_f0(y, SR, **GRID, fill_na=-7.5)
    assert voiced.any() and not voiced.all()
    assert np.isnan(nan_f0[~voiced]).all()
    assert (filled[~voiced] == -7.5).all()
    np.testing.assert_array_equal(filled[voiced], nan_f0[voiced])
    np.testing.assert_array_equal(voiced_again, voiced)
    np.testing.assert_array_equal(prob_again, prob)


# its own test: torch tensors need torch, which the Python 3.12 job (.ci/py312) lacks
@pytest.mark.parametrize("backend", [*PYIN_BACKENDS, "acpitch", "v10", CREPE])
def test_fill_na_reaches_a_tensor_result(services, backend):
    tensor_f0, tensor_voiced, _ = services[backend].extract_f0(
        glide(), SR, **GRID, fill_na=0.0, as_tensor=True
    )
    assert (tensor_f0[~tensor_voiced] == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_thresholds": 0}, "n_thresholds must be a positive integer"),
        ({"beta_parameters": (2,)}, "beta_parameters must be two numbers"),
        ({"beta_parameters": (2, -1)}, r"beta_parameters\[1\] must be a finite number > 0"),
        ({"switch_prob": 1.5}, "switch_prob must be a finite number >= 0, <= 1"),
        ({"resolution": 0}, "resolution must be a finite number > 0"),
        ({"transition_min_prob": -1e-4}, "transition_min_prob must be None or a finite number"),
        ({"transition_min_prob": math.nan}, "transition_min_prob must be None or a finite"),
        ({"fill_na": "zero"}, "fill_na must be a number"),
        ({"pad_mode": "empty"}, "pad_mode must be one of"),
        ({"center": "yes"}, "center must be True or False"),
        ({"center": False, "frame_length": 16384}, r"frame_length \(16384\) is longer"),
    ],
)
def test_bad_values_are_refused_before_any_backend_runs(services, kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        services["v10"].extract_f0(glide(0.5), SR, **{**GRID, **kwargs})


def test_parameters_librosa_pyin_refuses_are_invalid_parameters_for_the_librosa_backend(services):
    """Not a backend failure to fall back from: a pitch band narrower than one hop's move."""
    with pytest.raises(InvalidParameterError, match=r"librosa\.pyin refused the parameters: "):
        services["librosa"].extract_f0(
            glide(), SR, fmin=200.0, fmax=250.0, frame_length=1024, hop_length=1024
        )


def test_fastpyin_refuses_a_resolution_it_cannot_decode_by_name(services):
    with pytest.raises(InvalidParameterError, match=r"resolution=0\.001 gives .* fastpyin"):
        services["fastpyin"].extract_f0(glide(), SR, **GRID, resolution=0.001)
