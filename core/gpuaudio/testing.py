"""Test helpers for gpuaudio and its plugins (also a pytest plugin: ``-p gpuaudio.testing``).

Plugin authors subclass one conformance class per feature in their own test suite::

    from gpuaudio.testing import MelBackendConformance

    class TestMyMel(MelBackendConformance):
        backend = "mybackend"          # the BackendSpec.name your entry point registers
        options = {"some": "option"}   # your [mybackend] config table, if any
        rtol = 1e-5                    # tolerance against librosa, relative to the peak

Every test goes through `AudioFeatureService` with your backend named in config, so it checks
the whole contract: registration through the entry point, the protocol, librosa's shapes,
dtypes and frame grid, batch invariance, short input, silence and agreement with librosa.
The ``device`` attribute (default ``"cpu"``) picks where the backend runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest

from gpuaudio.backends import BackendSpec
from gpuaudio.device import DeviceInfo, GpuInfo
from gpuaudio.errors import ConfigError
from gpuaudio.plugins import PluginRegistry, make_plugin_manager
from gpuaudio.service import AudioFeatureService

__all__ = [
    "BackendSpecConformance",
    "CqtBackendConformance",
    "F0BackendConformance",
    "MelBackendConformance",
    "StftBackendConformance",
    "fake_gpu",
    "harmonic_tone",
    "log_chirp",
]


def fake_gpu(
    *,
    count: int = 1,
    compute_capability: tuple[int, int] = (9, 0),
    free_mb: float = 40_000,
    total_mb: float = 81_000,
    name: str = "Fake H100",
) -> DeviceInfo:
    """A `DeviceInfo` describing GPUs that are not there, to test selection on a CPU."""
    gpus = tuple(
        GpuInfo(i, name, compute_capability, int(total_mb * 2**20), int(free_mb * 2**20))
        for i in range(count)
    )
    return DeviceInfo(True, "2.x-fake", True, "12.x-fake", gpus)


def harmonic_tone(
    f0: float, sr: int, seconds: float, *, harmonics: int = 5, amplitude: float = 0.3
) -> np.ndarray:
    """A voiced, harmonic-rich tone of constant pitch (float32), the simplest ground truth."""
    t = np.arange(int(sr * seconds)) / sr
    tone = np.zeros_like(t)
    for k in range(1, harmonics + 1):
        tone += np.sin(2 * np.pi * f0 * k * t) / k
    peak = float(np.max(np.abs(tone))) or 1.0
    return (amplitude * tone / peak).astype(np.float32)


def log_chirp(f_start: float, f_stop: float, sr: int, seconds: float) -> np.ndarray:
    """An exponential sine sweep (float32, amplitude 0.3): its pitch at time t is
    ``f_start * (f_stop / f_start) ** (t / seconds)``, so a frame late reads as a pitch error."""
    t = np.arange(int(sr * seconds)) / sr
    rate = math.log(f_stop / f_start) / seconds
    phase = 2 * np.pi * f_start * (np.exp(rate * t) - 1) / rate
    return (0.3 * np.sin(phase)).astype(np.float32)


def assert_on_time(error_at: Callable[[int], float], lags: int = 3) -> None:
    """Assert that ``error_at(lag)``, the error of a backend taken to be `lag` frames late
    (negative: early), is smallest at 0 among ``[-lags, lags]``."""
    lag = min(range(-lags, lags + 1), key=error_at)
    assert lag == 0, f"frames are {abs(lag)} hop(s) {'late' if lag > 0 else 'early'}"


class BackendSpecConformance:
    """What a backend's registration must honour, checked without computing anything (so it
    runs where the backend cannot, e.g. a CUDA-only backend on a CPU machine): registered
    through an entry point, for this plugin API, and with options that are checked up front.

    Set `backend` and `feature`; `options` is a valid config table of the backend.
    """

    backend: ClassVar[str] = ""
    feature: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}

    @classmethod
    def registry(cls) -> PluginRegistry:
        """The plugins under test: the installed ones (override to add an in-process one)."""
        return make_plugin_manager()

    @classmethod
    def spec(cls) -> BackendSpec:
        """The backend's spec as the installed plugins register it."""
        if not cls.backend:
            raise TypeError(f"{cls.__name__} must set the class attribute 'backend'")
        registry = cls.registry()
        found = [s for s in registry.specs(cls.feature) if s.name == cls.backend]  # type: ignore[arg-type]
        failures = "; ".join(f"{f.plugin}: {f.error}" for f in registry.failures)
        assert found, (
            f"no {cls.feature} backend {cls.backend!r} registered ({failures or 'no failures'})"
        )
        return found[0]

    def test_registered_through_an_entry_point(self) -> None:
        spec = self.spec()
        assert spec.plugin, "spec must come from an entry point"
        assert spec.api_compatible
        assert spec.description, "describe the backend for `gpuaudio plugins`"

    def test_options_are_checked_up_front(self) -> None:
        spec = self.spec()
        spec.parse_options(self.options)  # the class's table is valid
        with pytest.raises(ConfigError, match=rf"\[{self.backend}\]"):
            spec.parse_options({**self.options, "no_such_option_zz": 1})


class _Conformance(BackendSpecConformance):
    device: ClassVar[str] = "cpu"
    sr: ClassVar[int] = 16000

    @classmethod
    def service(cls) -> AudioFeatureService:
        """A service whose `feature` is served by the backend under test, without fallback."""
        if not cls.backend:
            raise TypeError(f"{cls.__name__} must set the class attribute 'backend'")
        config: dict[str, Any] = {
            "device": cls.device,
            "fallback": False,
            "backends": {cls.feature: cls.backend},
        }
        if cls.options:
            config[cls.backend] = dict(cls.options)
        return AudioFeatureService(config, registry=cls.registry())

    @pytest.fixture(scope="class")
    @classmethod
    def svc(cls) -> AudioFeatureService:
        return cls.service()

    @classmethod
    def noisy_tone(cls) -> np.ndarray:
        """The suite's test signal: a 1-s harmonic tone at 220 Hz with a little noise."""
        rng = np.random.default_rng(0)
        tone = harmonic_tone(220.0, cls.sr, 1.0)
        return (tone + 0.01 * rng.standard_normal(tone.size)).astype(np.float32)

    @pytest.fixture(scope="class")
    @classmethod
    def signal(cls) -> np.ndarray:
        return cls.noisy_tone()

    def test_registered_and_selected(self, svc: AudioFeatureService) -> None:
        chosen = svc.resolution(self.feature).chosen  # type: ignore[arg-type]
        assert chosen.spec.name == self.backend
        assert chosen.spec.plugin, "spec must come from an entry point"

    def test_provenance_names_the_backend(
        self, svc: AudioFeatureService, signal: np.ndarray
    ) -> None:
        self.compute(svc, signal)
        assert svc.provenance[self.feature].backend == self.backend  # type: ignore[index]

    def test_batch_invariance(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        batch = np.stack([signal, 0.5 * signal[::-1], np.roll(signal, 1234)])
        together = _as_tuple(self.compute(svc, batch))
        for i in range(batch.shape[0]):
            alone = _as_tuple(self.compute(svc, batch[i]))
            for joint, single in zip(together, alone, strict=True):
                self.assert_close(joint[i], single, exact_batch=True)

    def test_short_input(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        short = signal[:300]
        result = _as_tuple(self.compute(svc, short))
        reference = _as_tuple(self.reference(short))
        for ours, ref in zip(result, reference, strict=True):
            assert ours.shape == ref.shape
            assert ours.dtype == ref.dtype

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        raise NotImplementedError

    def reference(self, y: np.ndarray) -> Any:
        raise NotImplementedError

    def assert_close(self, ours: np.ndarray, ref: np.ndarray, *, exact_batch: bool = False) -> None:
        raise NotImplementedError


def _as_tuple(result: Any) -> tuple[np.ndarray, ...]:
    return tuple(result) if isinstance(result, tuple) else (result,)


class _SpectralConformance(_Conformance):
    rtol: ClassVar[float] = 1e-5
    """Max |ours - librosa| / max |librosa| on magnitudes."""
    batch_rtol: ClassVar[float] = 1e-6
    """The same bound between one signal alone and inside a batch."""

    def assert_close(self, ours: np.ndarray, ref: np.ndarray, *, exact_batch: bool = False) -> None:
        assert ours.shape == ref.shape
        assert ours.dtype == ref.dtype
        bound = self.batch_rtol if exact_batch else self.rtol
        scale = float(np.max(np.abs(ref))) or 1.0
        error = float(np.max(np.abs(np.abs(ours) - np.abs(ref)))) / scale
        assert error <= bound, f"relative error {error:.3g} exceeds {bound:.3g}"

    def test_matches_librosa(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        self.assert_close(self.compute(svc, signal), self.reference(signal))

    def test_silence_is_zero(self, svc: AudioFeatureService) -> None:
        silence = np.zeros(self.sr // 2, dtype=np.float32)
        assert float(np.max(np.abs(self.compute(svc, silence)))) <= 1e-6

    def test_frame_timing_on_a_chirp(self, svc: AudioFeatureService) -> None:
        """Frame t is centred at sample t * hop: on a sweep, librosa's frames line up with
        ours at no shift, and a backend a frame early or late is caught."""
        chirp = log_chirp(100.0, 4000.0, self.sr, 1.0)
        ours, ref = np.abs(self.compute(svc, chirp)), np.abs(self.reference(chirp))
        edge, frames = 4, ref.shape[-1]

        def error(lag: int) -> float:  # ours[t + lag] against librosa's frame t
            part = ours[..., edge + lag : frames - edge + lag]
            return float(np.mean(np.abs(part - ref[..., edge : frames - edge])))

        assert_on_time(error)


class StftBackendConformance(_SpectralConformance):
    """Conformance of an STFT backend against ``librosa.stft`` (n_fft=1024, hop=256)."""

    feature = "stft"

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        return svc.stft(y, n_fft=1024, hop_length=256)

    def reference(self, y: np.ndarray) -> Any:
        import librosa

        return librosa.stft(y, n_fft=1024, hop_length=256, pad_mode="constant")


class MelBackendConformance(_SpectralConformance):
    """Conformance of a mel backend against ``librosa.feature.melspectrogram``."""

    feature = "mel"

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        return svc.melspectrogram(y, self.sr, n_fft=1024, hop_length=256, n_mels=64)

    def reference(self, y: np.ndarray) -> Any:
        import librosa

        return librosa.feature.melspectrogram(
            y=y, sr=self.sr, n_fft=1024, hop_length=256, n_mels=64
        )

    def test_fmin_fmax_respected(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        import librosa

        kwargs: dict[str, Any] = {
            "n_fft": 1024, "hop_length": 256, "n_mels": 40, "fmin": 300.0, "fmax": 4000.0
        }  # fmt: skip
        ours = svc.melspectrogram(signal, self.sr, **kwargs)
        self.assert_close(ours, librosa.feature.melspectrogram(y=signal, sr=self.sr, **kwargs))


class CqtBackendConformance(_SpectralConformance):
    """Conformance of a CQT backend against ``librosa.cqt`` (set `rtol` to what you measured)."""

    feature = "cqt"
    rtol = 0.05

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        return svc.cqt(y, self.sr, hop_length=256, n_bins=60)

    def reference(self, y: np.ndarray) -> Any:
        import librosa

        return librosa.cqt(y, sr=self.sr, hop_length=256, n_bins=60)

    def test_fmin_fmax_respected(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        import librosa

        ours = svc.cqt(signal, self.sr, hop_length=256, fmin=110.0, n_bins=36)
        self.assert_close(
            ours, librosa.cqt(signal, sr=self.sr, hop_length=256, fmin=110.0, n_bins=36)
        )


class F0BackendConformance(_Conformance):
    """Conformance of an F0 backend: pyin's grid and dtypes, NaN where unvoiced, the right
    pitch on a tone and on a sweep (frame timing to the hop), and fmin/fmax respected."""

    feature = "f0"
    max_cents: ClassVar[float] = 50.0
    """Median |error| in cents on a 220 Hz harmonic tone and on a sweep."""
    min_voiced: ClassVar[float] = 0.9
    """Fraction of interior frames of the tone that must be voiced."""

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        return svc.extract_f0(y, self.sr, fmin=50.0, fmax=550.0, frame_length=1024)

    def reference(self, y: np.ndarray) -> Any:
        import librosa

        return librosa.pyin(y, sr=self.sr, fmin=50.0, fmax=550.0, frame_length=1024)

    def assert_close(self, ours: np.ndarray, ref: np.ndarray, *, exact_batch: bool = False) -> None:
        assert ours.shape == ref.shape
        assert ours.dtype == ref.dtype
        if ours.dtype == np.bool_:
            assert np.mean(ours == ref) >= 0.98
        else:
            np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3, equal_nan=True)

    def test_pyin_shapes_and_dtypes(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        for ours, ref in zip(self.compute(svc, signal), self.reference(signal), strict=True):
            assert ours.shape == ref.shape
            assert ours.dtype == ref.dtype

    def test_pitch_of_a_tone(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        f0, voiced, _ = self.compute(svc, signal)
        interior = slice(3, -3)
        assert np.mean(voiced[interior]) >= self.min_voiced
        cents = 1200 * np.abs(np.log2(f0[interior][voiced[interior]] / 220.0))
        assert np.median(cents) <= self.max_cents

    def test_nan_exactly_where_unvoiced(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        half = np.concatenate([signal, np.zeros_like(signal)])
        f0, voiced, prob = self.compute(svc, half)
        assert voiced.any() and not voiced.all()
        np.testing.assert_array_equal(np.isnan(f0), ~voiced)
        assert np.all(f0[voiced] > 0)
        assert np.all(np.isfinite(prob) & (prob >= 0) & (prob <= 1))

    def test_silence_is_unvoiced(self, svc: AudioFeatureService) -> None:
        f0, voiced, _ = self.compute(svc, np.zeros(self.sr // 2, dtype=np.float32))
        assert not voiced.any()
        assert np.isnan(f0).all()

    def test_frame_timing_on_a_chirp(self, svc: AudioFeatureService) -> None:
        """Frame t is centred at sample t * hop_length: on a sweep of 1600 cents a second
        (26 cents a frame) the pitch is right at no shift, and a frame late is caught."""
        seconds, hop = 1.5, 256
        chirp = log_chirp(110.0, 440.0, self.sr, seconds)
        chirp = chirp + 0.5 * log_chirp(220.0, 880.0, self.sr, seconds)  # a harmonic
        f0, voiced, _ = svc.extract_f0(
            chirp, self.sr, fmin=50.0, fmax=1000.0, frame_length=1024, hop_length=hop
        )
        frames = np.arange(f0.size)
        edge = 8
        interior = (frames >= edge) & (frames < f0.size - edge) & voiced
        assert interior.mean() >= 0.5 * self.min_voiced, "a sweep must be mostly voiced"

        def error(lag: int) -> float:  # frame t against the sweep's pitch at frame t - lag
            truth = 110.0 * 4.0 ** ((frames[interior] - lag) * hop / self.sr / seconds)
            return float(np.median(np.abs(1200 * np.log2(f0[interior] / truth))))

        assert_on_time(error)
        assert error(0) <= self.max_cents

    def test_fmin_fmax_respected(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        """A 220 Hz tone analysed with a range above it (300-600 Hz) and below it (60-150 Hz):
        no voiced frame may report a pitch outside the range (a semitone of slack)."""
        slack = 2 ** (1 / 12)
        for fmin, fmax in ((300.0, 600.0), (60.0, 150.0)):
            f0, voiced, _ = svc.extract_f0(signal, self.sr, fmin=fmin, fmax=fmax, frame_length=1024)
            inside = (f0[voiced] >= fmin / slack) & (f0[voiced] <= fmax * slack)
            assert inside.all(), f"pitches outside [{fmin}, {fmax}] Hz: {f0[voiced][~inside]}"


# -- pytest plugin hooks -------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``gpu`` marker."""
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU; skipped where none is present")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``@pytest.mark.gpu`` tests on machines without a usable CUDA device."""
    from gpuaudio.device import probe

    info = probe()
    if info.cuda_available and info.gpus:
        return
    skip = pytest.mark.skip(reason=f"needs a CUDA GPU; {info.describe()}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
